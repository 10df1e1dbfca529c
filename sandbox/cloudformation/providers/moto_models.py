"""Resource types moto's CloudFormation knows, created through moto's own models.

`create_from_cloudformation_json` / `update_from_cloudformation_json` / delete of moto's
`CloudFormationModel` classes put the resources in moto's service backends, where every
other API sees them. What moto gets wrong for CloudFormation is mended here, each with
the AWS behaviour it restores:

- a non-empty S3 bucket cannot be deleted (moto deletes it with its objects);
- an S3 bucket's `VersioningConfiguration` is applied (moto's model ignored it, and
  GetBucketVersioning answered no status: drift detection saw every versioned bucket drift);
- `AWS::SSM::Parameter` without `Name` gets a generated one (moto needs it);
- `AWS::KMS::Key` without `KeyPolicy` gets the default key policy (moto needs one), the
  policy is kept as JSON text (GetKeyPolicy answers text), and `Fn::GetAtt KeyId`;
- `AWS::EC2::Subnet` `Fn::GetAtt AvailabilityZone` and `VpcId` (moto has neither);
- `AWS::SSM::Parameter` `Fn::GetAtt Type` and `Value`;
- `AWS::Logs::LogGroup` `RetentionInDays` as the integer of the type's schema (a `Ref` to
  a Number parameter is text, which moto kept: DescribeLogGroups answered "90");
- `AWS::ApiGateway::RestApi` `EndpointConfiguration` in the API's keys (`types`), so
  GetRestApi answers the endpoint type (moto kept CloudFormation's `Types`, and answered none);
- `AWS::ApiGateway::RestApi` `DisableExecuteApiEndpoint` applied (moto's model ignored it), and an update of
  the API changes it in place (its name, description and that flag), keeping its id, resources and methods, as
  the handler does (moto's model cannot update, and a remake gave the API a new id its methods did not name);
- `AWS::ApiGateway::RestApi` `Policy` (the resource policy, which moto's model ignored: GetRestApi answered
  none, and a PRIVATE API, which API Gateway deploys only with one, could not be deployed), put as JSON
  text with its `execute-api:/...` shorthand expanded to the API's ARN, as API Gateway keeps it; an update
  puts the new policy and endpoint configuration (`Types`, `VpcEndpointIds`) in place;
- `AWS::EC2::VPC` `EnableDnsSupport` and `EnableDnsHostnames` applied (moto's model ignored them), and changed in
  place by an update;
- `AWS::EC2::VPCEndpoint` updated in place (ModifyVpcEndpoint: subnets, security groups, route tables, policy),
  keeping its id (moto's model cannot update, and a remake gave the endpoint a new id);
- `AWS::Lambda::Permission`'s statement carries the physical id as its `Sid`, so the
  delete removes it (moto drew a random one, and the delete could not find it);
- `Tags`, in whichever shape the type documents, are applied through the service's own tag
  API rather than by moto's models (its SSM parameter and KMS key models failed on
  CloudFormation's shapes, others ignored tags): see `tags`;
- types moto's models create but cannot delete (route tables, internet gateways, managed
  policies ...) are deleted through the service's API, so a stack delete leaves nothing.

`AWS::RDS::DBInstance` is not made here: see `services.DBInstance`; nor are Elastic Load Balancing v2's
balancers, target groups and listeners, and ECS's task definitions and services: see `load_balancers`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from sandbox import moto_internals
from sandbox.cloudformation.providers.base import (
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    UnsupportedAttribute,
    handler_message,
)
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.tags import (
    MOTO_MODEL_TAGGERS,
    TagTarget,
    apply_tags,
    moto_model_tags,
    tag_map,
)


@dataclass
class MotoResource:
    """A moto model, the properties and name it was made with, and its region."""

    model: Any
    properties: dict[str, Any]
    name: str
    region: str


def _default_key_policy(account_id: str, partition: str) -> dict[str, Any]:
    """The key policy AWS gives a KMS key created without one."""
    return {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


class MotoModelProvider(ResourceProvider):
    def __init__(self, clients: ServiceClients) -> None:
        self._clients = clients
        self.types = moto_internals.cfn_model_types()

    # ------------------------------------------------------------------ interface
    def name_property(self, resource_type: str) -> str | None:
        return moto_internals.cfn_name_property(resource_type)

    def create(self, request: ResourceRequest) -> Provisioned:
        name = self._name(request, default=request.physical_name)
        properties = self._complete(request, name)
        model = _moto_call(
            request.resource_type,
            lambda: moto_internals.cfn_create(
                request.resource_type,
                name,
                self._for_moto(request.resource_type, properties),
                account_id=request.stack.account_id,
                region=request.stack.region,
                logical_id=request.logical_id,
                stack_id=request.stack.stack_id,
            ),
        )
        provisioned = Provisioned(
            moto_internals.cfn_physical_id(model) or name,
            MotoResource(model, properties, name, request.stack.region),
        )
        self._apply_what_moto_ignores(request, provisioned.physical_id)
        self._tag(request, provisioned, before={})
        return provisioned

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        state: MotoResource = current.state
        in_place = _UPDATED_THROUGH_THE_API.get(request.resource_type)
        if in_place is not None:
            region = request.stack.region
            _api_call(
                request.resource_type,
                lambda: in_place(self._clients, region, current.physical_id, request.properties, previous),
            )
            properties = self._complete(request, state.name)
            updated = Provisioned(current.physical_id, MotoResource(state.model, properties, state.name, state.region))
            self._tag(request, updated, before=tag_map(previous.get("Tags"), request.resource_type))
            return updated
        if not moto_internals.cfn_supports_update(request.resource_type):
            # moto cannot change this type in place: remove and make it again under the
            # same name, as CloudFormation's handler would have changed it
            self.delete(request, current, snapshot=False)
            return self.create(replace(request, physical_name=state.name))
        name = self._name(request, default=state.name)
        properties = self._complete(request, name)
        model = _moto_call(
            request.resource_type,
            lambda: moto_internals.cfn_update(
                request.resource_type,
                state.model,
                name,
                self._for_moto(request.resource_type, properties),
                account_id=request.stack.account_id,
                region=request.stack.region,
            ),
        )
        physical_id = moto_internals.cfn_physical_id(model) or current.physical_id
        self._apply_what_moto_ignores(request, physical_id)
        updated = Provisioned(physical_id, MotoResource(model, properties, name, state.region))
        self._tag(request, updated, before=tag_map(previous.get("Tags"), request.resource_type))
        return updated

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        state: MotoResource = current.state
        kind = request.resource_type
        if kind == "AWS::S3::Bucket":
            self._refuse_non_empty_bucket(current.physical_id, request.stack.region)
        if kind == "AWS::IAM::Role":
            _api_call(
                kind,
                lambda: _detach_managed_policies(
                    self._clients, request.stack.region, current.physical_id, state.properties
                ),
            )
        deleted = _moto_call(
            kind,
            lambda: moto_internals.cfn_delete(
                kind,
                state.model,
                copy.deepcopy(state.properties),
                account_id=request.stack.account_id,
                region=request.stack.region,
            ),
            missing_is_done=True,
        )
        api_delete = _API_DELETES.get(kind)
        if not deleted and api_delete is not None:
            _api_call(
                kind,
                lambda: api_delete(self._clients, request.stack.region, current.physical_id, state.properties),
            )

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        state: MotoResource = current.state
        override = _ATTRIBUTES.get((resource_type, attribute))
        if override is not None:
            return override(self._clients, current, state)
        try:
            return moto_internals.cfn_attribute(state.model, attribute)
        except LookupError as error:
            raise UnsupportedAttribute(attribute) from error

    # ------------------------------------------------------------------ mending moto
    def _complete(self, request: ResourceRequest, name: str) -> dict[str, Any]:
        properties = dict(request.properties)
        if request.resource_type == "AWS::SSM::Parameter":
            properties.setdefault("Name", name)
        if request.resource_type == "AWS::Lambda::Permission":
            # CloudFormation adds the statement under the resource's physical id, and
            # removes that statement on delete.
            properties["StatementId"] = name
        if request.resource_type == "AWS::Logs::LogGroup" and properties.get("RetentionInDays") is not None:
            # An integer in the type's schema; a `Ref` to a Number parameter gives text, which
            # CloudFormation converts and moto would keep (DescribeLogGroups answering "90").
            properties["RetentionInDays"] = int(properties["RetentionInDays"])
        if request.resource_type == "AWS::ApiGateway::RestApi" and properties.get("EndpointConfiguration"):
            # moto keeps the object as given; its API answers the API's own (camelCase) keys.
            given = properties["EndpointConfiguration"]
            properties["EndpointConfiguration"] = {
                key: given[name]
                for name, key in (("Types", "types"), ("VpcEndpointIds", "vpcEndpointIds"))
                if name in given
            }
        if request.resource_type == "AWS::KMS::Key":
            stack = request.stack
            policy = properties.get("KeyPolicy") or _default_key_policy(stack.account_id, stack.partition)
            properties["KeyPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
        return properties

    @staticmethod
    def _for_moto(resource_type: str, properties: dict[str, Any]) -> dict[str, Any]:
        """A copy for moto's model: `Tags` left out where the sandbox tags through the
        service's API (see `tags`), else in the shape the model reads."""
        given = copy.deepcopy(properties)
        if "Tags" in given:
            if resource_type in MOTO_MODEL_TAGGERS:
                del given["Tags"]
            else:
                given["Tags"] = moto_model_tags(resource_type, given["Tags"])
        return given

    def _tag(self, request: ResourceRequest, provisioned: Provisioned, *, before: Mapping[str, str]) -> None:
        tagger = MOTO_MODEL_TAGGERS.get(request.resource_type)
        if tagger is None:
            return
        tags = tag_map(request.properties.get("Tags"), request.resource_type)
        if not tags and not before:
            return
        stack = request.stack
        target = TagTarget(
            provisioned.physical_id,
            stack.region,
            stack.account_id,
            stack.partition,
            lambda attribute: self.get_att(request.resource_type, provisioned, attribute),
        )
        try:
            _api_call(request.resource_type, lambda: apply_tags(self._clients, tagger, target, tags, before))
        except UnsupportedAttribute as error:
            raise ResourceFailed(
                handler_message(f"Property Tags of {request.resource_type}: the sandbox cannot name it to tag it")
            ) from error

    def _apply_what_moto_ignores(self, request: ResourceRequest, physical_id: str) -> None:
        apply = _APPLIED_THROUGH_THE_API.get(request.resource_type)
        if apply is not None:
            region = request.stack.region
            _api_call(request.resource_type, lambda: apply(self._clients, region, physical_id, request.properties))

    def _name(self, request: ResourceRequest, *, default: str) -> str:
        name_property = self.name_property(request.resource_type)
        if name_property and request.properties.get(name_property):
            return str(request.properties[name_property])
        return default

    def _refuse_non_empty_bucket(self, bucket: str, region: str) -> None:
        """S3 deletes a bucket only once it holds no object, no object version and no delete marker
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html); moto's own delete
        from a template leaves such a bucket in place and reports it deleted."""
        s3 = self._clients("s3", region)
        if s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount", 0):
            raise ResourceFailed(
                handler_message("The bucket you tried to delete is not empty", service="S3", status=409)
            )
        versions = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
        if versions.get("Versions") or versions.get("DeleteMarkers"):
            raise ResourceFailed(
                handler_message(
                    "The bucket you tried to delete is not empty. You must delete all versions in the bucket.",
                    service="S3",
                    status=409,
                )
            )


def is_missing(code: str, status: int) -> bool:
    """A service's "it does not exist" answer, in any of the ways AWS services word it."""
    return (
        status == 404 or code.startswith("NoSuch") or code.endswith(("NotFound", "NotFoundException", "DoesNotExist"))
    )


def _moto_call(resource_type: str, call: Callable[[], Any], *, missing_is_done: bool = False) -> Any:
    """Run a moto model call; a moto error fails the resource with the service's words.

    With `missing_is_done` (a delete), "not found" means the resource is already gone:
    CloudFormation's handlers report such a delete as complete.
    """
    try:
        return call()
    except ResourceFailed:
        raise
    except Exception as error:
        details = moto_internals.service_error(error)
        service = resource_type.split("::")[1]
        if details is not None and missing_is_done and is_missing(details[0], details[2]):
            return True
        if details is not None:
            _code, message, status = details
            raise ResourceFailed(handler_message(f"{message}", service=service, status=status)) from error
        raise ResourceFailed(
            handler_message(
                f"Properties validation failed for resource of type {resource_type}: {type(error).__name__}: {error}"
            )
        ) from error


def _api_call(resource_type: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as error:
        service = resource_type.split("::")[1]
        raise ResourceFailed(
            handler_message(
                error.response["Error"].get("Message", str(error)),
                service=service,
                status=error.response["ResponseMetadata"].get("HTTPStatusCode", 400),
            )
        ) from error


# --------------------------------------------------------------------------- attributes
AttributeOverride = Callable[[ServiceClients, Provisioned, MotoResource], Any]


def _subnet_attribute(field: str) -> AttributeOverride:
    def read(clients: ServiceClients, current: Provisioned, state: MotoResource) -> Any:
        ec2 = clients("ec2", state.region)
        return ec2.describe_subnets(SubnetIds=[current.physical_id])["Subnets"][0][field]

    return read


def _property(name: str) -> AttributeOverride:
    return lambda clients, current, state: state.properties[name]


_ATTRIBUTES: dict[tuple[str, str], AttributeOverride] = {
    ("AWS::EC2::Subnet", "AvailabilityZone"): _subnet_attribute("AvailabilityZone"),
    ("AWS::EC2::Subnet", "VpcId"): _subnet_attribute("VpcId"),
    ("AWS::KMS::Key", "KeyId"): lambda clients, current, state: current.physical_id,
    ("AWS::SSM::Parameter", "Type"): _property("Type"),
    ("AWS::SSM::Parameter", "Value"): _property("Value"),
}


# --------------------------------------------------------------------------- properties moto ignores
ApiApply = Callable[[ServiceClients, str, str, Mapping[str, Any]], None]


def _bucket_versioning(clients: ServiceClients, region: str, bucket: str, properties: Mapping[str, Any]) -> None:
    configuration = properties.get("VersioningConfiguration")
    if isinstance(configuration, Mapping) and configuration.get("Status"):
        clients("s3", region).put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": str(configuration["Status"])}
        )


def _role_managed_policies(clients: ServiceClients, region: str, role: str, properties: Mapping[str, Any]) -> None:
    """A role's `ManagedPolicyArns`, attached (AttachRolePolicy is idempotent): customer managed
    policies and AWS managed ones (CDK's bootstrap gives its CloudFormation execution role
    `AdministratorAccess`). A policy an update drops from the list stays attached here."""
    iam = clients("iam", region)
    arns = [str(arn) for arn in properties.get("ManagedPolicyArns") or []]
    if any(arn.startswith(moto_internals.AWS_MANAGED_POLICY) for arn in arns):
        account = iam.get_role(RoleName=role)["Role"]["Arn"].split(":")[4]
        for arn in arns:
            moto_internals.ensure_aws_managed_policy(arn, account)
    for arn in arns:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def _detach_managed_policies(clients: ServiceClients, region: str, role: str, properties: Mapping[str, Any]) -> None:
    """Before a role's delete, the policies its `ManagedPolicyArns` attached are detached, as
    CloudFormation's role handler does (IAM's DeleteRole refuses a role with attached policies:
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html)."""
    iam = clients("iam", region)
    for arn in properties.get("ManagedPolicyArns") or []:
        try:
            iam.detach_role_policy(RoleName=role, PolicyArn=str(arn))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise


#: properties moto's model takes but does not apply, applied through the service's API
def _rest_api_endpoint(clients: ServiceClients, region: str, api_id: str, properties: Mapping[str, Any]) -> None:
    """`DisableExecuteApiEndpoint` (a boolean, or CloudFormation's text of one from a parameter), and the
    resource `Policy` (an object, or JSON text), put with UpdateRestApi's `replace /policy`: GetRestApi
    answers it as JSON text, as in AWS."""
    disabled = str(properties.get("DisableExecuteApiEndpoint", False)).lower() == "true"
    account = clients("sts", region).get_caller_identity()["Account"]
    moto_internals.apigateway_disable_execute_api_endpoint(region, api_id, disabled, account_id=account)
    policy = properties.get("Policy")
    if policy:
        document = json.loads(policy) if isinstance(policy, str) else copy.deepcopy(dict(policy))
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        _expand_execute_api(document, f"arn:{partition}:execute-api:{region}:{account}:{api_id}")
        clients("apigateway", region).update_rest_api(
            restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(document)}]
        )


def _expand_execute_api(document: dict[str, Any], api_arn: str) -> None:
    """The policy's `execute-api:` shorthand resources as API Gateway keeps them: `execute-api:/*` becomes
    `arn:aws:execute-api:<region>:<account>:<api id>/*`, the rest of the path kept (API Gateway Developer Guide:
    "API Gateway resource policy examples": the shorthand names the API the policy is attached to; GetRestApi
    answers the full ARN)."""
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        for key in ("Resource", "NotResource"):
            value = statement.get(key)
            if isinstance(value, str) and value.startswith("execute-api:"):
                statement[key] = api_arn + value.removeprefix("execute-api:")
            elif isinstance(value, list):
                statement[key] = [
                    api_arn + item.removeprefix("execute-api:")
                    if isinstance(item, str) and item.startswith("execute-api:")
                    else item
                    for item in value
                ]


def _vpc_dns(clients: ServiceClients, region: str, vpc: str, properties: Mapping[str, Any]) -> None:
    """`EnableDnsSupport` and `EnableDnsHostnames` (ModifyVpcAttribute takes one attribute a call), which moto's model
    ignored: DescribeVpcAttribute answered AWS's defaults for a new VPC (support on, host names off) whatever the
    template said. A flag the template leaves out keeps AWS's default."""
    ec2 = clients("ec2", region)
    for name in ("EnableDnsSupport", "EnableDnsHostnames"):
        if properties.get(name) is not None:
            ec2.modify_vpc_attribute(VpcId=vpc, **{name: {"Value": str(properties[name]).lower() == "true"}})


_APPLIED_THROUGH_THE_API: dict[str, ApiApply] = {
    "AWS::S3::Bucket": _bucket_versioning,
    "AWS::IAM::Role": _role_managed_policies,
    "AWS::ApiGateway::RestApi": _rest_api_endpoint,
    "AWS::EC2::VPC": _vpc_dns,
}

ApiUpdate = Callable[[ServiceClients, str, str, Mapping[str, Any], Mapping[str, Any]], None]


def _update_rest_api(
    clients: ServiceClients, region: str, api_id: str, properties: Mapping[str, Any], previous: Mapping[str, Any]
) -> None:
    """UpdateRestApi's `replace` of its name and description, the execute-api endpoint's flag and the resource
    policy, and a new endpoint configuration (its types and VPC endpoints) in place, as UpdateRestApi changes it."""
    operations = [
        {"op": "replace", "path": path, "value": str(properties.get(name) or "")}
        for name, path in (("Name", "/name"), ("Description", "/description"))
        if properties.get(name) != previous.get(name)
    ]
    if operations:
        clients("apigateway", region).update_rest_api(restApiId=api_id, patchOperations=operations)
    given = properties.get("EndpointConfiguration")
    if given and given != previous.get("EndpointConfiguration"):
        account = clients("sts", region).get_caller_identity()["Account"]
        configuration = {
            key: list(given[name])
            for name, key in (("Types", "types"), ("VpcEndpointIds", "vpcEndpointIds"))
            if name in given
        }
        moto_internals.apigateway_set_endpoint_configuration(region, api_id, configuration, account_id=account)
    _rest_api_endpoint(clients, region, api_id, properties)


def _update_vpc(
    clients: ServiceClients, region: str, vpc: str, properties: Mapping[str, Any], previous: Mapping[str, Any]
) -> None:
    """A VPC's DNS flags, changed in place (its CIDR block and tenancy replace it; tags are retagged)."""
    _vpc_dns(clients, region, vpc, properties)


def _update_vpc_endpoint(
    clients: ServiceClients, region: str, endpoint: str, properties: Mapping[str, Any], previous: Mapping[str, Any]
) -> None:
    """ModifyVpcEndpoint: the subnets, security groups and route tables added and removed, a new policy put; the
    endpoint keeps its id, as in AWS (its service, type and VPC replace it). moto's model could not update, and a
    remake gave the endpoint a new id. A new `PrivateDnsEnabled` is not applied (moto's ModifyVpcEndpoint ignores
    it)."""
    params: dict[str, Any] = {}
    for name, add, remove in (
        ("SubnetIds", "AddSubnetIds", "RemoveSubnetIds"),
        ("SecurityGroupIds", "AddSecurityGroupIds", "RemoveSecurityGroupIds"),
        ("RouteTableIds", "AddRouteTableIds", "RemoveRouteTableIds"),
    ):
        now, before = [str(v) for v in properties.get(name) or []], [str(v) for v in previous.get(name) or []]
        if [v for v in now if v not in before]:
            params[add] = [v for v in now if v not in before]
        if [v for v in before if v not in now]:
            params[remove] = [v for v in before if v not in now]
    policy = properties.get("PolicyDocument")
    if policy is not None and policy != previous.get("PolicyDocument"):
        params["PolicyDocument"] = policy if isinstance(policy, str) else json.dumps(policy)
    if params:
        clients("ec2", region).modify_vpc_endpoint(VpcEndpointId=endpoint, **params)


#: Types moto's models cannot update, changed in place through the service's API.
_UPDATED_THROUGH_THE_API: dict[str, ApiUpdate] = {
    "AWS::ApiGateway::RestApi": _update_rest_api,
    "AWS::EC2::VPC": _update_vpc,
    "AWS::EC2::VPCEndpoint": _update_vpc_endpoint,
}


# --------------------------------------------------------------------------- deletes
ApiDelete = Callable[[ServiceClients, str, str, Mapping[str, Any]], None]


def _delete_managed_policy(clients: ServiceClients, region: str, arn: str, properties: Mapping[str, Any]) -> None:
    iam = clients("iam", region)
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for role in entities.get("PolicyRoles", []):
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    for user in entities.get("PolicyUsers", []):
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for group in entities.get("PolicyGroups", []):
        iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def _delete_route(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
    route_table, _, destination = physical_id.partition("~")
    clients("ec2", region).delete_route(RouteTableId=route_table, DestinationCidrBlock=destination)


def _delete_association(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
    ec2 = clients("ec2", region)
    tables = ec2.describe_route_tables(RouteTableIds=[properties["RouteTableId"]])
    for association in tables["RouteTables"][0].get("Associations", []):
        if association.get("SubnetId") == properties["SubnetId"]:
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])


def _detach_gateway(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
    if properties.get("InternetGatewayId"):
        clients("ec2", region).detach_internet_gateway(
            InternetGatewayId=properties["InternetGatewayId"], VpcId=properties["VpcId"]
        )


def _ec2(method: str, parameter: str, *, as_list: bool = False) -> ApiDelete:
    def delete(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
        value: Any = [physical_id] if as_list else physical_id
        getattr(clients("ec2", region), method)(**{parameter: value})

    return delete


def _delete_rest_api(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
    clients("apigateway", region).delete_rest_api(restApiId=physical_id)


def _remove_permission(clients: ServiceClients, region: str, physical_id: str, properties: Mapping[str, Any]) -> None:
    statement_id = physical_id.rsplit(":", 1)[-1] if ":" in physical_id else physical_id
    clients("lambda", region).remove_permission(FunctionName=properties["FunctionName"], StatementId=statement_id)


_API_DELETES: dict[str, ApiDelete] = {
    "AWS::IAM::ManagedPolicy": _delete_managed_policy,
    "AWS::EC2::Route": _delete_route,
    "AWS::EC2::SubnetRouteTableAssociation": _delete_association,
    "AWS::EC2::VPCGatewayAttachment": _detach_gateway,
    "AWS::EC2::RouteTable": _ec2("delete_route_table", "RouteTableId"),
    "AWS::EC2::InternetGateway": _ec2("delete_internet_gateway", "InternetGatewayId"),
    "AWS::EC2::NatGateway": _ec2("delete_nat_gateway", "NatGatewayId"),
    "AWS::EC2::VPCEndpoint": _ec2("delete_vpc_endpoints", "VpcEndpointIds", as_list=True),
    "AWS::EC2::FlowLog": _ec2("delete_flow_logs", "FlowLogIds", as_list=True),
    "AWS::ApiGateway::RestApi": _delete_rest_api,
    "AWS::Lambda::Permission": _remove_permission,
}
