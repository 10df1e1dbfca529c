"""Resources made through each provider are real where other APIs look for them, and answer
`Ref` / `Fn::GetAtt` as AWS does."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle

ROLE_ARN = "arn:aws:iam::123456789012:role/service-role"
STATE_MACHINE = {
    "Type": "AWS::StepFunctions::StateMachine",
    "Properties": {
        "RoleArn": ROLE_ARN,
        "Definition": {
            "StartAt": "Hello",
            "States": {"Hello": {"Type": "Pass", "Result": {"greeting": "${Greeting}"}, "End": True}},
        },
        "DefinitionSubstitutions": {"Greeting": {"Fn::Sub": "hello from ${AWS::StackName}"}},
    },
}


def outputs(described: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def deploy(
    cfn: Any, resources: dict[str, Any], outputs_: dict[str, Any] | None = None, name: str = "app"
) -> dict[str, Any]:
    cfn.create_stack(
        StackName=name, TemplateBody=body(resources, Outputs=outputs_ or {}), Capabilities=["CAPABILITY_IAM"]
    )
    described = settle(cfn, name)
    failures = [e for e in events(cfn, name) if e[1].endswith("FAILED")]
    assert described["StackStatus"] == "CREATE_COMPLETE", failures
    return described


def test_a_state_machine_made_by_cloudformation_executes(cfn: Any, clients: Clients) -> None:
    """AWS: StartExecution runs a state machine CloudFormation created (moto's own
    CloudFormation puts it where executions cannot see it)."""
    described = deploy(
        cfn,
        {"Machine": STATE_MACHINE},
        {"Arn": {"Value": {"Ref": "Machine"}}, "Name": {"Value": {"Fn::GetAtt": ["Machine", "Name"]}}},
    )
    arn = outputs(described)["Arn"]
    sfn = clients("stepfunctions")

    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{outputs(described)['Name']}"
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1")["executionArn"]
    for _ in range(100):
        result = sfn.describe_execution(executionArn=execution)
        if result["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"greeting": "hello from app"}


def test_a_state_machine_update_changes_its_definition_in_place(cfn: Any, clients: Clients) -> None:
    deploy(cfn, {"Machine": STATE_MACHINE})
    arn = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Machine")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    changed = json.loads(json.dumps(STATE_MACHINE))
    changed["Properties"]["DefinitionSubstitutions"]["Greeting"] = "changed"

    cfn.update_stack(StackName="app", TemplateBody=body({"Machine": changed}))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    definition = json.loads(clients("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    assert definition["States"]["Hello"]["Result"] == {"greeting": "changed"}


def test_emulated_service_resources_exist_in_their_services(cfn: Any, clients: Clients) -> None:
    """Bucket and queue policies, alarms, subscriptions and schedules are visible through
    their services' APIs, as the ones CloudFormation makes in AWS are. A bucket policy keeps
    only the statements moto can enforce: moto denies whatever a conditional statement names,
    where AWS would not match a request over its HTTPS endpoint."""
    s3, sqs = clients("s3"), clients("sqs")
    deploy(
        cfn,
        {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "assets"}},
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": {"Fn::Sub": "${Bucket.Arn}/*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                                "Action": "s3:GetObject",
                                "Resource": {"Fn::Sub": "${Bucket.Arn}/*"},
                            },
                        ]
                    },
                },
            },
            "Queue": {"Type": "AWS::SQS::Queue"},
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Statement": [{"Effect": "Allow"}]}},
            },
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Subscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "RawMessageDelivery": True,
                },
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "MetricName": "Errors",
                    "Namespace": "AWS/Lambda",
                    "Statistic": "Sum",
                    "Period": "60",
                    "EvaluationPeriods": 1,
                    "Threshold": "1",
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "AlarmActions": [{"Ref": "Topic"}],
                },
            },
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(1 day)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "RoleArn": ROLE_ARN},
                },
            },
        },
        {
            "Subscription": {"Value": {"Ref": "Subscription"}},
            "Alarm": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
            "Schedule": {"Value": {"Fn::GetAtt": ["Schedule", "Arn"]}},
        },
    )
    described = outputs(settle(cfn, "app"))
    queue_url = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"][
        "PhysicalResourceId"
    ]

    policy = json.loads(s3.get_bucket_policy(Bucket="assets")["Policy"])
    assert [(st["Effect"], st["Resource"]) for st in policy["Statement"]] == [
        ("Deny", "arn:aws:s3:::assets/*"),
        ("Allow", "arn:aws:s3:::assets/*"),
    ]
    # The TLS-only Deny does not apply to a client of the (HTTPS, in AWS) endpoint.
    s3.put_object(Bucket="assets", Key="k", Body=b"v")
    assert s3.get_object(Bucket="assets", Key="k")["Body"].read() == b"v"
    s3.delete_object(Bucket="assets", Key="k")
    s3.put_object(Bucket="assets", Key="page.html", Body=b"<p>")  # the TLS-only Deny does not lock the sandbox out
    assert s3.get_object(Bucket="assets", Key="page.html")["Body"].read() == b"<p>"
    s3.delete_object(Bucket="assets", Key="page.html")
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]
    subscriptions = clients("sns").list_subscriptions()["Subscriptions"]
    assert [s["SubscriptionArn"] for s in subscriptions] == [described["Subscription"]]
    alarm = clients("cloudwatch").describe_alarms()["MetricAlarms"][0]
    assert (alarm["AlarmArn"], alarm["Period"], alarm["Threshold"]) == (described["Alarm"], 60, 1.0)
    schedule_name = described["Schedule"].rsplit("/", 1)[1]
    assert clients("scheduler").get_schedule(Name=schedule_name)["Arn"] == described["Schedule"]

    stack_id = cfn.describe_stacks(StackName="app")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="app")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert clients("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert clients("sns").list_subscriptions()["Subscriptions"] == []


def test_an_aurora_cluster_and_its_generated_secret(cfn: Any, clients: Clients) -> None:
    """RDS::DBCluster is a cluster RDS describes (port 5432 for aurora-postgresql); the secret's
    GenerateSecretString makes a JSON secret with the username and a password; the target
    attachment adds the connection fields, as AWS does."""
    described = deploy(
        cfn,
        {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"username": "platform"}',
                        "GenerateStringKey": "password",
                        "PasswordLength": 24,
                        "ExcludeCharacters": '"@/\\',
                    },
                },
            },
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "Engine": "aurora-postgresql",
                    "MasterUsername": "platform",
                    "MasterUserPassword": {
                        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"}, ":SecretString:password::}}"]]
                    },
                    "StorageEncrypted": "true",
                },
            },
            "Attachment": {
                "Type": "AWS::SecretsManager::SecretTargetAttachment",
                "Properties": {
                    "SecretId": {"Ref": "Secret"},
                    "TargetId": {"Ref": "Cluster"},
                    "TargetType": "AWS::RDS::DBCluster",
                },
            },
        },
        {
            "Endpoint": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Port"]}},
            "SecretArn": {"Value": {"Ref": "Attachment"}},
        },
    )
    found = outputs(described)

    cluster = clients("rds").describe_db_clusters()["DBClusters"][0]
    assert (found["Endpoint"], found["Port"]) == (cluster["Endpoint"], "5432")
    secret = json.loads(clients("secretsmanager").get_secret_value(SecretId=found["SecretArn"])["SecretString"])
    assert secret["username"] == "platform"
    assert len(secret["password"]) == 24
    assert (secret["host"], secret["port"], secret["engine"]) == (cluster["Endpoint"], 5432, "aurora-postgresql")


def test_cognito_pool_client_domain_and_group_exist_in_cognito(cfn: Any, clients: Clients) -> None:
    described = deploy(
        cfn,
        {
            "Pool": {
                "Type": "AWS::Cognito::UserPool",
                "Properties": {"UserPoolName": "platform-users", "AutoVerifiedAttributes": ["email"]},
            },
            "Client": {
                "Type": "AWS::Cognito::UserPoolClient",
                "Properties": {"UserPoolId": {"Ref": "Pool"}, "GenerateSecret": False},
            },
            "Domain": {
                "Type": "AWS::Cognito::UserPoolDomain",
                "Properties": {"UserPoolId": {"Ref": "Pool"}, "Domain": "platform-login"},
            },
            "Admins": {
                "Type": "AWS::Cognito::UserPoolGroup",
                "Properties": {"UserPoolId": {"Ref": "Pool"}, "GroupName": "admins"},
            },
        },
        {
            "PoolId": {"Value": {"Ref": "Pool"}},
            "PoolArn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}},
            "ProviderUrl": {"Value": {"Fn::GetAtt": ["Pool", "ProviderURL"]}},
            "ClientId": {"Value": {"Ref": "Client"}},
        },
    )
    found = outputs(described)
    idp = clients("cognito-idp")

    pool = idp.describe_user_pool(UserPoolId=found["PoolId"])["UserPool"]
    assert (pool["Name"], pool["Arn"]) == ("platform-users", found["PoolArn"])
    assert found["ProviderUrl"] == f"https://cognito-idp.us-east-1.amazonaws.com/{found['PoolId']}"
    assert idp.describe_user_pool_client(UserPoolId=found["PoolId"], ClientId=found["ClientId"])["UserPoolClient"]
    assert idp.describe_user_pool_domain(Domain="platform-login")["DomainDescription"]["UserPoolId"] == found["PoolId"]
    assert idp.get_group(UserPoolId=found["PoolId"], GroupName="admins")["Group"]["GroupName"] == "admins"


def test_opensearch_domain_and_cloudfront_distribution_exist_in_their_services(cfn: Any, clients: Clients) -> None:
    described = deploy(
        cfn,
        {
            "Search": {"Type": "AWS::OpenSearchService::Domain", "Properties": {"EngineVersion": "OpenSearch_2.11"}},
            "Cdn": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Origins": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {}}],
                        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
                    }
                },
            },
        },
        {
            "DomainEndpoint": {"Value": {"Fn::GetAtt": ["Search", "DomainEndpoint"]}},
            "DomainName": {"Value": {"Ref": "Search"}},
            "CdnDomain": {"Value": {"Fn::GetAtt": ["Cdn", "DomainName"]}},
            "CdnId": {"Value": {"Ref": "Cdn"}},
        },
    )
    found = outputs(described)

    domain = clients("opensearch").describe_domain(DomainName=found["DomainName"])["DomainStatus"]
    assert domain["Endpoint"] == found["DomainEndpoint"]
    distribution = clients("cloudfront").get_distribution(Id=found["CdnId"])["Distribution"]
    assert distribution["DomainName"] == found["CdnDomain"]

    stack_id = described["StackId"]
    cfn.delete_stack(StackName="app")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert clients("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []


def test_pure_emulations_answer_ref_and_getatt_in_aws_formats(cfn: Any) -> None:
    described = deploy(
        cfn,
        {
            "Acl": {
                "Type": "AWS::WAFv2::WebACL",
                "Properties": {
                    "Name": "edge",
                    "Scope": "CLOUDFRONT",
                    "DefaultAction": {"Allow": {}},
                    "VisibilityConfig": {},
                },
            },
            "Egress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {"GroupId": "sg-1", "IpProtocol": "-1"}},
            "Metadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2"}},
        },
        {
            "AclRef": {"Value": {"Ref": "Acl"}},
            "AclArn": {"Value": {"Fn::GetAtt": ["Acl", "Arn"]}},
            "Egress": {"Value": {"Ref": "Egress"}},
        },
    )
    found = outputs(described)

    name, acl_id, scope = found["AclRef"].split("|")
    assert (name, scope) == ("edge", "CLOUDFRONT")
    assert found["AclArn"] == f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/{acl_id}"
    assert found["Egress"].startswith("sgr-")


def test_getatt_of_an_attribute_the_type_lacks_fails_the_dependant(cfn: Any) -> None:
    """AWS: "Template error: resource X does not support attribute type Y in Fn::GetAtt"."""
    cfn.create_stack(
        StackName="app",
        TemplateBody=body(
            {
                "Topic": {"Type": "AWS::SNS::Topic"},
                "Param": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Topic", "Nope"]}},
                },
            }
        ),
    )

    assert settle(cfn, "app")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        "Param",
        "CREATE_FAILED",
        "Template error: resource Topic does not support attribute type Nope in Fn::GetAtt",
    ) in (events(cfn, "app"))


def test_moto_quirks_are_mended(cfn: Any, clients: Clients) -> None:
    """Subnet GetAtt AvailabilityZone / VpcId, KMS key without KeyPolicy and its KeyId, SSM
    parameter without Name and its GetAtt Value, DBInstance's port for postgres."""
    described = deploy(
        cfn,
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": {"Fn::Select": [0, {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}]},
                    "AvailabilityZone": {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
                },
            },
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "no policy given"}},
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Key", "KeyId"]}},
            },
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "postgres",
                    "DBInstanceClass": "db.t3.micro",
                    "MasterUsername": "u",
                    "MasterUserPassword": "password1",
                    "AllocatedStorage": "20",
                },
            },
        },
        {
            "Az": {"Value": {"Fn::GetAtt": ["Subnet", "AvailabilityZone"]}},
            "SubnetVpc": {"Value": {"Fn::GetAtt": ["Subnet", "VpcId"]}},
            "Vpc": {"Value": {"Ref": "Vpc"}},
            "KeyRef": {"Value": {"Ref": "Key"}},
            "KeyId": {"Value": {"Fn::GetAtt": ["Key", "KeyId"]}},
            "ParamName": {"Value": {"Ref": "Param"}},
            "ParamValue": {"Value": {"Fn::GetAtt": ["Param", "Value"]}},
            "DbPort": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
        },
    )
    found = outputs(described)

    assert found["Az"] == "us-east-1b"
    assert found["SubnetVpc"] == found["Vpc"]
    assert found["KeyId"] == found["KeyRef"]
    policy = json.loads(clients("kms").get_key_policy(KeyId=found["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert found["ParamName"].startswith("CFN-Param-")
    assert found["ParamValue"] == found["KeyId"]
    assert found["DbPort"] == "5432"


def test_stack_delete_removes_what_moto_models_cannot_delete(cfn: Any, clients: Clients) -> None:
    """A VPC with a gateway, route table and managed policy: AWS deletes all of it."""
    described = deploy(
        cfn,
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
            "Gateway": {"Type": "AWS::EC2::InternetGateway"},
            "Attach": {
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}},
            },
            "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Default": {
                "Type": "AWS::EC2::Route",
                "DependsOn": "Attach",
                "Properties": {
                    "RouteTableId": {"Ref": "Routes"},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": {"Ref": "Gateway"},
                },
            },
            "Policy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                    }
                },
            },
        },
    )

    cfn.delete_stack(StackName="app")

    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    ec2 = clients("ec2")
    assert ec2.describe_internet_gateways()["InternetGateways"] == []
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.1.0.0/16"] == []
    assert clients("iam").list_policies(Scope="Local")["Policies"] == []
