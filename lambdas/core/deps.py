"""What a step needs to work: settings, the ledger, the release store, CloudFormation.

Built once per cold start from the environment in AWS; tests build it from sandbox clients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lambdas.core.settings import Settings, settings
from lambdas.data import aws
from lambdas.data.ledger import Ledger
from lambdas.data.releases import ReleaseStore
from lambdas.data.stacks import Stacks


@dataclass
class Deps:
    settings: Settings
    ledger: Ledger
    store: ReleaseStore
    stacks: Stacks
    sfn: Any
    sns: Any
    region: str
    account_id: str

    @classmethod
    def from_env(cls, lambda_context: Any) -> Deps:
        config = settings()
        arn = getattr(lambda_context, "invoked_function_arn", "") or ""
        parts = arn.split(":")
        return cls(
            settings=config,
            ledger=Ledger(aws.table(config.ledger_table)),
            store=ReleaseStore(aws.client("s3"), config.artifacts_bucket, config.release_bucket),
            stacks=Stacks(aws.client("cloudformation")),
            sfn=aws.client("stepfunctions"),
            sns=aws.client("sns"),
            region=os.environ.get("AWS_REGION", parts[3] if len(parts) > 4 else ""),
            account_id=parts[4] if len(parts) > 4 else "",
        )
