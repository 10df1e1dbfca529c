"""The reaches into moto's internals that the sandbox's CloudFormation makes (the
`cloudformation resource models` section of sandbox/moto_internals.py), each
pinned, so a move of the moto pin shows at once what changed."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import moto_internals

REGION = "us-east-1"
CONTEXT = {"account_id": moto_internals.ACCOUNT_ID, "region": REGION}


def create(resource_type: str, name: str, properties: dict[str, Any]) -> Any:
    return moto_internals.cfn_create(
        resource_type, name, properties, logical_id="Logical", stack_id="arn:stack", **CONTEXT
    )


def test_the_model_map_lists_the_types_moto_can_create_except_those_the_sandbox_makes_itself() -> None:
    types = moto_internals.cfn_model_types()

    assert {"AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::EC2::VPC"} <= types
    assert "AWS::StepFunctions::StateMachine" not in types  # made in the executing backend instead
    assert "AWS::CloudFormation::Stack" not in types  # would land in moto's own CloudFormation
    assert moto_internals.cfn_name_property("AWS::SQS::Queue") == "QueueName"
    assert moto_internals.cfn_name_property("AWS::EC2::VPC") is None


def test_a_model_is_created_updated_and_deleted_in_its_service_backend(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = create("AWS::SQS::Queue", "stack-Queue-ABC", {"VisibilityTimeout": 30})
    url = moto_internals.cfn_physical_id(queue)

    assert moto_internals.cfn_attribute(queue, "QueueName") == "stack-Queue-ABC"
    assert moto_internals.cfn_supports_update("AWS::SQS::Queue")
    moto_internals.cfn_update("AWS::SQS::Queue", queue, "stack-Queue-ABC", {"VisibilityTimeout": 60}, **CONTEXT)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert moto_internals.cfn_delete("AWS::SQS::Queue", queue, {}, **CONTEXT)
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_an_attribute_the_model_lacks_is_a_lookup_error(aws: None) -> None:
    topic = create("AWS::SNS::Topic", "stack-Topic-ABC", {})

    with pytest.raises(LookupError):
        moto_internals.cfn_attribute(topic, "Nope")


def test_a_type_moto_cannot_delete_says_so(aws: None) -> None:
    gateway = create("AWS::EC2::InternetGateway", "gw", {})

    assert moto_internals.cfn_delete("AWS::EC2::InternetGateway", gateway, {}, **CONTEXT) is False


def test_service_errors_give_code_message_and_status(aws: None) -> None:
    with pytest.raises(Exception) as raised:
        create("AWS::SQS::Queue", "not-fifo", {"FifoQueue": True})

    assert moto_internals.service_error(raised.value) == (
        "InvalidParameterValue",
        "Queue name must end in .fifo for FIFO queues",
        400,
    )
    assert moto_internals.service_error(ValueError("x")) is None


def test_lookups_for_parameters_templates_and_zones(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/p", Value="v", Type="String")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="a/b.json", Body=b"{}")
    vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    assert moto_internals.ssm_parameter_value("/p", REGION) == "v"
    with pytest.raises(KeyError):
        moto_internals.ssm_parameter_value("/missing", REGION)
    assert moto_internals.s3_object("templates", "a/b.json") == b"{}"
    with pytest.raises(KeyError):
        moto_internals.s3_object("templates", "missing")
    assert moto_internals.ec2_resource_exists("vpc", vpc, REGION)
    assert not moto_internals.ec2_resource_exists("subnet", "subnet-0", REGION)
    assert moto_internals.availability_zones(REGION)[:2] == ["us-east-1a", "us-east-1b"]


def test_state_machines_land_in_the_backend_that_executes(aws: None) -> None:
    """AWS: a state machine CloudFormation makes is one the Step Functions API lists and runs."""
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    role = "arn:aws:iam::123456789012:role/r"

    arn = moto_internals.state_machine_create(
        REGION,
        name="machine",
        definition=definition,
        role_arn=role,
        tags=[{"Key": "team", "Value": "data"}],
        logging_configuration=None,
        tracing_configuration={"enabled": True},
    )

    assert moto_internals.stepfunctions_backend(REGION).describe_state_machine(arn).name == "machine"
    moto_internals.state_machine_update(
        REGION, arn, definition=definition, role_arn=role, logging_configuration=None, tracing_configuration=None
    )
    moto_internals.state_machine_delete(REGION, arn)
    machines, _ = moto_internals.stepfunctions_backend(REGION).list_state_machines()
    assert machines == []


def test_hosted_zone_ids_have_aws_format(aws: None) -> None:
    """AWS: `Z` and upper-case letters and digits (what a `HostedZoneId` parameter checks)."""
    moto_internals.fix_route53_zone_ids()
    route53 = boto3.client("route53", region_name=REGION)

    ids = [
        route53.create_hosted_zone(Name=f"zone{n}.example.com", CallerReference=str(n))["HostedZone"]["Id"]
        for n in range(40)
    ]

    assert all(re.fullmatch(r"/hostedzone/Z[A-Z0-9]{20}", zone_id) for zone_id in ids), ids
    assert len(set(ids)) == len(ids)


def serverless_policy(client: Any, name: str, kind: str, rules: list[str], **extra: Any) -> None:
    rule_list = [{"ResourceType": "collection", "Resource": rules}]
    document: Any = {"Rules": rule_list, **extra} if kind == "encryption" else [{"Rules": rule_list, **extra}]
    client.create_security_policy(name=name, type=kind, policy=json.dumps(document))


def test_a_collection_takes_the_key_of_the_encryption_policy_that_matches_it(aws: None) -> None:
    """AWS: the encryption policy matching `collection/<name>` (exactly or by pattern) gives
    the key; a network policy made afterwards plays no part ("auto" for AWS's own key)."""
    moto_internals.fix_aoss_collection_encryption()
    aoss = boto3.client("opensearchserverless", region_name=REGION)
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    serverless_policy(aoss, "catalog", "encryption", ["collection/catalog"], AWSOwnedKey=False, KmsARN=key)
    serverless_policy(aoss, "catalog", "network", ["collection/catalog"], AllowFromPublic=True)
    serverless_policy(aoss, "logs", "encryption", ["collection/logs-*"], AWSOwnedKey=True)

    catalog = aoss.create_collection(name="catalog", type="SEARCH")["createCollectionDetail"]
    logs = aoss.create_collection(name="logs-2026", type="TIMESERIES", tags=[{"key": "team", "value": "data"}])

    assert catalog["kmsKeyArn"] == key
    assert logs["createCollectionDetail"]["kmsKeyArn"] == "auto"
    with pytest.raises(ClientError) as raised:
        aoss.create_collection(name="unencrypted", type="SEARCH")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "No matching security policy of encryption type" in raised.value.response["Error"]["Message"]


def test_serverless_policies_are_deleted_and_collections_updated_in_the_backend(aws: None) -> None:
    """What moto's OpenSearch Serverless lacks: DeleteSecurityPolicy (the name is free again)
    and UpdateCollection (its description)."""
    moto_internals.fix_aoss_collection_encryption()
    aoss = boto3.client("opensearchserverless", region_name=REGION)
    serverless_policy(aoss, "catalog", "encryption", ["collection/catalog"], AWSOwnedKey=True)
    collection = aoss.create_collection(name="catalog", type="SEARCH", description="old")["createCollectionDetail"]

    assert moto_internals.aoss_update_collection(REGION, collection["id"], description="new")
    assert aoss.batch_get_collection(ids=[collection["id"]])["collectionDetails"][0]["description"] == "new"
    assert not moto_internals.aoss_update_collection(REGION, "missing", description="new")
    assert moto_internals.aoss_delete_security_policy(REGION, "catalog", "encryption")
    assert not moto_internals.aoss_delete_security_policy(REGION, "catalog", "encryption")
    with pytest.raises(ClientError):
        aoss.get_security_policy(name="catalog", type="encryption")
    serverless_policy(aoss, "catalog", "encryption", ["collection/catalog"], AWSOwnedKey=True)


def test_a_canary_keeps_its_id_and_state_and_is_deleted_in_the_backend(aws: None) -> None:
    """What moto's Synthetics lacks: StartCanary (RUNNING), an id kept through an update, DeleteCanary."""
    synthetics = boto3.client("synthetics", region_name=REGION)
    canary = synthetics.create_canary(
        Name="health",
        Code={"Handler": "canary.handler", "S3Bucket": "code", "S3Key": "canary.zip"},
        ArtifactS3Location="s3://artifacts/canaries",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/canary",
        Schedule={"Expression": "rate(15 minutes)"},
        RuntimeVersion="syn-python-selenium-7.0",
    )["Canary"]
    assert canary["Status"]["State"] == "READY"

    assert moto_internals.synthetics_keep_canary(REGION, "health", canary_id="kept-id", state="RUNNING")
    found = synthetics.get_canary(Name="health")["Canary"]
    assert (found["Id"], found["Status"]["State"]) == ("kept-id", "RUNNING")
    assert moto_internals.synthetics_delete_canary(REGION, "health")
    assert not moto_internals.synthetics_delete_canary(REGION, "health")
    assert not moto_internals.synthetics_keep_canary(REGION, "health", canary_id="x", state="RUNNING")
    assert synthetics.describe_canaries()["Canaries"] == []


def test_a_rest_api_is_tagged_as_tag_resource_would(aws: None) -> None:
    """AWS: TagResource / UntagResource on a REST API's ARN; GetRestApi answers its tags."""
    apigateway = boto3.client("apigateway", region_name=REGION)
    api_id = apigateway.create_rest_api(name="api", tags={"kept": "1", "gone": "2"})["id"]

    moto_internals.apigateway_tag_rest_api(REGION, api_id, {"team": "data"}, removed=["gone"])

    assert apigateway.get_rest_api(restApiId=api_id)["tags"] == {"kept": "1", "team": "data"}


def test_ssm_service_settings_are_read_updated_and_reset(aws: None) -> None:
    """AWS (Systems Manager API, GetServiceSetting / UpdateServiceSetting / ResetServiceSetting):
    a setting has its AWS-defined value until updated (Status Customized), by id or ARN;
    an id AWS does not define is ServiceSettingNotFound."""
    moto_internals.install_ssm_service_settings()
    ssm = boto3.client("ssm", region_name=REGION)
    setting = "/ssm/parameter-store/high-throughput-enabled"
    arn = f"arn:aws:ssm:{REGION}:{moto_internals.ACCOUNT_ID}:servicesetting{setting}"

    before = ssm.get_service_setting(SettingId=setting)["ServiceSetting"]
    ssm.update_service_setting(SettingId=setting, SettingValue="true")
    after = ssm.get_service_setting(SettingId=arn)["ServiceSetting"]
    reset = ssm.reset_service_setting(SettingId=setting)["ServiceSetting"]

    assert (before["SettingValue"], before["Status"], before["ARN"]) == ("false", "Default", arn)
    assert (after["SettingValue"], after["Status"]) == ("true", "Customized")
    assert (reset["SettingValue"], reset["Status"]) == ("false", "Default")
    with pytest.raises(ClientError, match="ServiceSettingNotFound"):
        ssm.get_service_setting(SettingId="/ssm/no/such-setting")


def test_a_user_pool_client_answers_its_creation_and_modification_dates(aws: None) -> None:
    """AWS (Cognito API, UserPoolClientType): DescribeUserPoolClient answers CreationDate and
    LastModifiedDate; an update moves LastModifiedDate."""
    moto_internals.fix_cognito_client_dates()
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="pool")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]

    created = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client)["UserPoolClient"]
    cognito.update_user_pool_client(UserPoolId=pool, ClientId=client, CallbackURLs=["https://example.org"])
    updated = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client)["UserPoolClient"]

    assert created["CreationDate"] == updated["CreationDate"]
    assert updated["LastModifiedDate"] >= created["LastModifiedDate"]
    assert updated["CallbackURLs"] == ["https://example.org"]


def test_a_state_machine_is_retagged_where_it_executes(aws: None) -> None:
    """AWS: TagResource / UntagResource change the tags ListTagsForResource answers."""
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    arn = moto_internals.state_machine_create(
        REGION,
        name="tagged",
        definition=definition,
        role_arn="arn:aws:iam::123456789012:role/r",
        tags=[{"Key": "team", "Value": "data"}, {"Key": "gone", "Value": "1"}],
        logging_configuration=None,
        tracing_configuration=None,
    )

    moto_internals.state_machine_retag(REGION, arn, {"team": "platform"}, removed=["gone"])

    tags = moto_internals.stepfunctions_backend(REGION).get_tags_list_for_state_machine(arn)
    assert tags == [{"key": "team", "value": "platform"}]


def test_each_region_answers_its_own_aws_managed_s3_prefix_list(aws: None) -> None:
    """AWS (EC2 API, DescribePrefixLists: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribePrefixLists.html):
    the AWS-managed prefix lists of the region, `com.amazonaws.<region>.s3` among them, each region's
    own id; the filter `prefix-list-name` finds it. moto 5.2.5 answers this unpatched."""
    found = {}
    for region in ("eu-west-1", REGION):
        ec2 = boto3.client("ec2", region_name=region)
        name = f"com.amazonaws.{region}.s3"
        answer = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])["PrefixLists"]
        assert [item["PrefixListName"] for item in answer] == [name]
        found[region] = answer[0]["PrefixListId"]

    assert len(set(found.values())) == 2
    assert all(re.fullmatch(r"pl-[0-9a-f]{8}([0-9a-f]{9})?", pl) for pl in found.values())


def test_an_egress_rule_to_a_prefix_list_keeps_its_description(aws: None) -> None:
    """AWS (EC2 API, AuthorizeSecurityGroupEgress with `PrefixListIds`; PrefixListId:
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_PrefixListId.html): the rule is
    answered with its prefix list and description by DescribeSecurityGroups and
    DescribeSecurityGroupRules (what CloudFormation's AWS::EC2::SecurityGroupEgress
    `DestinationPrefixListId` makes)."""
    moto_internals.fix_prefix_list_rule_descriptions()
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    name = f"com.amazonaws.{REGION}.s3"
    s3 = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])["PrefixLists"][0]
    listed = {"PrefixListId": s3["PrefixListId"], "Description": "Allow ECS Task to S3 Prefix List"}

    ec2.authorize_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [listed]}]
    )

    egress = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert [(rule["FromPort"], rule["PrefixListIds"]) for rule in egress if rule["PrefixListIds"]] == [(443, [listed])]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    assert [(r["PrefixListId"], r["Description"]) for r in rules if r.get("PrefixListId")] == [
        (s3["PrefixListId"], "Allow ECS Task to S3 Prefix List")
    ]


def test_an_identity_pools_roles_are_set_and_read_as_set_identity_pool_roles_does(aws: None) -> None:
    """AWS (Cognito identity API, SetIdentityPoolRoles / GetIdentityPoolRoles,
    https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_SetIdentityPoolRoles.html):
    the roles replace the pool's; a pool that does not exist is ResourceNotFoundException."""
    moto_internals.fix_cognito_identity_pool_roles()
    identity = boto3.client("cognito-identity", region_name=REGION)
    pool = identity.create_identity_pool(IdentityPoolName="guests", AllowUnauthenticatedIdentities=True)
    guest = "arn:aws:iam::123456789012:role/dataall-dev-cognito-identity-pool-role"

    identity.set_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"], Roles={"unauthenticated": guest})
    roles = identity.get_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"])
    identity.set_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"], Roles={})

    assert roles["Roles"] == {"unauthenticated": guest} and roles["IdentityPoolId"] == pool["IdentityPoolId"]
    assert identity.get_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"])["Roles"] == {}
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        identity.set_identity_pool_roles(IdentityPoolId=f"{REGION}:00000000-0000-4000-8000-000000000000", Roles={})


def test_a_role_attaches_an_aws_managed_policy_and_its_document_is_read_back(aws: None) -> None:
    """AWS: the AWS managed policies exist in every account (CDK's bootstrap attaches
    `AdministratorAccess` to its CloudFormation execution role); the sandbox's role check reads it."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="cfn-exec", AssumeRolePolicyDocument="{}")
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    with pytest.raises(ClientError, match="NoSuchEntity"):  # stock moto has none
        iam.attach_role_policy(RoleName="cfn-exec", PolicyArn=admin)

    assert moto_internals.ensure_aws_managed_policy(admin, moto_internals.ACCOUNT_ID)
    assert not moto_internals.ensure_aws_managed_policy("arn:aws:iam::aws:policy/NoSuchPolicy")
    iam.attach_role_policy(RoleName="cfn-exec", PolicyArn=admin)

    documents = moto_internals.role_policy_documents(f"arn:aws:iam::{moto_internals.ACCOUNT_ID}:role/cfn-exec")
    assert documents is not None and [json.loads(d)["Statement"] for d in documents] == [
        [{"Action": "*", "Effect": "Allow", "Resource": "*"}]
    ]


def test_a_requested_certificate_waits_for_validation_until_the_sandbox_issues_it(aws: None) -> None:
    """AWS (ACM DNS validation, https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html):
    a requested certificate is PENDING_VALIDATION, each name with the CNAME to add (`*.zone` and
    `zone` the same one), until ACM finds the records; then ISSUED, each name's validation SUCCESS.
    An imported certificate, or one already issued, is not issued again."""
    acm = boto3.client("acm", region_name=REGION)
    arn = acm.request_certificate(
        DomainName="example.com", SubjectAlternativeNames=["*.example.com"], ValidationMethod="DNS"
    )["CertificateArn"]
    pending = acm.describe_certificate(CertificateArn=arn)["Certificate"]

    assert pending["Status"] == "PENDING_VALIDATION"
    assert {option["ValidationStatus"] for option in pending["DomainValidationOptions"]} == {"PENDING_VALIDATION"}
    assert len({option["ResourceRecord"]["Name"] for option in pending["DomainValidationOptions"]}) == 1
    assert {option["ResourceRecord"]["Type"] for option in pending["DomainValidationOptions"]} == {"CNAME"}

    assert moto_internals.acm_issue_certificate(REGION, arn)
    issued = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert issued["Status"] == "ISSUED"
    assert {option["ValidationStatus"] for option in issued["DomainValidationOptions"]} == {"SUCCESS"}
    assert not moto_internals.acm_issue_certificate(REGION, arn)
    assert not moto_internals.acm_issue_certificate(REGION, arn.replace(REGION, "eu-west-1"))


def test_a_certificates_transparency_logging_preference_is_updated_in_place(aws: None) -> None:
    """AWS (UpdateCertificateOptions, which moto lacks): DescribeCertificate's `Options` answer the
    new preference, the certificate unchanged otherwise."""
    acm = boto3.client("acm", region_name=REGION)
    arn = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")["CertificateArn"]
    assert not _moto_has_update_certificate_options()  # the day moto has it, the provider should call it

    assert moto_internals.acm_update_certificate_options(
        REGION, arn, {"CertificateTransparencyLoggingPreference": "DISABLED"}
    )
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Options"]
    assert options["CertificateTransparencyLoggingPreference"] == "DISABLED"
    assert not moto_internals.acm_update_certificate_options(REGION, arn + "-gone", {})


def _moto_has_update_certificate_options() -> bool:
    from moto.acm.responses import AWSCertificateManagerResponse

    return hasattr(AWSCertificateManagerResponse, "update_certificate_options")


def test_a_rest_apis_execute_api_endpoint_and_a_custom_domain_names_certificate_change_in_the_backend(
    aws: None,
) -> None:
    """What moto's API Gateway lacks: `disableExecuteApiEndpoint` set as given (moto's CloudFormation model ignores it,
    its UpdateRestApi takes `bool` of the text, so "false" disabled it too), and UpdateDomainName's certificate and
    TLS policy (the name keeping its distribution domain name, as in AWS)."""
    apigateway = boto3.client("apigateway", region_name=REGION)
    api = apigateway.create_rest_api(name="api")["id"]
    apigateway.update_rest_api(restApiId=api, patchOperations=[{"op": "replace", "path": "/disableExecuteApiEndpoint",
                                                                "value": "false"}])  # fmt: skip
    assert apigateway.get_rest_api(restApiId=api)["disableExecuteApiEndpoint"] is True  # moto's quirk, still there

    assert moto_internals.apigateway_disable_execute_api_endpoint(REGION, api, False)
    assert apigateway.get_rest_api(restApiId=api)["disableExecuteApiEndpoint"] is False
    assert moto_internals.apigateway_disable_execute_api_endpoint(REGION, api, True)
    assert apigateway.get_rest_api(restApiId=api)["disableExecuteApiEndpoint"] is True
    assert not moto_internals.apigateway_disable_execute_api_endpoint(REGION, "missing", True)

    made = apigateway.create_domain_name(domainName="api.example.com", certificateArn="arn:one",
                                         endpointConfiguration={"types": ["EDGE"]})  # fmt: skip
    assert moto_internals.apigateway_update_domain_name(
        REGION, "api.example.com", certificate_arn="arn:two", regional_certificate_arn=None, security_policy="TLS_1_2"
    )
    found = apigateway.get_domain_name(domainName="api.example.com")
    assert (found["certificateArn"], found["securityPolicy"]) == ("arn:two", "TLS_1_2")
    assert found["distributionDomainName"] == made["distributionDomainName"]
    assert not moto_internals.apigateway_update_domain_name(
        REGION, "missing.example.com", certificate_arn=None, regional_certificate_arn=None, security_policy=None
    )


def test_an_application_load_balancers_dns_name_and_zone_are_awss(aws: None) -> None:
    """Elastic Load Balancing API Reference: CreateLoadBalancer; Elastic Load Balancing endpoints and quotas. AWS
    names an internal Application Load Balancer `internal-<name>-<number>.<region>.elb.amazonaws.com`, an
    internet-facing one without `internal-`, in the Region's Route 53 zone of Application Load Balancers (moto:
    `<name>-1...` and `Z2P70J7EXAMPLE` in every Region)."""
    moto_internals.fix_elbv2_application_dns_names()
    ec2, elbv2 = boto3.client("ec2", region_name="eu-west-1"), boto3.client("elbv2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"eu-west-1{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((0, "a"), (1, "b"))
    ]

    (internal,) = elbv2.create_load_balancer(Name="site", Subnets=subnets, Scheme="internal")["LoadBalancers"]
    (public,) = elbv2.create_load_balancer(Name="public", Subnets=subnets)["LoadBalancers"]

    assert re.fullmatch(r"internal-site-\d{10}\.eu-west-1\.elb\.amazonaws\.com", internal["DNSName"])
    assert re.fullmatch(r"public-\d{10}\.eu-west-1\.elb\.amazonaws\.com", public["DNSName"])
    assert internal["CanonicalHostedZoneId"] == public["CanonicalHostedZoneId"] == "Z32O12XQLNTSW2"
    assert moto_internals.APPLICATION_LOAD_BALANCER_ZONES["us-east-1"] == "Z35SXDOTRQ7X7K"


def test_a_balancer_with_deletion_protection_is_not_deleted(aws: None) -> None:
    """User Guide for Application Load Balancers: "Deletion protection"; Elastic Load Balancing API Reference:
    DeleteLoadBalancer answers OperationNotPermitted while `deletion_protection.enabled` is true (moto deleted it)."""
    moto_internals.fix_elbv2_deletion_protection()
    ec2, elbv2 = boto3.client("ec2", region_name=REGION), boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((0, "a"), (1, "b"))
    ]
    arn = elbv2.create_load_balancer(Name="kept", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    protection = [{"Key": "deletion_protection.enabled", "Value": "true"}]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=protection)

    with pytest.raises(ClientError, match="cannot be deleted because deletion protection is enabled"):
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    protection[0]["Value"] = "false"
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=protection)
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []


def test_a_private_rest_api_deploys_only_with_a_resource_policy_and_its_endpoints_change_in_place(aws: None) -> None:
    """API Gateway Developer Guide: "Private REST APIs in API Gateway" (CreateDeployment of a PRIVATE API without a
    resource policy: BadRequestException "Private REST API doesn't have a resource policy attached to it"; moto
    deployed it); API Gateway API Reference: UpdateRestApi (the endpoint types and VPC endpoint ids change in
    place, and GetRestApi answers them; moto's patch took the types only)."""
    moto_internals.fix_private_rest_api_deployments()
    apigateway = boto3.client("apigateway", region_name=REGION)
    private = {"types": ["PRIVATE"], "vpcEndpointIds": ["vpce-1"]}
    api = apigateway.create_rest_api(name="api", endpointConfiguration=private)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")

    with pytest.raises(ClientError, match="Private REST API doesn't have a resource policy attached to it"):
        apigateway.create_deployment(restApiId=api, stageName="prod")
    allow = {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    policy = {"Version": "2012-10-17", "Statement": [allow]}
    apigateway.update_rest_api(restApiId=api, patchOperations=[{"op": "replace", "path": "/policy",
                                                                "value": json.dumps(policy)}])  # fmt: skip
    assert apigateway.create_deployment(restApiId=api, stageName="prod")["id"]

    assert moto_internals.apigateway_set_endpoint_configuration(
        REGION, api, {"types": ["PRIVATE"], "vpcEndpointIds": ["vpce-1", "vpce-2"]}
    )
    assert apigateway.get_rest_api(restApiId=api)["endpointConfiguration"] == {
        "types": ["PRIVATE"],
        "vpcEndpointIds": ["vpce-1", "vpce-2"],
    }
    assert not moto_internals.apigateway_set_endpoint_configuration(REGION, "missing", {"types": ["REGIONAL"]})
    public = apigateway.create_rest_api(name="public", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigateway.get_resources(restApiId=public)["items"][0]["id"]
    apigateway.put_method(restApiId=public, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=public, resourceId=root, httpMethod="GET", type="MOCK")
    assert apigateway.create_deployment(restApiId=public, stageName="prod")["id"]  # a public API needs no policy


def test_a_deleted_ecs_service_leaves_list_services_and_stays_inactive_in_describe_services(aws: None) -> None:
    """Amazon ECS API Reference: DeleteService: a deleted service is no longer in ListServices, and DescribeServices
    answers it INACTIVE for a while (moto kept listing it)."""
    moto_internals.fix_ecs_deleted_services_unlisted()
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="cluster")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "site", "memory": 512}])
    kept = ecs.create_service(cluster="cluster", serviceName="kept", taskDefinition="web", desiredCount=1)
    gone = ecs.create_service(cluster="cluster", serviceName="gone", taskDefinition="web", desiredCount=1)

    ecs.delete_service(cluster="cluster", service="gone", force=True)

    assert ecs.list_services(cluster="cluster")["serviceArns"] == [kept["service"]["serviceArn"]]
    (found,) = ecs.describe_services(cluster="cluster", services=["gone"])["services"]
    assert (found["serviceArn"], found["status"]) == (gone["service"]["serviceArn"], "INACTIVE")
