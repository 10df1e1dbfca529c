"""The bootstrap stack as synthesized: self-contained for quick-create, safe console form,
scoped roles, and the real ASL with every substitution filled."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from lambdas.data.ledger_table import TTL_ATTRIBUTE, attribute_definitions, key_schema

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "state_machine" / "installer.asl.json").read_text())
LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_template_needs_no_cdk_bootstrap(bootstrap_template: dict[str, Any]) -> None:
    assert "BootstrapVersion" not in bootstrap_template.get("Parameters", {})
    assert "CheckBootstrapVersion" not in bootstrap_template.get("Rules", {})
    text = json.dumps(bootstrap_template)
    assert "cdk-hnb659fds" not in text
    assert not resources(bootstrap_template, "AWS::CDK::Metadata")


def test_every_parameter_has_a_default_and_a_constraint(bootstrap_template: dict[str, Any]) -> None:
    for name, spec in bootstrap_template["Parameters"].items():
        assert "Default" in spec, name
        assert {"AllowedPattern", "AllowedValues"} & set(spec), f"{name} accepts anything"
        assert spec.get("Description"), name


def test_the_console_form_groups_and_labels_every_parameter(bootstrap_template: dict[str, Any]) -> None:
    interface = bootstrap_template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(bootstrap_template["Parameters"])
    assert set(interface["ParameterLabels"]) == set(bootstrap_template["Parameters"])


def test_lambda_code_comes_from_the_regional_release_bucket(bootstrap_template: dict[str, Any], release: Any) -> None:
    functions = resources(bootstrap_template, "AWS::Lambda::Function")
    # 12 workflow steps, the stack-event target, the trigger, the pivot-role and frontend-image providers
    assert len(functions) == 16
    for function in functions.values():
        code = function["Properties"]["Code"]
        assert code["S3Bucket"] == {"Fn::Sub": "${ReleaseBucketPrefix}-${AWS::Region}"}
        assert code["S3Key"].startswith("assets/") and code["S3Key"] in release.manifest.files


def test_the_state_machine_is_the_asl_file_with_every_substitution_filled(bootstrap_template: dict[str, Any]) -> None:
    machine = next(iter(resources(bootstrap_template, "AWS::StepFunctions::StateMachine").values()))
    props = machine["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(ASL)))
    assert placeholders == set(props["DefinitionSubstitutions"])
    assert json.loads(props["DefinitionString"]) == ASL


def tasks(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, state in states.items():
        if state["Type"] == "Task":
            found.append((name, state))
        if state["Type"] == "Map":
            found.extend(tasks(state["ItemProcessor"]["States"]))
    return found


@pytest.mark.parametrize(("name", "state"), tasks(ASL["States"]))
def test_every_lambda_task_retries_lambda_service_errors_and_throttling(name: str, state: dict[str, Any]) -> None:
    retried = {e for retrier in state.get("Retry", []) for e in retrier["ErrorEquals"]}
    assert retried >= LAMBDA_SERVICE_ERRORS | {"Throttled"}, name


def test_a_failure_in_any_step_leads_to_rollback_then_a_failed_run() -> None:
    steps = ASL["States"]["Steps"]
    assert steps["Catch"][0]["ErrorEquals"] == ["States.ALL"] and steps["Catch"][0]["Next"] == "Rollback"
    assert ASL["States"]["ReportFailure"]["Next"] == "RunFailed"
    assert ASL["States"]["RunFailed"]["Type"] == "Fail"


def test_polling_waits_read_their_interval_from_the_state() -> None:
    step_states = ASL["States"]["Steps"]["ItemProcessor"]["States"]
    assert step_states["StepWait"]["TimeoutSecondsPath"] == "$.wait"
    assert ASL["States"]["RollbackWait"]["SecondsPath"] == "$.rollback.wait"


def test_a_stage_waits_on_a_task_token_with_its_poll_as_the_fallback() -> None:
    """The stack's status-change event resumes the step; the timeout is the next poll."""
    step_states = ASL["States"]["Steps"]["ItemProcessor"]["States"]
    wait = step_states["StepWait"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"] == {"state.$": "$", "token.$": "$$.Task.Token"}
    timeout = next(c for c in wait["Catch"] if c["ErrorEquals"] == ["States.Timeout"])
    assert (timeout["Next"], timeout["ResultPath"], wait["Next"]) == ("StageStatus", None, "StageStatus")
    assert wait["ResultPath"] == "$.resumed"


def test_stage_stack_status_changes_reach_the_stack_event_function(bootstrap_template: dict[str, Any]) -> None:
    (rule,) = resources(bootstrap_template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudformation"]
    assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
    assert "prefix" in pattern["detail"]["stack-id"][0], "only the installation's own stacks"
    (target,) = rule["Properties"]["Targets"]
    functions = resources(bootstrap_template, "AWS::Lambda::Function")
    (changed,) = [
        n for n, f in functions.items() if f["Properties"]["Handler"] == "lambdas.handlers.stack_changed.handler"
    ]
    assert target["Arn"] == {"Fn::GetAtt": [changed, "Arn"]}


def test_no_policy_allows_every_action(bootstrap_template: dict[str, Any]) -> None:
    policies = {**resources(bootstrap_template, "AWS::IAM::Policy"),
                **resources(bootstrap_template, "AWS::IAM::ManagedPolicy")}  # fmt: skip
    assert resources(bootstrap_template, "AWS::IAM::ManagedPolicy")
    for name, policy in policies.items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions, name


def test_the_service_role_manages_iam_only_under_the_installation_prefix(bootstrap_template: dict[str, Any]) -> None:
    """IAM's actions on the installation's names (its prefix, the names the templates give), on the
    service-linked roles, and on `*` only those that take no resource (IamLists: iam:ListRoles)."""
    statements = [
        s
        for p in [*resources(bootstrap_template, "AWS::IAM::Policy").values(),
                  *resources(bootstrap_template, "AWS::IAM::ManagedPolicy").values()]
        if "CloudFormationServiceRole" in json.dumps(p["Properties"].get("Roles", []))
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    iam_statements = {s["Sid"]: s for s in statements if any(str(a).startswith("iam:") for a in actions_of(s))}

    assert "StageIamUnderPrefix" in iam_statements
    assert set(iam_statements) <= {"StageIamUnderPrefix", "ServiceLinkedRoles", "IamLists"}
    for resource in iam_statements["StageIamUnderPrefix"]["Resource"]:
        assert "ResourcePrefix" in json.dumps(resource) and "EnvName" in json.dumps(resource)
    if "ServiceLinkedRoles" in iam_statements:
        assert ":role/aws-service-role/*" in json.dumps(iam_statements["ServiceLinkedRoles"]["Resource"])
    if "IamLists" in iam_statements:
        assert actions_of(iam_statements["IamLists"]) <= {
            "iam:ListRoles",
            "iam:ListPolicies",
            "iam:ListInstanceProfiles",
        }


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action) if isinstance(action, list) else {action}


def test_plan_may_look_up_prefix_lists_and_read_vpcs_and_nothing_else_of_ec2(
    bootstrap_template: dict[str, Any],
) -> None:
    ec2 = {
        (action, json.dumps(statement["Resource"]))
        for name, policy in resources(bootstrap_template, "AWS::IAM::Policy").items()
        if name.startswith("PlanRoleDefaultPolicy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if str(action).startswith("ec2:")
    }

    # EC2's Describe actions take no resource-level permissions: the wildcard is required. The VPC reads are
    # CDK's VPC lookup's (the operator's VpcId: lambdas/run/existing_vpc.py), and the endpoints' group's
    # (VpcEndpointsSecurityGroupId), and the private API's endpoint's (ApiVpcEndpointId:
    # lambdas/run/api_vpc_endpoint.py)
    assert ec2 == {
        (action, '"*"')
        for action in ("ec2:DescribePrefixLists", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeRouteTables",
                       "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints")
    }  # fmt: skip


def test_plan_may_look_up_names_read_only_and_never_read_an_ssm_parameters_value(
    bootstrap_template: dict[str, Any],
) -> None:
    """Plan's name check (`lambdas/run/collisions.py`): what an uninstall keeps, and what another
    installation in the account and region holds (KMS aliases, SSM parameters, IAM roles, exports)."""
    (names,) = [
        statement
        for name, policy in resources(bootstrap_template, "AWS::IAM::Policy").items()
        if name.startswith("PlanRoleDefaultPolicy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "NamesTaken"
    ]

    assert names["Resource"] == "*"
    assert actions_of(names) == {
        "s3:ListBucket",
        "logs:DescribeLogGroups",
        "secretsmanager:DescribeSecret",
        "dynamodb:DescribeTable",
        "rds:DescribeDBClusters",
        "es:DescribeDomain",
        "kms:ListAliases",
        "ssm:DescribeParameters",  # metadata: ssm:GetParameter on `*` would read every parameter's value
        "iam:GetRole",
        "iam:ListRoles",  # a service-linked role the account has (by its path: its name is IAM's)
        "cloudformation:ListExports",
    }


def test_plan_may_describe_the_accounts_us_east_1_certificates_and_nothing_else_of_acm(
    bootstrap_template: dict[str, Any],
) -> None:
    acm = {
        (action, json.dumps(statement["Resource"]))
        for name, policy in resources(bootstrap_template, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in actions_of(statement)
        if str(action).startswith("acm:")
    }

    # CloudFront takes certificates from us-east-1 only: data.all's custom domain's own (lambdas/run/certificates.py)
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":acm:us-east-1:", {"Ref": "AWS::AccountId"},
                             ":certificate/*"]]}  # fmt: skip
    assert acm == {("acm:DescribeCertificate", json.dumps(arn))}


def test_the_ledger_table_keeps_history_recoverable(bootstrap_template: dict[str, Any]) -> None:
    table = next(iter(resources(bootstrap_template, "AWS::DynamoDB::Table").values()))
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # Kept by an uninstall, adopted by the next install (AdoptLedger); removed only when its own
    # create is rolled back, new and empty (RetainExceptOnCreate).
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["Condition"] == "CreatesLedger"
    assert bootstrap_template["Conditions"]["CreatesLedger"] == {"Fn::Equals": [{"Ref": "AdoptLedger"}, "false"]}
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_the_ledger_table_has_the_keys_the_unit_tests_create_it_with(bootstrap_template: dict[str, Any]) -> None:
    table = next(iter(resources(bootstrap_template, "AWS::DynamoDB::Table").values()))
    assert table["Properties"]["KeySchema"] == key_schema()
    assert table["Properties"]["AttributeDefinitions"] == attribute_definitions()


def test_the_cdk_app_synthesizes_the_bootstrap_stack_for_data_alls_latest_release_without_the_tests(
    tmp_path: Path,
) -> None:
    """`cdk synth` (cdk.json's `python app.py`): the bootstrap stack alone, data.all's latest pinned
    version its ReleaseVersion's default, and nothing of `tests` (the synthetic release) loaded."""
    import subprocess
    import sys

    from installer.upstream import LATEST

    run = (
        "import runpy, sys; runpy.run_path('app.py', run_name='__main__'); "
        "print(sorted(m for m in sys.modules if m == 'tests' or m.startswith('tests.')))"
    )
    environment = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", run], check=False, cwd=ROOT, env=environment, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == ["bootstrap.template.json"]
    template = json.loads((tmp_path / "bootstrap.template.json").read_text())
    assert template["Parameters"]["ReleaseVersion"]["Default"] == LATEST
    assert resources(template, "AWS::StepFunctions::StateMachine")
    # No release, no stage grants: the service role may read the release's objects and nothing more.
    assert not resources(template, "AWS::IAM::ManagedPolicy")
    service_role = next(p for p in resources(template, "AWS::IAM::Policy").values()
                        if "CloudFormationServiceRole" in json.dumps(p["Properties"]["Roles"]))  # fmt: skip
    assert [s["Sid"] for s in service_role["Properties"]["PolicyDocument"]["Statement"]] == [
        "ReleaseTemplatesAndCode", "PivotRoleProvider",
    ]  # fmt: skip


def test_an_uninstall_runs_while_the_service_role_may_still_delete_the_stages(
    bootstrap_template: dict[str, Any],
) -> None:
    """A Destroy deletes the stage stacks while CloudFormation deletes the run's custom resource: the
    service role and all its policies must outlive it (CloudFormation deletes a resource's dependencies
    after it), or the stage stacks' deletes fail for want of their handlers' permissions."""
    (run,) = resources(bootstrap_template, "Custom::InstallerRun").values()
    policies = {
        name
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for name, policy in resources(bootstrap_template, kind).items()
        if "CloudFormationServiceRole" in json.dumps(policy["Properties"].get("Roles", []))
    }

    assert len(policies) > 1
    assert policies <= set(run["DependsOn"])
