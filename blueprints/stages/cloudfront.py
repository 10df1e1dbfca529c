"""The internet-facing frontend (data.all's CloudfrontStack): S3 behind CloudFront.

The page lives in a private bucket that only this distribution reads (origin access
control). A small custom resource, the `site` function, writes the page and its
`config.json` on every deploy that changes them. With a custom domain the distribution
answers on it with the operator's certificate (which CloudFront requires in us-east-1).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.stages.frontend import Frontend
from blueprints.toolkit import accept_arn_parameters, bucket_name, if_, web_acl, when

#: AWS managed policies (fixed ids, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
#: The hosted zone of every CloudFront alias target (fixed by AWS).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


class CloudFrontStage(StageStack):
    SPEC = StageSpec(
        name="cloudfront",
        description="The platform's page in S3 behind CloudFront, with WAF",
        when={"option": "InternetFacing", "equals": True},
        timeout=3600,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        frontend = Frontend(self)
        accept_arn_parameters(self)
        domain = frontend.domain
        has_domain = frontend.has_custom_domain
        bucket = s3.Bucket(
            self,
            "Site",
            bucket_name=bucket_name(self, "web"),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # The page is rebuilt from the release at every deploy: nothing to keep.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        bucket_resource = bucket.node.default_child
        assert isinstance(bucket_resource, s3.CfnBucket)
        bucket_resource.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=frontend.access_logs_bucket, log_file_prefix="s3/web/"
        )
        in_us_east_1 = cdk.CfnCondition(
            self,
            "InUsEast1",
            expression=cdk.Fn.condition_equals(cdk.Aws.REGION, "us-east-1"),
        )
        # CloudFront takes web ACLs of scope CLOUDFRONT, which exist only in us-east-1.
        acl = web_acl(self, "WebAcl", "web", scope="CLOUDFRONT")
        when(acl, in_us_east_1)
        access = cloudfront.CfnOriginAccessControl(
            self,
            "OriginAccess",
            origin_access_control_config=cloudfront.CfnOriginAccessControl.OriginAccessControlConfigProperty(
                name=self.resource_name("web"),
                origin_access_control_origin_type="s3",
                signing_behavior="always",
                signing_protocol="sigv4",
                description="CloudFront reads the platform's page bucket",
            ),
        )
        distribution = cloudfront.CfnDistribution(
            self,
            "Distribution",
            distribution_config=cloudfront.CfnDistribution.DistributionConfigProperty(
                enabled=True,
                comment=self.resource_name("web"),
                default_root_object="index.html",
                http_version="http2and3",
                ipv6_enabled=True,
                price_class="PriceClass_100",
                aliases=cdk.Token.as_list(if_(has_domain, [domain.name], cdk.Aws.NO_VALUE)),
                viewer_certificate=cdk.Token.as_any(
                    if_(
                        has_domain,
                        {
                            "AcmCertificateArn": domain.certificate_arn,
                            "SslSupportMethod": "sni-only",
                            "MinimumProtocolVersion": "TLSv1.2_2021",
                        },
                        {"CloudFrontDefaultCertificate": True},
                    )
                ),
                web_acl_id=if_(in_us_east_1, acl.attr_arn, cdk.Aws.NO_VALUE),
                origins=[
                    cloudfront.CfnDistribution.OriginProperty(
                        id="site",
                        domain_name=bucket.bucket_regional_domain_name,
                        origin_access_control_id=access.attr_id,
                        s3_origin_config=cloudfront.CfnDistribution.S3OriginConfigProperty(origin_access_identity=""),
                    )
                ],
                default_cache_behavior=cloudfront.CfnDistribution.DefaultCacheBehaviorProperty(
                    target_origin_id="site",
                    viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD"],
                    compress=True,
                    cache_policy_id=CACHING_OPTIMIZED,
                    response_headers_policy_id=SECURITY_HEADERS,
                ),
                logging=cloudfront.CfnDistribution.LoggingProperty(
                    bucket=cdk.Fn.join("", [frontend.access_logs_bucket, ".s3.amazonaws.com"]),
                    prefix="cloudfront/",
                    include_cookies=False,
                ),
            ),
        )
        for rule, reason in (
            ("AwsSolutions-CFR1", "The platform serves an organization's staff wherever they "
             "work; sign-in through Cognito, not geography, decides who gets in."),
            ("AwsSolutions-CFR2", "The CLOUDFRONT web ACL is attached where it can exist (a "
             "us-east-1 install); elsewhere the page is static and the API has its own ACL."),
            ("AwsSolutions-CFR4", "Without a custom domain CloudFront's default certificate "
             "sets the TLS floor; with one the distribution requires TLSv1.2_2021."),
        ):  # fmt: skip
            self.acknowledge(rule, reason, distribution)
        distribution_arn = cdk.Fn.join(
            "",
            ["arn:", cdk.Aws.PARTITION, ":cloudfront::", cdk.Aws.ACCOUNT_ID, ":distribution/",
             distribution.ref],
        )  # fmt: skip
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontReadsThePage",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"AWS:SourceArn": distribution_arn}},
            )
        )
        record = route53.CfnRecordSet(
            self,
            "DomainRecord",
            hosted_zone_id=domain.hosted_zone_id,
            name=domain.name,
            type="A",
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=distribution.attr_domain_name, hosted_zone_id=CLOUDFRONT_ZONE_ID
            ),
        )
        when(record, has_domain)

        host = if_(has_domain, domain.name, distribution.attr_domain_name)
        url = cdk.Fn.join("", ["https://", host, "/"])
        client = frontend.app_client(url)
        site = frontend.site_function()
        site.allow(["s3:PutObject", "s3:DeleteObject"], [bucket.arn_for_objects("*")])
        site.allow(["s3:ListBucket"], [bucket.bucket_arn])
        site.allow(["cloudfront:CreateInvalidation"], [distribution_arn])
        self.acknowledge(
            f"AwsSolutions-IAM5[Resource::<{self.resolve(self.get_logical_id(bucket_resource))}.Arn>/*]",
            "The publisher writes and removes the page's files, every object of the page's own bucket.",
            site.role,
        )
        publisher = cdk.CfnResource(
            self,
            "SitePublisher",
            type="Custom::SitePublisher",
            properties={
                "ServiceToken": site.function.function_arn,
                "Bucket": bucket.bucket_name,
                "DistributionId": distribution.ref,
                "SiteVersion": frontend.site_version(),
                "Config": frontend.site_config(url, client),
            },
        )
        # The role's policy must exist before the function runs, and outlive it on delete.
        publisher.node.add_dependency(site.role)

        self.output("Url", url, "Address of the platform's page")
        self.output("DistributionId", distribution.ref, "CloudFront distribution")
        self.output("DistributionDomainName", distribution.attr_domain_name, "CloudFront host")
        self.output("SiteBucketName", bucket.bucket_name, "Bucket of the page")
        self.output("AppClientId", client.ref, "Cognito app client of the page")
