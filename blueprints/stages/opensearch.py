"""The platform's catalog search (data.all's OpenSearchStack / OpenSearchServerlessStack).

`OpenSearchServerless` false: an OpenSearch domain in the private subnets (one node, or
three zone-aware data nodes with dedicated masters under `ProdSizing`). True: a
serverless collection reached through its own VPC endpoint. Either way the outputs are the
same. Stateful: the index lives here; domain and collection are retained.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import VpcPlacement, accept_conditional_outputs, flag, if_, log_group, negation, when

ENGINE_VERSION = "OpenSearch_2.19"
#: The platform's roles that read and write the index (named by the lambda-api stage).
SEARCH_ROLES = ("api", "worker")


class OpenSearchStage(StageStack):
    SPEC = StageSpec(
        name="opensearch",
        description="OpenSearch domain or serverless collection of the platform's catalog",
        stateful=True,
        timeout=3600,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        prod = flag(self, "ProdSizing", "Production sizing: zone-aware data nodes, dedicated masters")
        serverless = flag(self, "OpenSearchServerless", "A serverless collection instead of a domain")
        provisioned = negation(self, "ProvisionedDomain", serverless)
        key = kms.Key(
            self,
            "SearchKey",
            description="Encrypts the platform's search index",
            alias=cdk.Fn.join("", ["alias/", self.resource_name("search")]),
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        security_group = ec2.CfnSecurityGroup(
            self,
            "SearchSecurityGroup",
            group_name=self.resource_name("search"),
            group_description="Search endpoint of the platform",
            vpc_id=placement.vpc_id,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    source_security_group_id=placement.security_group_id,
                    description="HTTPS from the platform's functions and tasks",
                )
            ],
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1", cidr_ip="127.0.0.1/32", description="No outbound traffic"
                )
            ],
        )
        roles = [
            cdk.Fn.join(
                "",
                ["arn:", cdk.Aws.PARTITION, ":iam::", cdk.Aws.ACCOUNT_ID, ":role/", self.resource_name(role)],
            )
            for role in SEARCH_ROLES
        ]
        domain = self._domain(placement, prod, key, security_group, roles)
        when(domain, provisioned)
        collection = self._collection(placement, key, security_group, roles, prod)
        when(collection, serverless)

        domain_resource = domain.node.default_child
        assert isinstance(domain_resource, opensearch.CfnDomain)
        collection_resource = collection.node.default_child
        assert isinstance(collection_resource, aoss.CfnCollection)
        accept_conditional_outputs(self)
        self.output(
            "SearchEndpoint",
            if_(
                serverless,
                collection_resource.attr_collection_endpoint,
                cdk.Fn.join("", ["https://", domain_resource.attr_domain_endpoint]),
            ),
            "HTTPS endpoint of the search index",
        )
        self.output(
            "SearchArn",
            if_(serverless, collection_resource.attr_arn, domain_resource.attr_arn),
            "ARN of the domain or collection (for IAM policies)",
        )
        self.output(
            "SearchService",
            if_(serverless, "aoss", "es"),
            "SigV4 service name of the endpoint: es (domain) or aoss (serverless)",
        )
        self.output("SearchSecurityGroupId", security_group.attr_group_id, "Security group of the endpoint")

    def _domain(
        self,
        placement: VpcPlacement,
        prod: cdk.CfnCondition,
        key: kms.Key,
        security_group: ec2.CfnSecurityGroup,
        roles: list[str],
    ) -> Construct:
        scope = Construct(self, "Domain")
        groups = {
            kind: log_group(
                self,
                kind.title().replace("_", ""),
                cdk.Fn.join("", ["/aws/opensearch/", self.resource_name(kind.lower().replace("_", "-"))]),
                scope=scope,
            )
            for kind in ("SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "ES_APPLICATION_LOGS")
        }
        publishing = logs.CfnResourcePolicy(
            scope,
            "LogPublishing",
            policy_name=self.resource_name("opensearch-logs"),
            policy_document=cdk.Fn.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                            "Resource": [g.log_group_arn for g in groups.values()],
                            "Condition": {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
                        }
                    ],
                }
            ),
        )
        domain = opensearch.CfnDomain(
            scope,
            "Resource",
            engine_version=ENGINE_VERSION,
            cluster_config=opensearch.CfnDomain.ClusterConfigProperty(
                instance_type=if_(prod, "r6g.large.search", "t3.medium.search"),
                instance_count=cdk.Token.as_number(if_(prod, 2, 1)),
                zone_awareness_enabled=cdk.Token.as_any(if_(prod, True, False)),
                zone_awareness_config=cdk.Token.as_any(if_(prod, {"AvailabilityZoneCount": 2}, cdk.Aws.NO_VALUE)),
                dedicated_master_enabled=cdk.Token.as_any(if_(prod, True, False)),
                dedicated_master_type=if_(prod, "m6g.large.search", cdk.Aws.NO_VALUE),
                dedicated_master_count=cdk.Token.as_number(if_(prod, 3, cdk.Aws.NO_VALUE)),
            ),
            ebs_options=opensearch.CfnDomain.EBSOptionsProperty(
                ebs_enabled=True,
                volume_type="gp3",
                volume_size=cdk.Token.as_number(if_(prod, 100, 20)),
            ),
            vpc_options=opensearch.CfnDomain.VPCOptionsProperty(
                # A domain without zone awareness takes exactly one subnet.
                subnet_ids=cdk.Token.as_list(if_(prod, placement.subnet_ids, [cdk.Fn.select(0, placement.subnet_ids)])),
                security_group_ids=[security_group.attr_group_id],
            ),
            encryption_at_rest_options=opensearch.CfnDomain.EncryptionAtRestOptionsProperty(
                enabled=True, kms_key_id=key.key_id
            ),
            node_to_node_encryption_options=opensearch.CfnDomain.NodeToNodeEncryptionOptionsProperty(enabled=True),
            domain_endpoint_options=opensearch.CfnDomain.DomainEndpointOptionsProperty(
                enforce_https=True, tls_security_policy="Policy-Min-TLS-1-2-PFS-2023-10"
            ),
            access_policies={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": roles},
                        "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"],
                        "Resource": cdk.Fn.join(
                            "",
                            ["arn:", cdk.Aws.PARTITION, ":es:", cdk.Aws.REGION, ":", cdk.Aws.ACCOUNT_ID, ":domain/*"],
                        ),
                    }
                ],
            },
            log_publishing_options={
                kind: opensearch.CfnDomain.LogPublishingOptionProperty(
                    cloud_watch_logs_log_group_arn=group.log_group_arn, enabled=True
                )
                for kind, group in groups.items()
            },
            software_update_options=opensearch.CfnDomain.SoftwareUpdateOptionsProperty(
                auto_software_update_enabled=True
            ),
        )
        domain.node.add_dependency(publishing)
        domain.cfn_options.deletion_policy = cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
        domain.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.RETAIN
        for rule in ("AwsSolutions-OS4", "AwsSolutions-OS7"):
            self.acknowledge(
                rule,
                "Dedicated master nodes and zone awareness are enabled by ProdSizing; a "
                "non-production install runs one data node.",
                domain,
            )
        self.acknowledge(
            "AwsSolutions-OS3",
            "The domain is only in the VPC behind its security group, and its access policy "
            "names the platform's two roles: an IP allow list would add nothing.",
            domain,
        )
        return scope

    def _collection(
        self,
        placement: VpcPlacement,
        key: kms.Key,
        security_group: ec2.CfnSecurityGroup,
        roles: list[str],
        prod: cdk.CfnCondition,
    ) -> Construct:
        scope = Construct(self, "Serverless")
        # Collection and policy names allow 32 characters: `{prefix}-{env}` fits (at most 31).
        name = cdk.Fn.join("-", [self.prefix, self.env_name])
        endpoint = aoss.CfnVpcEndpoint(
            scope,
            "VpcEndpoint",
            name=name,
            vpc_id=placement.vpc_id,
            subnet_ids=placement.subnet_ids,
            security_group_ids=[security_group.attr_group_id],
        )
        encryption = aoss.CfnSecurityPolicy(
            scope,
            "EncryptionPolicy",
            name=name,
            type="encryption",
            description="The collection is encrypted with the platform's search key",
            policy=cdk.Fn.to_json_string(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": [cdk.Fn.join("", ["collection/", name])]}],
                    "AWSOwnedKey": False,
                    "KmsARN": key.key_arn,
                }
            ),
        )
        network = aoss.CfnSecurityPolicy(
            scope,
            "NetworkPolicy",
            name=name,
            type="network",
            description="The collection is reachable only through the platform's VPC endpoint",
            policy=cdk.Fn.to_json_string(
                [
                    {
                        "Rules": [{"ResourceType": "collection", "Resource": [cdk.Fn.join("", ["collection/", name])]}],
                        "AllowFromPublic": False,
                        "SourceVPCEs": [endpoint.attr_id],
                    }
                ]
            ),
        )
        aoss.CfnAccessPolicy(
            scope,
            "DataAccessPolicy",
            name=name,
            type="data",
            description="The platform's API and worker read and write the catalog index",
            policy=cdk.Fn.to_json_string(
                [
                    {
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": [cdk.Fn.join("", ["index/", name, "/*"])],
                                "Permission": [
                                    "aoss:ReadDocument",
                                    "aoss:WriteDocument",
                                    "aoss:CreateIndex",
                                    "aoss:DescribeIndex",
                                    "aoss:UpdateIndex",
                                ],
                            },
                            {
                                "ResourceType": "collection",
                                "Resource": [cdk.Fn.join("", ["collection/", name])],
                                "Permission": [
                                    "aoss:DescribeCollectionItems",
                                    "aoss:CreateCollectionItems",
                                    "aoss:UpdateCollectionItems",
                                ],
                            },
                        ],
                        "Principal": roles,
                    }
                ]
            ),
        )
        collection = aoss.CfnCollection(
            scope,
            "Resource",
            name=name,
            type="SEARCH",
            description="Catalog index of the data.all platform",
            standby_replicas=if_(prod, "ENABLED", "DISABLED"),
        )
        collection.node.add_dependency(encryption)
        collection.node.add_dependency(network)
        collection.cfn_options.deletion_policy = cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
        collection.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.RETAIN
        return scope
