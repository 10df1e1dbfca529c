"""The internal frontend (data.all's AlbFrontStack): an internal Application Load Balancer.

The balancer sits in the private subnets and answers on the operator's domain with the
operator's certificate (HTTPS only); its target is the `site` function, which serves the
same page as the CloudFront frontend. Reachable only from networks routed into the VPC.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.stages.frontend import Frontend
from blueprints.toolkit import VpcPlacement, accept_arn_parameters, web_acl

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


class AlbFrontStage(StageStack):
    SPEC = StageSpec(
        name="albfront",
        description="The platform's page behind an internal Application Load Balancer",
        when={"option": "InternetFacing", "equals": False},
        timeout=1800,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        frontend = Frontend(self)
        accept_arn_parameters(self)
        domain = frontend.domain
        url = cdk.Fn.join("", ["https://", domain.name, "/"])
        client = frontend.app_client(url)
        site = frontend.site_function({"SITE_CONFIG": self.to_json_string(frontend.site_config(url, client))})

        security_group = ec2.CfnSecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            group_name=self.resource_name("albfront"),
            group_description="Internal load balancer of the platform page",
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
            # Lambda targets are invoked by the service, not over the balancer's network.
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1", cidr_ip="127.0.0.1/32", description="No outbound traffic"
                )
            ],
        )
        self.acknowledge(
            "AwsSolutions-EC23",
            "The balancer is internal, in private subnets: only networks routed into the VPC "
            "reach it, and their ranges are the operator's.",
            security_group,
        )
        balancer = elbv2.CfnLoadBalancer(
            self,
            "LoadBalancer",
            name=cdk.Fn.join("-", [self.prefix, self.env_name]),
            type="application",
            scheme="internal",
            subnets=placement.subnet_ids,
            security_groups=[security_group.attr_group_id],
            load_balancer_attributes=[
                elbv2.CfnLoadBalancer.LoadBalancerAttributeProperty(key=key, value=value)
                for key, value in (
                    ("access_logs.s3.enabled", "true"),
                    ("access_logs.s3.bucket", frontend.access_logs_bucket),
                    ("access_logs.s3.prefix", "alb"),
                    ("routing.http.drop_invalid_header_fields.enabled", "true"),
                    ("routing.http.desync_mitigation_mode", "strictest"),
                )
            ],
        )
        permission = lambda_.CfnPermission(
            self,
            "LoadBalancerInvokesSite",
            action="lambda:InvokeFunction",
            function_name=site.function.function_arn,
            principal="elasticloadbalancing.amazonaws.com",
        )
        targets = elbv2.CfnTargetGroup(
            self,
            "SiteTargets",
            name=cdk.Fn.join("-", [self.prefix, self.env_name]),
            target_type="lambda",
            targets=[elbv2.CfnTargetGroup.TargetDescriptionProperty(id=site.function.function_arn)],
            health_check_enabled=True,
            health_check_path="/index.html",
        )
        # ELB checks its permission to invoke the function when the target is registered.
        targets.node.add_dependency(permission)
        elbv2.CfnListener(
            self,
            "HttpsListener",
            load_balancer_arn=balancer.ref,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificates=[elbv2.CfnListener.CertificateProperty(certificate_arn=domain.certificate_arn)],
            default_actions=[elbv2.CfnListener.ActionProperty(type="forward", target_group_arn=targets.ref)],
        )
        acl = web_acl(self, "WebAcl", "albfront", scope="REGIONAL")
        wafv2.CfnWebACLAssociation(self, "WebAclAssociation", web_acl_arn=acl.attr_arn, resource_arn=balancer.ref)
        route53.CfnRecordSet(
            self,
            "DomainRecord",
            hosted_zone_id=domain.hosted_zone_id,
            name=domain.name,
            type="A",
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=balancer.attr_dns_name,
                hosted_zone_id=balancer.attr_canonical_hosted_zone_id,
                evaluate_target_health=True,
            ),
        )

        self.output("Url", url, "Address of the platform's page")
        self.output("LoadBalancerDnsName", balancer.attr_dns_name, "Internal DNS name of the ALB")
        self.output("AppClientId", client.ref, "Cognito app client of the page")
