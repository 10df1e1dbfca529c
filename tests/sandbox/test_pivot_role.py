"""The pivot-role provider end to end: the installer's Lambda package, run by the sandbox's
Lambda runtime, serving CloudFormation's custom-resource requests of a stack.

Create, Update, the Update of a rollback (the old properties again) and Delete go through
the sandbox's CloudFormation exactly as through AWS's: the answers reach CloudFormation
only by the pre-signed response URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blueprints.assets import LAMBDA_RUNTIME, zip_tree
from tests.sandbox.cloudformation.conftest import body, events, settle
from tests.sandbox.conftest import Clients

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
ROLE = "acme-test-pivot-role"
PARAMETER = "/acme/test/pivot-role/external-id"


@pytest.fixture
def cfn(clients: Clients) -> Any:
    return clients("cloudformation")


@pytest.fixture
def provider_code(clients: Clients) -> dict[str, str]:
    """The installer's Lambda package (the `lambdas` package, as the build zips it)."""
    s3 = clients("s3")
    s3.create_bucket(Bucket="installer-code")
    s3.put_object(Bucket="installer-code", Key="lambdas.zip", Body=zip_tree([(ROOT / "lambdas", "lambdas")]))
    return {"S3Bucket": "installer-code", "S3Key": "lambdas.zip"}


def statements(count: int, prefix: str = "S") -> list[dict[str, Any]]:
    return [
        {
            "Sid": f"{prefix}{n}",
            "Effect": "Allow",
            "Action": [f"s3:GetObject{a}" for a in range(12)],
            "Resource": [f"arn:{{Partition}}:s3:::{{ResourcePrefix}}-data-{n}-{r}/*" for r in range(12)],
        }
        for n in range(count)
    ]


def template(code: dict[str, str], documents: list[dict[str, Any]], **extra: Any) -> str:
    return body(
        {
            "ProviderRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ]
                    }
                },
            },
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": code,
                    "Handler": "lambdas.handlers.pivot_role.handler",
                    "Runtime": LAMBDA_RUNTIME,
                    "Timeout": 120,
                    "Role": {"Fn::GetAtt": ["ProviderRole", "Arn"]},
                    "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "pivot-role"}},
                },
            },
            "ExternalId": {
                "Type": "Custom::PivotRoleExternalId",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}, "ParameterName": PARAMETER},
            },
            "PivotRole": {
                "Type": "Custom::PivotRole",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                    "RoleName": ROLE,
                    "ExternalIdParameter": {"Ref": "ExternalId"},
                    "ResourcePrefix": "acme",
                    "EnvName": "test",
                    "TrustedRolePatterns": ["acme-test-*"],
                    "MaxSessionDuration": 43200,
                    "PolicyDocuments": documents,
                    # No environment account: the sandbox's CloudFormation has no StackSet API
                    # (the unit tests cover the StackSet against moto).
                    "EnvironmentAccounts": "",
                    "StackSetName": "acme-test-pivot-role",
                },
            },
            **extra,
        },
        Outputs={
            "PivotRoleName": {"Value": {"Fn::GetAtt": ["PivotRole", "RoleName"]}},
            "PolicyNames": {"Value": {"Fn::GetAtt": ["PivotRole", "PolicyNames"]}},
            "ExternalIdParameterName": {"Value": {"Ref": "ExternalId"}},
        },
    )


def apply(cfn: Any, template_body: str, *, create: bool = False) -> dict[str, Any]:
    operation = cfn.create_stack if create else cfn.update_stack
    operation(StackName="pivot", TemplateBody=template_body, Capabilities=["CAPABILITY_IAM"])
    return settle(cfn, "pivot", timeout=180)


def outputs(described: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def policies(iam: Any) -> dict[str, Any]:
    found = {}
    for attached in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
        found[attached["PolicyName"]] = document["Document"]
    return found


def test_create_update_rollback_and_delete_of_the_pivot_role(
    cfn: Any, clients: Clients, provider_code: dict[str, str]
) -> None:
    iam, ssm = clients("iam"), clients("ssm")
    first = [{"Version": "2012-10-17", "Statement": statements(20)}]

    created = apply(cfn, template(provider_code, first), create=True)

    assert created["StackStatus"] == "CREATE_COMPLETE", "\n".join(map(str, events(cfn, "pivot")))
    original = policies(iam)
    assert outputs(created) == {
        "PivotRoleName": ROLE,
        "PolicyNames": ",".join(f"{ROLE}-policy-{n}" for n in range(1, len(original) + 1)),
        "ExternalIdParameterName": PARAMETER,
    }
    external_id = ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {"sts:ExternalId": external_id}

    second = [{"Version": "2012-10-17", "Statement": statements(40, prefix="New")}]
    updated = apply(cfn, template(provider_code, second))

    assert updated["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "pivot")
    current = policies(iam)
    assert len(current) > len(original)

    # An update that fails after the pivot role changed: CloudFormation rolls back, sending
    # the pivot role an Update with the previous properties.
    failing = {"Breaks": {"Type": "AWS::Imaginary::Thing", "DependsOn": "PivotRole"}}
    rolled_back = apply(cfn, template(provider_code, first, **failing))

    assert rolled_back["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events(cfn, "pivot")
    pivot_updates = [status for lid, status, _ in events(cfn, "pivot") if lid == "PivotRole"]
    assert pivot_updates.count("UPDATE_COMPLETE") == 3  # the update, the failed one, its rollback
    assert policies(iam) == current
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == trust
    assert ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"] == external_id

    cfn.delete_stack(StackName="pivot")
    assert settle(cfn, created["StackId"], timeout=180)["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=ROLE)
    assert [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"].startswith(ROLE)] == []
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=PARAMETER)


def test_a_provider_failure_reaches_cloudformation_as_the_resources_reason(
    cfn: Any, clients: Clients, provider_code: dict[str, str]
) -> None:
    refused = [{"Version": "2012-10-17", "Statement": statements(200)}]

    described = apply(cfn, template(provider_code, refused), create=True)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "pivot") if lid == "PivotRole" and status == "CREATE_FAILED")
    assert str(reason).startswith("Received response status [FAILED] from custom resource. Message returned: ")
    assert "IAM attaches at most 10 managed policies to a role" in str(reason)
