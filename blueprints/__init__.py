"""The release content: one CDK stack per stage, the release registry, the Lambda code."""

import os

# The CDK's jsii runtime warns on every import under Node 20 (supported here until the
# machines move to Node 22); the build, the tests and the CDK app all import this package.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
