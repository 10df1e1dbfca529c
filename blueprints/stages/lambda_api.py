"""The platform's API (data.all's LambdaApiStack): API Gateway, its functions and WAF.

* `api` answers `GET /health` (public liveness probe) and `POST /graphql` (Cognito JWT,
  verified by the `authorizer` function) from the metadata database;
* `worker` takes work items from the sqs stage's FIFO queue;
* a regional WAF web ACL guards the API. With `InternetFacing` false the API is PRIVATE,
  reached through an execute-api endpoint in the platform's VPC.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import (
    PlatformFunction,
    VpcPlacement,
    accept_arn_parameters,
    accept_conditional_outputs,
    flag,
    if_,
    log_group,
    negation,
    ssm_path,
    stage_parameter,
    web_acl,
    when,
)

STAGE_NAME = "api"
#: SSM path under which frontends register their Cognito app clients for the authorizer.
CLIENTS_PATH = ("cognito", "clients")


class LambdaApiStage(StageStack):
    SPEC = StageSpec(
        name="lambda-api",
        description="API Gateway with its JWT authorizer, API and worker functions, WAF",
        timeout=1800,
        # Its code reads the metadata database: the schema must be at the release's head first.
        depends_on=("migrate",),
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        internet_facing = flag(self, "InternetFacing", "The API is public (REGIONAL), else PRIVATE")
        internal = negation(self, "Internal", internet_facing)
        wired = {
            name: stage_parameter(self, name, source, description)
            for name, source, description in (
                ("ClusterEndpoint", "aurora.ClusterEndpoint", "Writer endpoint of the database"),
                ("ClusterPort", "aurora.ClusterPort", "Port of the database"),
                ("DatabaseName", "aurora.DatabaseName", "Name of the platform's database"),
                ("DatabaseSecretArn", "aurora.DatabaseSecretArn", "Master-user secret"),
                ("SecretsKeyArn", "secrets.SecretsKeyArn", "KMS key of the platform's secrets"),
                ("UserPoolId", "cognito.UserPoolId", "Cognito user pool of the platform"),
                ("QueueUrl", "sqs.QueueUrl", "URL of the worker queue"),
                ("QueueArn", "sqs.QueueArn", "ARN of the worker queue"),
                ("QueueKeyArn", "sqs.QueueKeyArn", "KMS key of the queues"),
                ("SearchEndpoint", "opensearch.SearchEndpoint", "Endpoint of the search index"),
                ("SearchArn", "opensearch.SearchArn", "ARN of the search domain or collection"),
                ("SearchService", "opensearch.SearchService", "SigV4 service of the index"),
                ("AlarmTopicArn", "monitoring.AlarmTopicArn", "SNS topic of the alarms"),
            )
        }
        layer = self.dependency_layer()
        database_env = {
            "DB_HOST": wired["ClusterEndpoint"],
            "DB_PORT": wired["ClusterPort"],
            "DB_NAME": wired["DatabaseName"],
            "DB_SECRET_ARN": wired["DatabaseSecretArn"],
            "SEARCH_ENDPOINT": wired["SearchEndpoint"],
            "SEARCH_SERVICE": wired["SearchService"],
            "QUEUE_URL": wired["QueueUrl"],
        }
        api_function = PlatformFunction(
            self,
            "ApiFunction",
            code="api",
            handler="dataall_api.handler.handler",
            name="api",
            description="the platform's API",
            environment=database_env,
            placement=placement,
            layer=layer,
        )
        worker = PlatformFunction(
            self,
            "WorkerFunction",
            code="worker",
            handler="dataall_worker.handler.handler",
            name="worker",
            description="the platform's worker",
            environment=database_env,
            timeout_seconds=300,
            placement=placement,
            layer=layer,
        )
        for function in (api_function, worker):
            function.allow(["secretsmanager:GetSecretValue"], [wired["DatabaseSecretArn"]])
            function.allow(["kms:Decrypt"], [wired["SecretsKeyArn"]])
            function.allow(
                [
                    "es:ESHttpGet",
                    "es:ESHttpHead",
                    "es:ESHttpPost",
                    "es:ESHttpPut",
                    "es:ESHttpDelete",
                    "aoss:APIAccessAll",
                ],
                [wired["SearchArn"], cdk.Fn.join("", [wired["SearchArn"], "/*"])],
            )
            self.acknowledge(
                "AwsSolutions-IAM5[Resource::<SearchArn>/*]",
                "Index and document paths under the platform's own search domain or "
                "collection: the index names are the application's, inside that one resource.",
                function.role,
            )
        api_function.allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], [wired["QueueArn"]])
        api_function.allow(["kms:GenerateDataKey", "kms:Decrypt"], [wired["QueueKeyArn"]])
        worker.allow(
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
            [wired["QueueArn"]],
        )
        worker.allow(["kms:Decrypt"], [wired["QueueKeyArn"]])
        lambda_.CfnEventSourceMapping(
            self,
            "WorkerQueueMapping",
            event_source_arn=wired["QueueArn"],
            function_name=worker.function.function_name,
            batch_size=10,
            function_response_types=["ReportBatchItemFailures"],
        ).node.add_dependency(worker.role)

        clients_path = ssm_path(self, *CLIENTS_PATH)
        authorizer_function = PlatformFunction(
            self,
            "AuthorizerFunction",
            code="authorizer",
            handler="dataall_authorizer.handler.handler",
            name="authorizer",
            description="the API's Cognito JWT authorizer",
            environment={
                "USER_POOL_ID": wired["UserPoolId"],
                "USER_POOL_REGION": cdk.Aws.REGION,
                "CLIENTS_PATH": clients_path,
            },
            timeout_seconds=10,
            layer=layer,
        )
        authorizer_function.allow(
            ["ssm:GetParametersByPath"],
            [
                cdk.Fn.join(
                    "",
                    [
                        "arn:",
                        cdk.Aws.PARTITION,
                        ":ssm:",
                        cdk.Aws.REGION,
                        ":",
                        cdk.Aws.ACCOUNT_ID,
                        ":parameter",
                        clients_path,
                    ],
                )
            ],
        )

        endpoint = self._private_endpoint(placement, internal)
        api = self._rest_api(api_function, authorizer_function, internal, endpoint)
        self._web_acl(api)
        self._alarms(api, worker, wired["AlarmTopicArn"])

        accept_conditional_outputs(self)
        accept_arn_parameters(self)
        self.output(
            "ApiUrl",
            if_(
                internal,
                cdk.Fn.join(
                    "",
                    [
                        "https://",
                        api.rest_api_id,
                        "-",
                        endpoint.ref,
                        ".execute-api.",
                        cdk.Aws.REGION,
                        ".",
                        cdk.Aws.URL_SUFFIX,
                        f"/{STAGE_NAME}/",
                    ],
                ),
                api.url,
            ),
            "Base URL of the API (ends with /)",
        )
        self.output("RestApiId", api.rest_api_id, "Id of the REST API")
        self.output("ApiFunctionName", api_function.function.function_name, "The API function")
        self.output("WorkerFunctionName", worker.function.function_name, "The worker function")
        self.output("ClientsPath", clients_path, "SSM path where frontends register app clients")

    def _private_endpoint(self, placement: VpcPlacement, internal: cdk.CfnCondition) -> ec2.CfnVPCEndpoint:
        scope = Construct(self, "PrivateAccess")
        security_group = ec2.CfnSecurityGroup(
            scope,
            "SecurityGroup",
            group_name=self.resource_name("api-endpoint"),
            group_description="execute-api endpoint of the private API",
            vpc_id=placement.vpc_id,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_ip="0.0.0.0/0",
                    description="HTTPS from the networks routed into the VPC",
                )
            ],
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1", cidr_ip="127.0.0.1/32", description="No outbound traffic"
                )
            ],
        )
        self.acknowledge(
            "AwsSolutions-EC23",
            "The private API's endpoint sits in private subnets, so only networks routed into "
            "the VPC reach it; their ranges are the operator's, and every call is authorized.",
            security_group,
        )
        endpoint = ec2.CfnVPCEndpoint(
            scope,
            "Endpoint",
            vpc_id=placement.vpc_id,
            service_name=cdk.Fn.join("", ["com.amazonaws.", cdk.Aws.REGION, ".execute-api"]),
            vpc_endpoint_type="Interface",
            # Private DNS would capture every execute-api host name in the VPC, public APIs
            # included; the endpoint-specific host name needs no DNS change.
            private_dns_enabled=False,
            subnet_ids=placement.subnet_ids,
            security_group_ids=[security_group.attr_group_id],
        )
        when(scope, internal)
        return endpoint

    def _rest_api(
        self,
        api_function: PlatformFunction,
        authorizer_function: PlatformFunction,
        internal: cdk.CfnCondition,
        endpoint: ec2.CfnVPCEndpoint,
    ) -> apigateway.RestApi:
        access_logs = log_group(self, "AccessLogs", cdk.Fn.join("", ["/aws/apigateway/", self.resource_name("api")]))
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=self.resource_name("api"),
            description="The data.all platform's API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            # Deleted with the stage: a retained role keeps its name and blocks the next create.
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
            disable_execute_api_endpoint=False,
        )
        cfn = api.node.default_child
        assert isinstance(cfn, apigateway.CfnRestApi)
        cfn.add_property_override("EndpointConfiguration.Types", [if_(internal, "PRIVATE", "REGIONAL")])
        cfn.add_property_override(
            "Policy",
            if_(
                internal,
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "execute-api:Invoke",
                            "Resource": "execute-api:/*",
                            "Condition": {"StringEquals": {"aws:SourceVpce": endpoint.ref}},
                        }
                    ],
                },
                cdk.Aws.NO_VALUE,
            ),
        )
        cloudwatch_role = api.node.find_child("CloudWatchRole").node.default_child
        assert isinstance(cloudwatch_role, iam.CfnRole)
        cloudwatch_role.role_name = self.resource_name("apigateway-logs")
        self.acknowledge(
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "AmazonAPIGatewayPushToCloudWatchLogs is the AWS policy API Gateway's account "
            "role needs to write the API's access and execution logs.",
            api,
        )
        authorizer = apigateway.TokenAuthorizer(
            self,
            "Authorizer",
            authorizer_name=self.resource_name("jwt"),
            handler=authorizer_function.function,
            identity_source=apigateway.IdentitySource.header("Authorization"),
            results_cache_ttl=cdk.Duration.minutes(5),
        )
        integration = apigateway.LambdaIntegration(api_function.function, proxy=True)
        health = api.root.add_resource("health").add_method(
            "GET", integration, authorization_type=apigateway.AuthorizationType.NONE
        )
        for rule, reason in (
            (
                "AwsSolutions-APIG4",
                "GET /health is the public liveness probe of canaries and load "
                "balancers; it answers only status, reachability and schema revision.",
            ),
            ("AwsSolutions-COG4", "GET /health is the public liveness probe and takes no token."),
        ):
            self.acknowledge(rule, reason, health)
        validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        query_model = api.add_model(
            "GraphqlRequest",
            content_type="application/json",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                type=apigateway.JsonSchemaType.OBJECT,
                required=["query"],
                properties={
                    "query": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                    "variables": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
                },
            ),
        )
        graphql = api.root.add_resource("graphql").add_method(
            "POST",
            integration,
            authorizer=authorizer,
            authorization_type=apigateway.AuthorizationType.CUSTOM,
            request_validator=validator,
            request_models={"application/json": query_model},
        )
        self.acknowledge(
            "AwsSolutions-COG4",
            "A Lambda authorizer verifies the Cognito JWTs (JWKS signature, issuer, client, "
            "expiry): it accepts the app clients frontends register at install time, which a "
            "Cognito user pool authorizer could only learn through a redeploy of the API.",
            graphql,
        )
        self.acknowledge(
            "AwsSolutions-APIG2",
            "GET /health takes no body or parameters; POST /graphql validates its body.",
            health,
        )
        return api

    def _web_acl(self, api: apigateway.RestApi) -> None:
        acl = web_acl(self, "WebAcl", "api", scope="REGIONAL")
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            web_acl_arn=acl.attr_arn,
            resource_arn=api.deployment_stage.stage_arn,
        )

    def _alarms(self, api: apigateway.RestApi, worker: PlatformFunction, topic_arn: str) -> None:
        alarms = [
            cloudwatch.Alarm(
                self,
                "ApiServerErrorsAlarm",
                alarm_name=self.resource_name("api-5xx"),
                alarm_description="The API answered with server errors",
                metric=api.metric_server_error(period=cdk.Duration.minutes(5), statistic="Sum"),
                threshold=5,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "WorkerErrorsAlarm",
                alarm_name=self.resource_name("worker-errors"),
                alarm_description="The worker function failed",
                metric=worker.function.metric_errors(period=cdk.Duration.minutes(5), statistic="Sum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in alarms:
            cfn = alarm.node.default_child
            assert isinstance(cfn, cloudwatch.CfnAlarm)
            cfn.alarm_actions = [topic_arn]
