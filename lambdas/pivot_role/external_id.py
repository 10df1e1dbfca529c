"""`Custom::PivotRoleExternalId`: the external id, generated once, kept in an SSM SecureString."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from lambdas.core.cfn_response import Outcome
from lambdas.core.observability import logger
from lambdas.data.aws import ClientError
from lambdas.pivot_role.common import (
    EXTERNAL_ID_TYPE,
    OWNER_TAG,
    PARAMETER_NAME,
    ExternalIdProperties,
    Services,
    code_of,
    tags_of,
)


class ExternalIds:
    """The external id: generated once, kept in an SSM SecureString, stable across updates."""

    def __init__(self, services: Services) -> None:
        self.ssm = services.ssm
        self.services = services

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        request, owner = event["RequestType"], str(event["StackId"])
        if request == "Delete":
            physical = str(event.get("PhysicalResourceId", ""))
            retain = str((event.get("ResourceProperties") or {}).get("Retain", "")).lower() == "true"
            self.delete(physical, owner, retain=retain)
            return Outcome(physical)
        props = ExternalIdProperties.parse(event.get("ResourceProperties"), EXTERNAL_ID_TYPE)
        previous = str(event.get("PhysicalResourceId", "")) if request == "Update" else ""
        old_key = str((event.get("OldResourceProperties") or {}).get("KeyId", ""))
        self.ensure(props, owner, copy_from=previous, rekey=request == "Update" and old_key != props.key_id)
        name = props.parameter_name
        arn = self.services.arn("ssm", f"parameter{name}", region=self.services.region)
        return Outcome(name, {"ParameterName": name, "ParameterArn": arn})

    def ensure(self, props: ExternalIdProperties, owner: str, *, copy_from: str = "", rekey: bool = False) -> None:
        name = props.parameter_name
        current = self.value(name)
        # A renamed parameter keeps the id: the roles in the environment accounts trust it.
        source = self.value(copy_from) if copy_from and copy_from != name else None
        value = source or current or secrets.token_urlsafe(32)
        if current is None or value != current or rekey:
            arguments: dict[str, Any] = {
                "Name": name,
                "Value": value,
                "Type": "SecureString",
                "Description": props.description,
                "Tier": "Standard",
                "Overwrite": current is not None,
            }
            if props.key_id:
                arguments["KeyId"] = props.key_id
            self.ssm.put_parameter(**arguments)
            logger.info("stored the external id", extra={"parameter": name, "new": current is None})
        self.ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=name, Tags=[{"Key": OWNER_TAG, "Value": owner}]
        )

    def value(self, name: str) -> str | None:
        try:
            return str(self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as error:
            if code_of(error) == "ParameterNotFound":
                return None
            raise

    def delete(self, name: str, owner: str, *, retain: bool) -> None:
        if retain:
            logger.info("the external id is retained (Retain=true)", extra={"parameter": name})
            return
        if not PARAMETER_NAME.match(name):
            return
        try:
            tags = tags_of(self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
        except ClientError as error:
            if code_of(error) in ("InvalidResourceId", "ParameterNotFound"):
                return
            raise
        if tags.get(OWNER_TAG) != owner:
            logger.warning("the parameter belongs to another stack; kept", extra={"parameter": name})
            return
        try:
            self.ssm.delete_parameter(Name=name)
        except ClientError as error:
            if code_of(error) != "ParameterNotFound":
                raise
        logger.info("deleted the external id", extra={"parameter": name})
