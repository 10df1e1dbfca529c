"""A CDK cloud assembly (`cdk.out`) read as `cdk deploy` reads it: used by the import of data.all
into a release (`blueprints/dataall`, `installer/dataall.py`) and by the sandbox's conformance
command (`sandbox/conformance.py`). It imports nothing of the project."""
