"""The tiny CDK app `test_cdk_cli.py` deploys with the CDK CLI: a queue, an SSM parameter and
a bucket, environment-agnostic as `cdk init` writes it. `python cdk_cli_app.py FIRST SECOND`
synthesizes it twice in one process (jsii starts once): FIRST as first deployed, SECOND, the
update, with the queue's visibility timeout and the parameter's value changed.

The test imports the names below without loading aws_cdk (its import starts jsii's Node.js).
"""

from __future__ import annotations

import sys

STACK = "ProbeStack"
PARAMETER = "/probe/setting"
#: (visibility timeout in seconds, parameter value) of the first deployment and of the update
VERSIONS = ((30, "first"), (45, "second"))


def synthesize(outdir: str, visibility_timeout: int, setting: str) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sqs as sqs
    from aws_cdk import aws_ssm as ssm

    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, STACK)
    sqs.Queue(stack, "Queue", visibility_timeout=cdk.Duration.seconds(visibility_timeout))
    ssm.StringParameter(stack, "Setting", parameter_name=PARAMETER, string_value=setting)
    s3.Bucket(stack, "Bucket", removal_policy=cdk.RemovalPolicy.DESTROY)
    app.synth()


if __name__ == "__main__":
    for outdir, (timeout, value) in zip(sys.argv[1:], VERSIONS, strict=True):
        synthesize(outdir, timeout, value)
