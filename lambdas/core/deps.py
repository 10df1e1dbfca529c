"""What a step needs to work: settings, the ledger, the release store, CloudFormation.

Built once per cold start from the environment in AWS; tests build it from sandbox clients.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lambdas.core.settings import Settings, settings
from lambdas.data import aws
from lambdas.data.ledger import Ledger
from lambdas.data.releases import ReleaseStore
from lambdas.data.stacks import Stacks
from lambdas.release.manifest import OptionValue

#: Between a context value's name and its region, in a run's parameters (`S3PrefixListId@us-east-1`).
REGIONAL_SEPARATOR = "@"


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
    #: (service, region) -> a client of that region, for a stage that lives in another region
    regional_client: Callable[[str, str], Any] = field(default=aws.client, repr=False)
    #: the region of the workflow itself (`region` is the stage's, in `in_region`'s copy)
    home_region: str = ""

    def __post_init__(self) -> None:
        if not self.home_region:
            self.home_region = self.region

    def in_region(self, region: str | None) -> Deps:
        """These deps for a stage in `region`: CloudFormation and the stage's artifacts there; the
        ledger, the release store's reads and everything else stay the workflow's own."""
        if not region or region == self.region:
            return self
        return replace(
            self,
            stacks=Stacks(self.regional_client("cloudformation", region)),
            store=self.store.regional(
                self.regional_client("s3", region), self.settings.regional_bucket(self.account_id, region), region
            ),
            region=region,
        )

    def stage_context(self, params: Mapping[str, OptionValue]) -> dict[str, OptionValue]:
        """A run's context parameters as a stage in these deps' region takes them: away from the
        workflow's region, `AssetsBucket` is the installation's bucket there, and a value the run
        holds for that region (`Name@<region>`, `lambdas.run.region_values`) is `Name`."""
        if not self.away:
            return dict(params)
        suffix = f"{REGIONAL_SEPARATOR}{self.region}"
        regional = {key.removesuffix(suffix): value for key, value in params.items() if key.endswith(suffix)}
        return {**params, **regional, "AssetsBucket": self.store.assets_bucket}

    @property
    def away(self) -> bool:
        """The stage these deps serve lives in another region than the workflow."""
        return self.region != self.home_region

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
