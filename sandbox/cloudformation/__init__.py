"""The sandbox's own CloudFormation: AWS's API, statuses and timing, resources in moto.

moto's CloudFormation is synchronous, knows no failure states and drops resource types
it does not know. This one runs each stack operation in the background on a latency
model, with CloudFormation's statuses, events, rollbacks, change sets, exports, custom
resources and drift detection, and creates every resource through moto's models, the
executing Step Functions backend, emulations, or the custom resource's Lambda.

The endpoint is `service.CloudFormationService`. The package itself imports nothing: its
modules import each other by their own names.
"""
