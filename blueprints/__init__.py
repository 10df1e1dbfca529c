"""The release content: the import of data.all's stacks as stages (`dataall/`), what the CDK code
shares (`common`), the packaging of Lambda code (`assets`)."""

import os

# The CDK's jsii runtime warns on every import under Node 20 (supported here until the
# machines move to Node 22); the build, the tests and the CDK app all import this package.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
