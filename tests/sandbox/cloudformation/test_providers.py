"""Resources made through each provider are real where other APIs look for them, and answer
`Ref` / `Fn::GetAtt` as AWS does."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.certificates import issued_certificate
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
                    "VisibilityConfig": {
                        "SampledRequestsEnabled": False,
                        "CloudWatchMetricsEnabled": False,
                        "MetricName": "edge",
                    },
                },
            },
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Group": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "rules", "VpcId": {"Ref": "Vpc"}},
            },
            "Egress": {
                "Type": "AWS::EC2::SecurityGroupEgress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": "10.1.0.0/16",
                },
            },
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


def test_a_layer_version_refs_its_arn_and_a_function_using_it_updates(cfn: Any, clients: Clients) -> None:
    """AWS: `Ref` of AWS::Lambda::LayerVersion is the version's ARN; a function listing it in
    `Layers` can be updated (moto's model has no physical id, so its Ref was a name)."""
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("app.py", "def handler(event, context):\n    return 1\n")
    clients("s3").create_bucket(Bucket="layer-code")
    clients("s3").put_object(Bucket="layer-code", Key="code.zip", Body=archive.getvalue())
    code = {"S3Bucket": "layer-code", "S3Key": "code.zip"}

    def resources(setting: str) -> dict[str, Any]:
        return {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Layer": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"Content": code}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.14", "Handler": "app.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": code,
                    "Layers": [{"Ref": "Layer"}], "Environment": {"Variables": {"SETTING": setting}},
                },
            },
        }  # fmt: skip

    described = deploy(cfn, resources("one"), {"LayerArn": {"Value": {"Ref": "Layer"}}})
    assert outputs(described)["LayerArn"].startswith("arn:aws:lambda:us-east-1:")
    assert ":layer:" in outputs(described)["LayerArn"]

    cfn.update_stack(StackName="app", TemplateBody=body(resources("two")), Capabilities=["CAPABILITY_IAM"])

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    name = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Function")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    function = clients("lambda").get_function_configuration(FunctionName=name)
    assert function["Environment"]["Variables"]["SETTING"] == "two"


def serverless_template(name: str) -> dict[str, Any]:
    """An OpenSearch Serverless collection with its three policies and VPC endpoint, as the
    opensearch stage makes them (the collection depends on its encryption and network policies)."""
    rules = [{"ResourceType": "collection", "Resource": [f"collection/{name}"]}]
    return {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "search"}},
        "Encryption": {
            "Type": "AWS::OpenSearchServerless::SecurityPolicy",
            "Properties": {
                "Name": name,
                "Type": "encryption",
                "Policy": {
                    "Fn::Join": [
                        "",
                        [
                            '{"Rules":',
                            json.dumps(rules),
                            ',"AWSOwnedKey":false,"KmsARN":"',
                            {"Fn::GetAtt": ["Key", "Arn"]},
                            '"}',
                        ],
                    ]
                },
            },
        },
        "Endpoint": {
            "Type": "AWS::OpenSearchServerless::VpcEndpoint",
            "Properties": {"Name": name, "VpcId": "vpc-0123456789abcdef0", "SubnetIds": ["subnet-0123456789abcdef0"]},
        },
        "Network": {
            "Type": "AWS::OpenSearchServerless::SecurityPolicy",
            "Properties": {
                "Name": name,
                "Type": "network",
                "Policy": {
                    "Fn::Join": [
                        "",
                        [
                            '[{"Rules":',
                            json.dumps(rules),
                            ',"AllowFromPublic":false,"SourceVPCEs":["',
                            {"Ref": "Endpoint"},
                            '"]}]',
                        ],
                    ]
                },
            },
        },
        "Access": {
            "Type": "AWS::OpenSearchServerless::AccessPolicy",
            "Properties": {
                "Name": name,
                "Type": "data",
                "Policy": json.dumps([{"Rules": rules, "Principal": ["arn:aws:iam::123456789012:role/api"]}]),
            },
        },
        "Collection": {
            "Type": "AWS::OpenSearchServerless::Collection",
            "DependsOn": ["Encryption", "Network"],
            "Properties": {"Name": name, "Type": "SEARCH", "StandbyReplicas": "DISABLED", "Description": "catalog"},
        },
    }


def test_an_opensearch_serverless_collection_and_its_policies_exist_in_the_service(cfn: Any, clients: Clients) -> None:
    """AWS: the collection CloudFormation makes is one BatchGetCollection finds, with the key of
    its encryption policy; Ref is its id. Deleting the stack deletes collection and policies,
    so the same stack can be made again."""
    aoss = clients("opensearchserverless")
    collection_outputs = {
        "Id": {"Value": {"Ref": "Collection"}},
        "Arn": {"Value": {"Fn::GetAtt": ["Collection", "Arn"]}},
        "Endpoint": {"Value": {"Fn::GetAtt": ["Collection", "CollectionEndpoint"]}},
        "KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
    }
    described = deploy(cfn, serverless_template("catalog"), collection_outputs)
    found = outputs(described)

    (collection,) = aoss.batch_get_collection(ids=[found["Id"]])["collectionDetails"]
    assert (collection["name"], collection["arn"], collection["collectionEndpoint"]) == (
        "catalog",
        found["Arn"],
        found["Endpoint"],
    )
    assert collection["kmsKeyArn"] == found["KeyArn"]
    assert aoss.get_security_policy(name="catalog", type="network")["securityPolicyDetail"]["type"] == "network"

    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert aoss.list_collections()["collectionSummaries"] == []
    with pytest.raises(ClientError):
        aoss.get_security_policy(name="catalog", type="encryption")
    deploy(cfn, serverless_template("catalog"), collection_outputs)


def test_the_serverless_types_answer_ref_and_get_att_as_aws_documents_them(cfn: Any, clients: Clients) -> None:
    """AWS: a collection's Ref is its id; Fn::GetAtt Id, Arn (`arn:aws:aoss:<region>:<account>:collection/<id>`),
    CollectionEndpoint (`https://<id>.<region>.aoss.amazonaws.com`) and DashboardEndpoint (the same with
    `/_dashboards`) are what BatchGetCollection answers
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-collection.html);
    a VPC endpoint's Ref and Fn::GetAtt Id are its id, `vpce-` and 17 hexadecimal digits, which data.all's network
    policy names in SourceVPCEs
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-vpcendpoint.html);
    the policies are the service's under their name and type
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-securitypolicy.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-accesspolicy.html)."""
    attributes = {
        "Ref": {"Value": {"Ref": "Collection"}},
        **{name: {"Value": {"Fn::GetAtt": ["Collection", name]}} for name in
           ("Id", "Arn", "CollectionEndpoint", "DashboardEndpoint")},
        "EndpointRef": {"Value": {"Ref": "Endpoint"}},
        "EndpointId": {"Value": {"Fn::GetAtt": ["Endpoint", "Id"]}},
    }  # fmt: skip

    described = deploy(cfn, serverless_template("catalog"), attributes)

    found = outputs(described)
    (collection,) = clients("opensearchserverless").batch_get_collection(names=["catalog"])["collectionDetails"]
    assert found["Ref"] == found["Id"] == collection["id"]
    assert re.fullmatch(r"[a-z0-9]{20}", found["Id"])
    assert found["Arn"] == f"arn:aws:aoss:us-east-1:123456789012:collection/{found['Id']}" == collection["arn"]
    assert found["CollectionEndpoint"] == f"https://{found['Id']}.us-east-1.aoss.amazonaws.com"
    assert found["DashboardEndpoint"] == f"https://{found['Id']}.us-east-1.aoss.amazonaws.com/_dashboards"
    assert found["EndpointRef"] == found["EndpointId"] and re.fullmatch(r"vpce-[0-9a-f]{17}", found["EndpointId"])
    network = clients("opensearchserverless").get_security_policy(name="catalog", type="network")
    assert network["securityPolicyDetail"]["policy"][0]["SourceVPCEs"] == [found["EndpointId"]]


def test_a_collection_deleted_by_hand_does_not_fail_the_stack_delete(cfn: Any, clients: Clients) -> None:
    """AWS: CloudFormation's delete takes the handler's "not found" as done."""
    described = deploy(cfn, serverless_template("catalog"), {"Id": {"Value": {"Ref": "Collection"}}})
    clients("opensearchserverless").delete_collection(id=outputs(described)["Id"])

    cfn.delete_stack(StackName="app")

    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_an_oidc_provider_an_identity_pool_and_a_canary_exist_in_their_services(cfn: Any, clients: Clients) -> None:
    """AWS: UserPoolIdentityProvider (Ref: its name) is a provider of the pool, with the client
    secret its dynamic reference reads; IdentityPool (Ref: its id) is a pool of Cognito
    identity; a canary with StartCanaryAfterCreation is RUNNING. A stack delete removes them."""
    secret = clients("secretsmanager").create_secret(Name="oidc", SecretString="s3cret")["ARN"]
    described = deploy(
        cfn,
        {
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "platform-users"}},
            "Provider": {
                "Type": "AWS::Cognito::UserPoolIdentityProvider",
                "Properties": {
                    "UserPoolId": {"Ref": "Pool"},
                    "ProviderName": "Corporate",
                    "ProviderType": "OIDC",
                    "ProviderDetails": {
                        "client_id": "platform",
                        "client_secret": f"{{{{resolve:secretsmanager:{secret}:SecretString}}}}",
                        "oidc_issuer": "https://login.example.com",
                        "authorize_scopes": "openid email",
                    },
                    "AttributeMapping": {"email": "email"},
                },
            },
            "Guests": {
                "Type": "AWS::Cognito::IdentityPool",
                "Properties": {"AllowUnauthenticatedIdentities": True, "AllowClassicFlow": False},
            },
            "Canary": {
                "Type": "AWS::Synthetics::Canary",
                "Properties": {
                    "Name": "api-health",
                    "RuntimeVersion": "syn-python-selenium-7.0",
                    "ExecutionRoleArn": ROLE_ARN,
                    "ArtifactS3Location": "s3://artifacts/canaries",
                    "Code": {"Handler": "canary.handler", "S3Bucket": "code", "S3Key": "canary.zip"},
                    "Schedule": {"Expression": "rate(15 minutes)"},
                    "SuccessRetentionPeriod": 7,
                    "FailureRetentionPeriod": 31,
                    "StartCanaryAfterCreation": True,
                    "Tags": [{"Key": "team", "Value": "data"}],
                },
            },
        },
        {
            "Provider": {"Value": {"Ref": "Provider"}},
            "PoolId": {"Value": {"Ref": "Pool"}},
            "Guests": {"Value": {"Ref": "Guests"}},
            "GuestsName": {"Value": {"Fn::GetAtt": ["Guests", "Name"]}},
            "CanaryId": {"Value": {"Fn::GetAtt": ["Canary", "Id"]}},
            "CanaryState": {"Value": {"Fn::GetAtt": ["Canary", "State"]}},
        },
    )
    found = outputs(described)
    idp, identity, synthetics = clients("cognito-idp"), clients("cognito-identity"), clients("synthetics")

    assert found["Provider"] == "Corporate"
    provider = idp.describe_identity_provider(UserPoolId=found["PoolId"], ProviderName="Corporate")["IdentityProvider"]
    assert provider["ProviderType"] == "OIDC"
    assert provider["ProviderDetails"]["client_secret"] == "s3cret"
    pool = identity.describe_identity_pool(IdentityPoolId=found["Guests"])
    assert (pool["IdentityPoolName"], pool["AllowUnauthenticatedIdentities"]) == (found["GuestsName"], True)
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", found["Guests"])
    canary = synthetics.get_canary(Name="api-health")["Canary"]
    assert (canary["Id"], canary["Status"]["State"], found["CanaryState"]) == (found["CanaryId"], "RUNNING", "RUNNING")
    assert (canary["SuccessRetentionPeriodInDays"], canary["FailureRetentionPeriodInDays"]) == (7, 31)
    assert canary["Tags"] == {"team": "data"}

    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert synthetics.describe_canaries()["Canaries"] == []
    assert identity.list_identity_pools(MaxResults=10)["IdentityPools"] == []
    assert idp.list_user_pools(MaxResults=10)["UserPools"] == []


def distribution(alias: str, certificate: str) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudFront::Distribution",
        "Properties": {
            "DistributionConfig": {
                "Enabled": True,
                "Aliases": [alias],
                "ViewerCertificate": {
                    "AcmCertificateArn": certificate,
                    "SslSupportMethod": "sni-only",
                    "MinimumProtocolVersion": "TLSv1.2_2021",
                },
                "Origins": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {}}],
                "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        },
    }


@pytest.mark.parametrize(
    ("alias", "certificate", "reason"),
    [
        ("www.example.com", "issued:*.example.com", None),
        ("www.example.com", "issued:example.com", "doesn't cover the alternate domain name"),
        ("a.b.example.com", "issued:*.example.com", "doesn't cover the alternate domain name"),
        ("www.example.com", "requested:www.example.com", "doesn't exist, isn't in us-east-1 region, isn't valid"),
        ("www.example.com", "issued-elsewhere:www.example.com", "doesn't exist, isn't in us-east-1 region"),
    ],
)
def test_cloudfront_takes_only_an_issued_us_east_1_certificate_that_names_its_aliases(
    cfn: Any, clients: Clients, alias: str, certificate: str, reason: str | None
) -> None:
    """AWS: InvalidViewerCertificate unless the ACM certificate is in us-east-1, issued, and
    names every alias (a `*.` name stands for one label)."""
    kind, _, name = certificate.partition(":")
    if kind == "requested":  # PENDING_VALIDATION until DNS validation
        arn = clients("acm").request_certificate(DomainName=name, ValidationMethod="DNS")["CertificateArn"]
    else:
        arn = issued_certificate(clients("acm", "eu-west-1" if kind == "issued-elsewhere" else None), name)

    cfn.create_stack(StackName="app", TemplateBody=body({"Cdn": distribution(alias, arn)}))
    described = settle(cfn, "app")

    if reason is None:
        assert described["StackStatus"] == "CREATE_COMPLETE"
        (item,) = clients("cloudfront").list_distributions()["DistributionList"]["Items"]
        assert item["Aliases"]["Items"] == [alias]
        return
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    failures = [e for e in events(cfn, "app") if e[0] == "Cdn" and e[1] == "CREATE_FAILED"]
    assert len(failures) == 1
    assert "InvalidViewerCertificate" in str(failures[0][2])
    assert reason in str(failures[0][2])
    assert clients("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []


def test_load_balancer_rest_api_and_log_group_answer_as_in_aws(cfn: Any, clients: Clients) -> None:
    """ELBv2 GetAtt CanonicalHostedZoneID / LoadBalancerFullName / SecurityGroups as
    DescribeLoadBalancers has them; a REST API's endpoint type in GetRestApi; a log group's
    retention from a Number parameter an integer in DescribeLogGroups."""
    cfn.create_stack(
        StackName="app",
        TemplateBody=body(
            {
                "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}},
                **{
                    f"Subnet{n}": {
                        "Type": "AWS::EC2::Subnet",
                        "Properties": {
                            "VpcId": {"Ref": "Vpc"},
                            "CidrBlock": f"10.2.{n}.0/24",
                            "AvailabilityZone": {"Fn::Select": [n, {"Fn::GetAZs": ""}]},
                        },
                    }
                    for n in (0, 1)
                },
                "Group": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"GroupDescription": "balancer", "VpcId": {"Ref": "Vpc"}},
                },
                "Balancer": {
                    "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "Properties": {
                        "Name": "internal-site",
                        "Scheme": "internal",
                        "Subnets": [{"Ref": "Subnet0"}, {"Ref": "Subnet1"}],
                        "SecurityGroups": [{"Fn::GetAtt": ["Group", "GroupId"]}],
                    },
                },
                "Api": {
                    "Type": "AWS::ApiGateway::RestApi",
                    "Properties": {"Name": "private-api", "EndpointConfiguration": {"Types": ["PRIVATE"]}},
                },
                "Logs": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": "/app/logs", "RetentionInDays": {"Ref": "Retention"}},
                },
            },
            Parameters={"Retention": {"Type": "Number", "AllowedValues": ["30", "90"]}},
            Outputs={
                "Zone": {"Value": {"Fn::GetAtt": ["Balancer", "CanonicalHostedZoneID"]}},
                "FullName": {"Value": {"Fn::GetAtt": ["Balancer", "LoadBalancerFullName"]}},
                "Groups": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Balancer", "SecurityGroups"]}]}},
                "Group": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}},
                "Arn": {"Value": {"Ref": "Balancer"}},
                "Api": {"Value": {"Ref": "Api"}},
            },
        ),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "90"}],
    )
    described = settle(cfn, "app")
    assert described["StackStatus"] == "CREATE_COMPLETE", [e for e in events(cfn, "app") if e[1].endswith("FAILED")]
    found = outputs(described)

    (balancer,) = clients("elbv2").describe_load_balancers(LoadBalancerArns=[found["Arn"]])["LoadBalancers"]
    assert found["Zone"] == balancer["CanonicalHostedZoneId"]
    assert found["FullName"] == found["Arn"].split(":loadbalancer/", 1)[1]
    assert re.fullmatch(r"app/internal-site/[0-9a-f]+", found["FullName"])
    assert found["Groups"] == found["Group"]
    assert clients("apigateway").get_rest_api(restApiId=found["Api"])["endpointConfiguration"]["types"] == ["PRIVATE"]
    (group,) = clients("logs").describe_log_groups(logGroupNamePrefix="/app/logs")["logGroups"]
    assert group["retentionInDays"] == 90


def test_deleting_a_lambda_permission_removes_its_statement_from_the_functions_policy(
    cfn: Any, clients: Clients
) -> None:
    """AWS: the permission is a statement of the function's policy, with the resource's
    physical id as its Sid; an update that removes the resource removes the statement."""
    s3 = clients("s3")
    s3.create_bucket(Bucket="code")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("index.py", "def handler(event, context):\n    return {}\n")
    s3.put_object(Bucket="code", Key="fn.zip", Body=archive.getvalue())
    function = {
        "Role": {
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
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"S3Bucket": "code", "S3Key": "fn.zip"},
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
    }
    permission = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]},
            "Principal": "elasticloadbalancing.amazonaws.com",
        },
    }
    described = deploy(cfn, {**function, "Invoke": permission})
    lambda_ = clients("lambda")
    name = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Function")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    sid = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Invoke")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    policy = json.loads(lambda_.get_policy(FunctionName=name)["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == [sid]

    cfn.update_stack(StackName="app", TemplateBody=body(function), Capabilities=["CAPABILITY_IAM"])

    assert settle(cfn, described["StackId"])["StackStatus"] == "UPDATE_COMPLETE"
    with pytest.raises(ClientError) as raised:
        lambda_.get_policy(FunctionName=name)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_updating_a_cluster_keeps_its_managed_master_secret(cfn: Any, clients: Clients) -> None:
    """AWS: a cluster whose master password RDS manages keeps its secret (same ARN, same
    contents) through an update that does not touch the password, such as turning deletion
    protection on. moto's ModifyDBCluster would make a new secret for ManageMasterUserPassword."""

    def template(protected: bool) -> dict[str, Any]:
        return {
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "DBClusterIdentifier": "platform",
                    "Engine": "aurora-postgresql",
                    "MasterUsername": "platform",
                    "ManageMasterUserPassword": True,
                    "DeletionProtection": protected,
                },
            }
        }

    secret_output = {"Secret": {"Value": {"Fn::GetAtt": ["Cluster", "MasterUserSecret.SecretArn"]}}}
    before = outputs(deploy(cfn, template(False), secret_output))["Secret"]
    secrets = clients("secretsmanager")
    contents = secrets.get_secret_value(SecretId=before)["SecretString"]

    cfn.update_stack(StackName="app", TemplateBody=body(template(True), Outputs=secret_output))
    described = settle(cfn, "app")

    assert described["StackStatus"] == "UPDATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    assert outputs(described)["Secret"] == before
    (cluster,) = clients("rds").describe_db_clusters()["DBClusters"]
    assert cluster["DeletionProtection"] is True and cluster["MasterUserSecret"]["SecretArn"] == before
    assert secrets.get_secret_value(SecretId=before)["SecretString"] == contents
    assert json.loads(contents)["password"]
    cfn.update_stack(StackName="app", TemplateBody=body(template(False), Outputs=secret_output))
    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_deleting_a_cluster_removes_its_automated_backups_so_its_name_can_be_used_again(
    cfn: Any, clients: Clients
) -> None:
    """AWS: DeleteDBCluster removes the cluster's automated backups (DeleteAutomatedBackups
    defaults to true); a final snapshot stays. A cluster of the same name can be created at once."""
    cluster = {
        "Cluster": {
            "Type": "AWS::RDS::DBCluster",
            "DeletionPolicy": "Snapshot",
            "Properties": {"DBClusterIdentifier": "platform", "Engine": "aurora-postgresql", "MasterUsername": "u",
                           "ManageMasterUserPassword": True},
        }
    }  # fmt: skip
    rds = clients("rds")
    stack_id = deploy(cfn, cluster)["StackId"]
    assert [s["SnapshotType"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]] == ["automated"]

    cfn.delete_stack(StackName="app")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"

    assert [s["SnapshotType"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]] == ["manual"]
    assert deploy(cfn, cluster)["StackStatus"] == "CREATE_COMPLETE"


# --------------------------------------------------------------------------- CloudWatch RUM (moto has none)
def test_rum_app_monitors_answer_as_the_rum_api_does(clients: Clients) -> None:
    """https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_CreateAppMonitor.html (a name taken:
    ConflictException), API_GetAppMonitor.html (none: ResourceNotFoundException; State ACTIVE, the log group
    of CwLogEnabled), API_UpdateAppMonitor.html (what it is given changes, the rest stays)."""
    rum = clients("rum")
    configuration = {"SessionSampleRate": 1.0, "Telemetries": ["errors"], "AllowCookies": True}
    made = rum.create_app_monitor(Name="web-monitor", Domain="a.example.com", AppMonitorConfiguration=configuration,
                                  CwLogEnabled=True, Tags={"team": "data"})  # fmt: skip

    with pytest.raises(ClientError, match="ConflictException"):
        rum.create_app_monitor(Name="web-monitor", Domain="b.example.com")
    rum.update_app_monitor(Name="web-monitor", Domain="*.d111.cloudfront.net")
    monitor = rum.get_app_monitor(Name="web-monitor")["AppMonitor"]

    assert (monitor["Id"], monitor["State"], monitor["Domain"]) == (made["Id"], "ACTIVE", "*.d111.cloudfront.net")
    assert monitor["AppMonitorConfiguration"] == configuration and monitor["Tags"] == {"team": "data"}
    assert monitor["DataStorage"]["CwLog"]["CwLogEnabled"] is True
    assert [s["Name"] for s in rum.list_app_monitors()["AppMonitorSummaries"]] == ["web-monitor"]
    rum.delete_app_monitor(Name="web-monitor")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rum.get_app_monitor(Name="web-monitor")


def test_a_rum_app_monitor_made_by_cloudformation_is_in_rum_ref_its_name_getatt_its_id(
    cfn: Any, clients: Clients
) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rum-appmonitor.html:
    Ref returns the app monitor's name, Fn::GetAtt Id its id; an update of Domain updates it in place."""
    monitor: dict[str, Any] = {
        "Type": "AWS::RUM::AppMonitor",
        "Properties": {
            "Name": "dataall-dev-monitor",
            "Domain": "dataall.dev.change.me",
            "CwLogEnabled": True,
            "AppMonitorConfiguration": {
                "AllowCookies": True, "EnableXRay": True, "SessionSampleRate": 1,
                "Telemetries": ["errors", "performance", "http"],
                "IdentityPoolId": "eu-west-1:0f1e2d3c-0000-4000-8000-000000000000",
                "GuestRoleArn": "arn:aws:iam::123456789012:role/dataall-dev-cognito-identity-pool-role",
            },
            "Tags": [{"Key": "Application", "Value": "dataall"}],
        },
    }  # fmt: skip
    answers = {"Name": {"Value": {"Ref": "Monitor"}}, "Id": {"Value": {"Fn::GetAtt": ["Monitor", "Id"]}}}
    made = deploy(cfn, {"Monitor": monitor}, answers)
    found, rum = outputs(made), clients("rum")

    described = rum.get_app_monitor(Name=found["Name"])["AppMonitor"]
    assert (found["Name"], described["Id"]) == ("dataall-dev-monitor", found["Id"])
    assert described["AppMonitorConfiguration"]["GuestRoleArn"].endswith("cognito-identity-pool-role")
    assert described["AppMonitorConfiguration"]["SessionSampleRate"] == 1.0
    assert described["Tags"] == {"Application": "dataall"}

    monitor["Properties"]["Domain"] = "*.d111.cloudfront.net"
    cfn.update_stack(StackName="app", TemplateBody=body({"Monitor": monitor}, Outputs=answers))
    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    again = rum.get_app_monitor(Name="dataall-dev-monitor")["AppMonitor"]
    assert (again["Id"], again["Domain"]) == (found["Id"], "*.d111.cloudfront.net")

    cfn.delete_stack(StackName="app")
    assert settle(cfn, made["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert rum.list_app_monitors()["AppMonitorSummaries"] == []


def test_an_identity_pool_role_attachment_sets_the_pools_roles(cfn: Any, clients: Clients) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cognito-identitypoolroleattachment.html:
    the pool's roles, as GetIdentityPoolRoles answers them (data.all's RUM guest role)."""
    resources = {
        "Guests": {"Type": "AWS::Cognito::IdentityPool", "Properties": {"AllowUnauthenticatedIdentities": True}},
        "Attachment": {
            "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
            "Properties": {"IdentityPoolId": {"Ref": "Guests"}, "Roles": {"unauthenticated": ROLE_ARN}},
        },
    }
    made = deploy(cfn, resources, {"Pool": {"Value": {"Ref": "Guests"}}})

    roles = clients("cognito-identity").get_identity_pool_roles(IdentityPoolId=outputs(made)["Pool"])

    assert roles["Roles"] == {"unauthenticated": ROLE_ARN}
    cfn.delete_stack(StackName="app")
    assert settle(cfn, made["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_a_hosted_rotation_of_the_secrets_manager_transform_creates(cfn: Any, clients: Clients) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-secretsmanager.html:
    `AWS::SecretsManager-2020-07-23` makes a rotation schedule's `HostedRotationLambda` a rotation function
    (a Serverless Application Repository application); it needs CAPABILITY_AUTO_EXPAND. data.all's secrets
    stage (its canary user) is such a template."""
    template = body(
        {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": "dataall-dev-cognito-canary-user",
                    "GenerateSecretString": {
                        "SecretStringTemplate": json.dumps({"username": "cwcanary"}),
                        "GenerateStringKey": "password",
                        "PasswordLength": 12,
                    },
                },
            },
            "Rotation": {
                "Type": "AWS::SecretsManager::RotationSchedule",
                "Properties": {
                    "SecretId": {"Ref": "Secret"},
                    "HostedRotationLambda": {"RotationType": "PostgreSQLSingleUser"},
                    "RotationRules": {"ScheduleExpression": "rate(90 days)"},
                },
            },
        },
        Transform="AWS::SecretsManager-2020-07-23",
    )
    with pytest.raises(ClientError, match="CAPABILITY_AUTO_EXPAND"):
        cfn.create_stack(StackName="app", TemplateBody=template, Capabilities=["CAPABILITY_IAM"])

    cfn.create_stack(StackName="app", TemplateBody=template, Capabilities=["CAPABILITY_AUTO_EXPAND"])

    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"
    secret = clients("secretsmanager").get_secret_value(SecretId="dataall-dev-cognito-canary-user")
    assert json.loads(secret["SecretString"])["username"] == "cwcanary"


def test_an_ip_set_is_in_wafv2_and_a_web_acls_rules_by_conditions_reference_it(cfn: Any, clients: Clients) -> None:
    """AWS: an AWS::WAFv2::IPSet is an IP set GetIPSet answers, updated in place with its addresses
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-wafv2-ipset.html), and a
    WebACL's rule may reference it (IPSetReferenceStatement, by its ARN); `Fn::If` with `AWS::NoValue` drops
    a rule from the list. data.all's WebACL as the WAF options' rule makes it."""
    from blueprints.dataall import rules
    from tests.unit.test_dataall_options import SYNTHESIS, waf_template

    template = rules.apply(waf_template([], []), SYNTHESIS, (rules.waf_allowed_ranges_from_the_options,))
    waf = clients("wafv2")

    def put(ranges: str, countries: str, *, create: bool = False) -> None:
        parameters = [
            {"ParameterKey": "WafAllowedIpRanges", "ParameterValue": ranges},
            {"ParameterKey": "WafAllowedCountries", "ParameterValue": countries},
        ]
        (cfn.create_stack if create else cfn.update_stack)(
            StackName="app", TemplateBody=json.dumps(template), Parameters=parameters
        )
        described = settle(cfn, "app")
        assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), events(cfn, "app")

    def acl_rules() -> list[tuple[str, int]]:
        (summary,) = waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
        acl = waf.get_web_acl(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["WebACL"]
        return [(rule["Name"], rule["Priority"]) for rule in acl["Rules"]]

    put("10.0.0.0/8,192.168.1.0/24", "DE", create=True)
    (summary,) = waf.list_ip_sets(Scope="CLOUDFRONT")["IPSets"]
    ip_set = waf.get_ip_set(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["IPSet"]
    assert (ip_set["Name"], ip_set["Addresses"]) == ("dataall-dev-ipset-cloudfront", ["10.0.0.0/8", "192.168.1.0/24"])
    assert acl_rules() == [
        ("GeoMatch", 0), ("IPMatch", 1),
        ("AWS-AWSManagedRulesAdminProtectionRuleSet", 2), ("AWS-AWSManagedRulesAmazonIpReputationList", 3),
    ]  # fmt: skip

    put("10.0.0.0/8", "DE")
    updated = waf.get_ip_set(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["IPSet"]
    assert updated["Addresses"] == ["10.0.0.0/8"]

    put("", "")
    assert waf.list_ip_sets(Scope="CLOUDFRONT")["IPSets"] == []
    assert acl_rules() == [
        ("AWS-AWSManagedRulesAdminProtectionRuleSet", 0), ("AWS-AWSManagedRulesAmazonIpReputationList", 1)
    ]  # fmt: skip


def test_a_web_acls_rate_based_rule_takes_the_rate_limit_options_numbers(cfn: Any, clients: Clients) -> None:
    """AWS: a Number parameter fills a rate-based statement's `Limit` and `EvaluationWindowSec` (integers in
    WAFv2's API); `Fn::If` with `AWS::NoValue` leaves the window out, which WAF then takes as 300
    (https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html). data.all's Cognito
    WebACL as the WAF options' rules make it."""
    from blueprints.dataall import rules
    from tests.unit.test_dataall_options import SYNTHESIS, WAF_RULES, rate_limited_template

    template = rules.apply(rate_limited_template(), SYNTHESIS, WAF_RULES)
    waf = clients("wafv2")

    def put(limit: str, window: str, *, create: bool = False) -> dict[str, Any]:
        given = {"WafAllowedIpRanges": "", "WafAllowedCountries": "", "WafRateLimit": limit,
                 "WafRateLimitWindow": window}  # fmt: skip
        (cfn.create_stack if create else cfn.update_stack)(
            StackName="app",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        )
        described = settle(cfn, "app")
        assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), events(cfn, "app")
        (summary,) = waf.list_web_acls(Scope="REGIONAL")["WebACLs"]
        acl = waf.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["WebACL"]
        assert [r["Name"] for r in acl["Rules"]][-1] == "CognitoRateLimit"
        return dict(acl["Rules"][-1]["Statement"]["RateBasedStatement"])

    assert put("500", "120", create=True) == {"AggregateKeyType": "IP", "Limit": 500, "EvaluationWindowSec": 120}
    assert put("1000", "300") == {"AggregateKeyType": "IP", "Limit": 1000}

    with pytest.raises(ClientError, match="WafRateLimit"):
        cfn.update_stack(
            StackName="app",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "WafRateLimit", "ParameterValue": "5"},
                        {"ParameterKey": "WafRateLimitWindow", "ParameterValue": "300"},
                        {"ParameterKey": "WafAllowedIpRanges", "ParameterValue": ""},
                        {"ParameterKey": "WafAllowedCountries", "ParameterValue": ""}],
        )  # fmt: skip


def test_a_network_acl_its_entries_and_subnet_associations_are_in_ec2_and_a_delete_gives_back_the_default(
    cfn: Any, clients: Clients
) -> None:
    """AWS: an AWS::EC2::NetworkAcl is a network ACL of its VPC (Ref its id), each AWS::EC2::NetworkAclEntry a rule
    of it (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-networkaclentry.html),
    and an AWS::EC2::SubnetNetworkAclAssociation replaces the subnet's association (Ref the association's id);
    a subnet is always associated with one network ACL, its VPC's default one unless told otherwise
    (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html), so deleting the association
    gives it back to the default. data.all's VPC as the VpcRestrictedNacl option's rule makes it."""
    from blueprints.dataall import rules
    from tests.unit.test_dataall_options import SYNTHESIS, vpc_template

    template = rules.apply(vpc_template(False), SYNTHESIS, (rules.restricted_nacl_from_the_option,))
    template["Outputs"] = {"Subnets": {"Value": {"Fn::Join": [",", [{"Ref": k} for k in sorted(
        k for k, r in template["Resources"].items() if r["Type"] == "AWS::EC2::Subnet")]]}}}  # fmt: skip
    ec2 = clients("ec2")

    def put(restricted: str, *, create: bool = False) -> dict[str, str]:
        (cfn.create_stack if create else cfn.update_stack)(
            StackName="app",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "VpcRestrictedNacl", "ParameterValue": restricted}],
        )
        described = settle(cfn, "app")
        assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), events(cfn, "app")
        return outputs(described)

    def acls(subnets: list[str]) -> dict[str, Any]:
        filters = [{"Name": "association.subnet-id", "Values": subnets}]
        return {acl["NetworkAclId"]: acl for acl in ec2.describe_network_acls(Filters=filters)["NetworkAcls"]}

    subnets = put("true", create=True)["Subnets"].split(",")
    (acl,) = acls(subnets).values()
    assert not acl["IsDefault"] and {"Key": "Name", "Value": "dataall-dev-restrictedNACL"} in acl["Tags"]
    assert sorted(a["SubnetId"] for a in acl["Associations"]) == sorted(subnets)
    entries = {(e["Egress"], e["RuleNumber"]): e for e in acl["Entries"] if e["RuleNumber"] < 32767}
    assert sorted(entries) == [(False, 100), (False, 101), (False, 102), (False, 103), (True, 100)]
    assert (entries[False, 102]["Protocol"], entries[False, 102]["PortRange"]) == ("6", {"From": 1024, "To": 65535})
    assert entries[False, 103]["CidrBlock"] == "172.31.0.0/16" and entries[True, 100]["Protocol"] == "-1"
    resources = cfn.describe_stack_resources(StackName="app")["StackResources"]
    physical = {r["ResourceType"]: r["PhysicalResourceId"] for r in resources}
    assert physical["AWS::EC2::NetworkAcl"] == acl["NetworkAclId"]
    associations = {a["NetworkAclAssociationId"] for a in acl["Associations"]}
    assert {r["PhysicalResourceId"] for r in resources if r["ResourceType"].endswith("AclAssociation")} == associations

    put("false")
    (default,) = acls(subnets).values()
    assert default["IsDefault"] and sorted(a["SubnetId"] for a in default["Associations"]) == sorted(subnets)
    assert acl["NetworkAclId"] not in {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]}
    assert not any("NetworkAcl" in r["ResourceType"] for r in cfn.describe_stack_resources(StackName="app")[
        "StackResources"])  # fmt: skip


def api_custom_domain_template() -> dict[str, Any]:
    """data.all's API as the ApiCustomDomain options' rule makes it (its RestApi, deployments, stage, backend URL
    parameter; under the condition, the edge-optimized domain name, its base path mapping and alias record)."""
    from blueprints.dataall import rules
    from tests.unit.test_dataall_options import SYNTHESIS, lambdas_template

    template = rules.apply(lambdas_template(None), SYNTHESIS, (rules.api_custom_domain_from_the_options,))
    for resource in template["Resources"].values():
        if "DependsOn" in resource:  # data.all's methods: one here
            resource["DependsOn"] = ["Method"]
    template["Resources"]["Method"] = {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "RestApiId": {"Ref": "dataalldevapiF167349C"},
            "ResourceId": {"Fn::GetAtt": ["dataalldevapiF167349C", "RootResourceId"]},
            "HttpMethod": "GET",
            "AuthorizationType": "NONE",
            "Integration": {"Type": "MOCK"},
        },
    }
    return template


def api_domain_parameters(name: str = "", zone: str = "", certificate: str = "") -> list[dict[str, str]]:
    given = {
        "ApiCustomDomainName": name,
        "ApiCustomDomainHostedZoneId": zone,
        "ApiCustomDomainCertificateArn": certificate,
    }
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()]


def test_an_edge_custom_domain_name_its_mapping_and_alias_record_are_made_and_go_with_the_api_custom_domain(
    cfn: Any, clients: Clients
) -> None:
    """AWS: an AWS::ApiGateway::DomainName is API Gateway's custom domain name (Ref the name); an edge-optimized one
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html)
    takes its ACM certificate from us-east-1 and is served by a CloudFront distribution whose domain
    (`Fn::GetAtt DistributionDomainName`) a Route 53 alias record targets in CloudFront's hosted zone
    (`DistributionHostedZoneId`, Z2FDTNDATAQYW2:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigateway-domainname.html); an
    AWS::ApiGateway::BasePathMapping maps the API's stage at its root (CreateBasePathMapping). data.all's API as
    the ApiCustomDomain options' rule makes it: with the name given, the domain name, mapping and A record exist
    and the execute-api endpoint is disabled; emptied again, they are gone."""
    name = "api.dataall.example.com"
    route53, apigateway = clients("route53"), clients("apigateway")
    zone = str(route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    certificate = issued_certificate(clients("acm"), name)
    template = json.dumps(api_custom_domain_template())

    cfn.create_stack(StackName="app", TemplateBody=template, Parameters=api_domain_parameters(name, zone, certificate))
    described = settle(cfn, "app")

    assert described["StackStatus"] == "CREATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    found = apigateway.get_domain_name(domainName=name)
    assert found["certificateArn"] == certificate and found["endpointConfiguration"]["types"] == ["EDGE"]
    assert (found["distributionHostedZoneId"], found["securityPolicy"]) == ("Z2FDTNDATAQYW2", "TLS_1_2")
    (api,) = apigateway.get_rest_apis()["items"]
    assert api["disableExecuteApiEndpoint"] is True
    deployment = apigateway.get_stage(restApiId=api["id"], stageName="prod")["deploymentId"]
    (mapping,) = apigateway.get_base_path_mappings(domainName=name)["items"]
    assert (mapping["restApiId"], mapping["stage"]) == (api["id"], "prod")
    (record,) = [
        r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"
    ]
    assert record["Name"] == f"{name}." and record["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2"
    assert record["AliasTarget"]["DNSName"].rstrip(".") == found["distributionDomainName"]
    assert outputs(described)["DataallBackendUrl"] == f"https://{name}/"

    cfn.update_stack(StackName="app", TemplateBody=template, Parameters=api_domain_parameters())
    described = settle(cfn, "app")

    assert described["StackStatus"] == "UPDATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    assert apigateway.get_domain_names()["items"] == []
    assert [
        r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"
    ] == []
    (kept,) = apigateway.get_rest_apis()["items"]
    assert kept["id"] == api["id"] and kept["disableExecuteApiEndpoint"] is False  # updated in place
    assert apigateway.get_stage(restApiId=api["id"], stageName="prod")["deploymentId"] != deployment  # redeployed
    assert [d["id"] for d in apigateway.get_deployments(restApiId=api["id"])["items"]] != [deployment]
    assert outputs(described)["DataallBackendUrl"] == f"https://{api['id']}.execute-api.eu-west-1.amazonaws.com/prod/"


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        ("issued-elsewhere:api.example.com", "Certificate must be in 'us-east-1'"),
        ("requested:api.example.com", "Certificate is PENDING_VALIDATION, not ISSUED"),
        ("issued:other.example.com", "does not cover the domain name api.example.com"),
        ("missing:api.example.com", "Certificate not found"),
        ("none:", "A certificate was not provided for the endpoint type EDGE"),
    ],
)
def test_an_edge_custom_domain_name_takes_only_an_issued_us_east_1_certificate_covering_it(
    cfn: Any, clients: Clients, certificate: str, reason: str
) -> None:
    """AWS: an edge-optimized custom domain name takes an ACM certificate of the account in us-east-1
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html),
    issued and covering the name (BadRequestException otherwise: `Invalid certificate ARN: <arn>. Certificate must
    be in 'us-east-1'.`, `A certificate was not provided for the endpoint type EDGE.`); moto checks none of it."""
    kind, _, name = certificate.partition(":")
    arn = {
        "issued-elsewhere": lambda: issued_certificate(clients("acm", "eu-west-1"), name),
        "requested": lambda: clients("acm").request_certificate(DomainName=name)["CertificateArn"],
        "issued": lambda: issued_certificate(clients("acm"), name),
        "missing": lambda: "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "none": lambda: None,
    }[kind]()
    domain = {"DomainName": "api.example.com", "EndpointConfiguration": {"Types": ["EDGE"]}}

    properties = {**domain, **({"CertificateArn": arn} if arn else {})}
    cfn.create_stack(StackName="app", TemplateBody=body({"Domain": {"Type": "AWS::ApiGateway::DomainName",
                                                                    "Properties": properties}}))  # fmt: skip
    described = settle(cfn, "app")

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    (failure,) = [e for e in events(cfn, "app") if e[0] == "Domain" and e[1] == "CREATE_FAILED"]
    assert reason in str(failure[2]) and "Service: ApiGateway" in str(failure[2])
    assert clients("apigateway").get_domain_names()["items"] == []


def private_api_template(*, policy: bool = True, endpoints: int = 1) -> dict[str, Any]:
    """data.all's API for `internet_facing=false`: a PRIVATE REST API reached through an execute-api interface
    endpoint in the VPC, with a resource policy denying every call that does not come through that endpoint."""
    resources: dict[str, Any] = {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {"CidrBlock": "10.6.0.0/16", "EnableDnsSupport": True, "EnableDnsHostnames": True},
        },
        **{
            f"Private{n}": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": f"10.6.{n}.0/24",
                    "AvailabilityZone": {"Fn::Select": [n, {"Fn::GetAZs": ""}]},
                },
            }
            for n in (0, 1)
        },
        "EndpointGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "execute-api endpoint", "VpcId": {"Ref": "Vpc"}},
        },
        **{
            f"Endpoint{n}": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcEndpointType": "Interface",
                    "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.execute-api"},
                    "PrivateDnsEnabled": True,
                    "VpcId": {"Ref": "Vpc"},
                    "SubnetIds": [{"Ref": "Private0"}, {"Ref": "Private1"}],
                    "SecurityGroupIds": [{"Fn::GetAtt": ["EndpointGroup", "GroupId"]}],
                },
            }
            for n in range(endpoints)
        },
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": "dataall-test-api",
                "EndpointConfiguration": {
                    "Types": ["PRIVATE"],
                    "VpcEndpointIds": [{"Ref": f"Endpoint{n}"} for n in range(endpoints)],
                },
            },
        },
        "Health": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "HttpMethod": "GET",
                "AuthorizationType": "NONE",
                "Integration": {"Type": "MOCK"},
            },
        },
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": ["Health"],
            "Properties": {"RestApiId": {"Ref": "Api"}},
        },
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"RestApiId": {"Ref": "Api"}, "DeploymentId": {"Ref": "Deployment"}, "StageName": "prod"},
        },
    }
    if policy:
        resources["Api"]["Properties"]["Policy"] = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"StringNotEquals": {"aws:SourceVpce": {"Ref": "Endpoint0"}}},
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                },
            ],
        }
    return {
        "Resources": resources,
        "Outputs": {
            "Api": {"Value": {"Ref": "Api"}},
            "Vpc": {"Value": {"Ref": "Vpc"}},
            **{f"Endpoint{n}": {"Value": {"Ref": f"Endpoint{n}"}} for n in range(endpoints)},
        },
    }


def test_a_private_api_behind_an_execute_api_endpoint_answers_its_endpoints_and_policy(
    cfn: Any, clients: Clients
) -> None:
    """API Gateway Developer Guide: "Private REST APIs in API Gateway" (a PRIVATE API names the interface VPC
    endpoints of `com.amazonaws.<region>.execute-api` that reach it, and its resource policy says who may call it).
    API Gateway API Reference: GetRestApi (answers `endpointConfiguration` with `types` and `vpcEndpointIds`, and
    `policy` as JSON text, its `execute-api:/*` shorthand expanded to the API's ARN: API Gateway Developer Guide,
    "API Gateway resource policy examples"), UpdateRestApi (a new policy and a new endpoint list change in place,
    the API keeping its id). Amazon EC2 API Reference: CreateVpcEndpoint (an Interface endpoint with private DNS in
    the subnets and security group given), ModifyVpcEndpoint (its subnets change in place, keeping its id),
    DescribeVpcAttribute (the VPC's `EnableDnsSupport` and `EnableDnsHostnames` as the template sets them, both of
    which private DNS needs: AWS PrivateLink Guide, "Access an AWS service using an interface VPC endpoint")."""
    template = private_api_template()
    cfn.create_stack(StackName="app", TemplateBody=json.dumps(template))
    described = settle(cfn, "app")

    assert described["StackStatus"] == "CREATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    found = outputs(described)
    apigateway = clients("apigateway")
    api = apigateway.get_rest_api(restApiId=found["Api"])
    assert api["endpointConfiguration"] == {"types": ["PRIVATE"], "vpcEndpointIds": [found["Endpoint0"]]}
    policy = json.loads(api["policy"])
    (deny, allow) = policy["Statement"]
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": found["Endpoint0"]}}
    # API Gateway keeps the `execute-api:` shorthand as the API's own ARN
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{found['Api']}/*"
    assert (deny["Effect"], deny["Resource"], allow["Effect"], allow["Resource"]) == ("Deny", arn, "Allow", arn)
    assert apigateway.get_stage(restApiId=found["Api"], stageName="prod")["deploymentId"]
    (endpoint,) = clients("ec2").describe_vpc_endpoints(VpcEndpointIds=[found["Endpoint0"]])["VpcEndpoints"]
    assert (endpoint["VpcEndpointType"], endpoint["ServiceName"]) == (
        "Interface",
        "com.amazonaws.us-east-1.execute-api",
    )
    assert (endpoint["PrivateDnsEnabled"], len(endpoint["SubnetIds"]), len(endpoint["Groups"])) == (True, 2, 1)
    ec2 = clients("ec2")
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):  # what private DNS needs of the VPC
        described_attribute = ec2.describe_vpc_attribute(VpcId=found["Vpc"], Attribute=attribute)
        assert described_attribute[attribute[0].upper() + attribute[1:]]["Value"] is True, attribute

    changed = private_api_template(endpoints=2)
    changed["Resources"]["Api"]["Properties"]["Policy"]["Statement"][0]["Condition"]["StringNotEquals"][
        "aws:SourceVpce"
    ] = [{"Ref": "Endpoint0"}, {"Ref": "Endpoint1"}]
    changed["Resources"]["Endpoint0"]["Properties"]["SubnetIds"] = [{"Ref": "Private0"}]
    cfn.update_stack(StackName="app", TemplateBody=json.dumps(changed))
    described = settle(cfn, "app")

    assert described["StackStatus"] == "UPDATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    updated = outputs(described)
    kept = apigateway.get_rest_api(restApiId=found["Api"])
    assert (updated["Api"], updated["Endpoint0"]) == (found["Api"], found["Endpoint0"])  # both changed in place
    (endpoint,) = clients("ec2").describe_vpc_endpoints(VpcEndpointIds=[found["Endpoint0"]])["VpcEndpoints"]
    assert len(endpoint["SubnetIds"]) == 1
    assert kept["endpointConfiguration"]["vpcEndpointIds"] == [updated["Endpoint0"], updated["Endpoint1"]]
    (deny, _) = json.loads(kept["policy"])["Statement"]
    assert deny["Condition"]["StringNotEquals"]["aws:SourceVpce"] == [updated["Endpoint0"], updated["Endpoint1"]]

    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert apigateway.get_rest_apis()["items"] == []
    endpoints = clients("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert {e["State"] for e in endpoints} <= {"deleted"}


def test_a_private_api_without_a_resource_policy_is_not_deployed(cfn: Any) -> None:
    """API Gateway Developer Guide: "Private REST APIs in API Gateway": API Gateway deploys a PRIVATE API only with
    a resource policy; CreateDeployment answers BadRequestException "Private REST API doesn't have a resource
    policy attached to it", and the stack rolls back."""
    cfn.create_stack(StackName="app", TemplateBody=json.dumps(private_api_template(policy=False)))
    described = settle(cfn, "app")

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    ((_, _, reason),) = [e for e in events(cfn, "app") if e[0] == "Deployment" and e[1] == "CREATE_FAILED"]
    assert "Private REST API doesn't have a resource policy attached to it" in str(reason)
    assert "Service: ApiGateway, Status Code: 400" in str(reason)
