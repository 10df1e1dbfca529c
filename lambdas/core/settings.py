"""The environment of the installer Lambdas, typed and checked once per cold start."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    ledger_table: str = Field(min_length=3)
    artifacts_bucket: str = Field(min_length=3)
    release_bucket: str = ""
    resource_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")
    env_name: str = Field(pattern=r"^[a-z][a-z0-9]{0,9}$")
    cloudformation_role_arn: str = ""
    topic_arn: str = ""
    state_machine_arn: str = ""
    pivot_role_provider_arn: str = ""
    frontend_image_provider_arn: str = ""
    #: RequireApproval: a run that would change something waits after Plan for a person's answer
    require_approval: bool = False
    #: ...for at most this long (seconds); no answer ends the run with nothing changed
    approval_timeout: int = Field(default=86400, ge=1)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            ledger_table=os.environ.get("LEDGER_TABLE", ""),
            artifacts_bucket=os.environ.get("ARTIFACTS_BUCKET", ""),
            release_bucket=os.environ.get("RELEASE_BUCKET", ""),
            resource_prefix=os.environ.get("RESOURCE_PREFIX", ""),
            env_name=os.environ.get("ENV_NAME", ""),
            cloudformation_role_arn=os.environ.get("CLOUDFORMATION_ROLE_ARN", ""),
            topic_arn=os.environ.get("TOPIC_ARN", ""),
            state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
            pivot_role_provider_arn=os.environ.get("PIVOT_ROLE_PROVIDER_ARN", ""),
            frontend_image_provider_arn=os.environ.get("FRONTEND_IMAGE_PROVIDER_ARN", ""),
            require_approval=os.environ.get("REQUIRE_APPROVAL", "false") == "true",
            approval_timeout=int(os.environ.get("APPROVAL_TIMEOUT_SECONDS") or 86400),
        )

    def stack_name(self, stage: str) -> str:
        return f"{self.resource_prefix}-{self.env_name}-{stage}"

    def installation_name(self, template: str) -> str:
        """A name the release gives as a template over the installation's names (`/dataall/${EnvName}/…`, as
        CloudFormation's `Fn::Sub` of the stage's `ResourcePrefix` and `EnvName` parameters makes it)."""
        names = {"ResourcePrefix": self.resource_prefix, "EnvName": self.env_name}
        names["ResourcePrefixFirst6"] = self.resource_prefix[:6]  # as Plan gives stages (`planning._context`)
        for name, value in names.items():
            template = template.replace("${" + name + "}", value)
        return template

    def regional_bucket(self, account_id: str, region: str) -> str:
        """The bucket holding, in another region, what a stage there reads: its template and its
        Lambda code (Lambda takes code only from a bucket of the function's own region). At most
        20 + 10 + 12 + 14 + 3 = 59 characters, within S3's 63."""
        return f"{self.resource_prefix}-{self.env_name}-{account_id}-{region}"


@cache
def settings() -> Settings:
    return Settings.from_env()
