"""`AWS::StepFunctions::StateMachine` in the Step Functions backend that executes.

AWS: a state machine CloudFormation creates is one StartExecution can run. moto's own
CloudFormation puts it in a backend that only stores definitions, so this provider
creates it where the API's executions run, with the definition as CloudFormation builds
it: `DefinitionString`, or `Definition` (an object), or `DefinitionS3Location`, with
`DefinitionSubstitutions` applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sandbox import moto_internals
from sandbox.cloudformation.providers.base import (
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    UnsupportedAttribute,
    handler_message,
)
from sandbox.cloudformation.providers.tags import tag_list, tag_map

TYPE = "AWS::StepFunctions::StateMachine"


class StateMachineProvider(ResourceProvider):
    types = frozenset({TYPE})

    def name_property(self, resource_type: str) -> str | None:
        return "StateMachineName"

    def replacement_properties(self, resource_type: str) -> frozenset[str]:
        return frozenset({"StateMachineName", "StateMachineType"})

    def create(self, request: ResourceRequest) -> Provisioned:
        properties = request.properties
        name = str(properties.get("StateMachineName") or request.physical_name)
        arn = _call(
            lambda: moto_internals.state_machine_create(
                request.stack.region,
                name=name,
                definition=definition(properties, request.stack.account_id),
                role_arn=str(properties.get("RoleArn", "")),
                tags=tag_list(properties.get("Tags"), TYPE),
                logging_configuration=_camel(properties.get("LoggingConfiguration")),
                tracing_configuration=_camel(properties.get("TracingConfiguration")),
            )
        )
        return Provisioned(arn, {"Name": name})

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        properties = request.properties
        _call(
            lambda: moto_internals.state_machine_update(
                request.stack.region,
                current.physical_id,
                definition=definition(properties, request.stack.account_id),
                role_arn=str(properties.get("RoleArn", "")),
                logging_configuration=_camel(properties.get("LoggingConfiguration")),
                tracing_configuration=_camel(properties.get("TracingConfiguration")),
            )
        )
        tags, before = tag_map(properties.get("Tags"), TYPE), tag_map(previous.get("Tags"), TYPE)
        if tags != before:
            _call(
                lambda: moto_internals.state_machine_retag(
                    request.stack.region, current.physical_id, tags, removed=sorted(set(before) - set(tags))
                )
            )
        return Provisioned(current.physical_id, current.state)

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        _call(lambda: moto_internals.state_machine_delete(request.stack.region, current.physical_id))

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        if attribute == "Arn":
            return current.physical_id
        if attribute == "Name":
            return current.state["Name"]
        raise UnsupportedAttribute(attribute)


def definition(properties: Mapping[str, Any], account_id: str) -> str:
    """The ASL text CloudFormation hands Step Functions."""
    if "DefinitionString" in properties:
        text = str(properties["DefinitionString"])
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        location = properties["DefinitionS3Location"]
        try:
            text = moto_internals.s3_object(location["Bucket"], location["Key"], account_id).decode()
        except KeyError as error:
            raise ResourceFailed(
                handler_message(f"Definition not found at {error.args[0]}", service="S3", status=404)
            ) from error
    else:
        raise ResourceFailed(
            handler_message(
                "Properties validation failed: one of DefinitionString, Definition or DefinitionS3Location is required"
            )
        )
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        replacement = value if isinstance(value, str) else json.dumps(value)
        text = text.replace("${" + key + "}", replacement)
    return text


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase configuration as the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _call(call: Any) -> Any:
    try:
        return call()
    except ResourceFailed:
        raise
    except Exception as error:
        details = moto_internals.service_error(error)
        message = details[1] if details else str(error)
        raise ResourceFailed(handler_message(message, service="AWSStepFunctions", status=400)) from error
