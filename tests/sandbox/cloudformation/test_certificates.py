"""ACM certificates made by CloudFormation, validated through DNS in Route 53: data.all's custom
domain (`custom_domain` with a hosted zone and no certificate ARN) makes one for its CloudFront
distribution, with the distribution's alias record in the same zone.

AWS: the `AWS::CertificateManager::Certificate` resource requests the certificate and, for each of
its `DomainValidationOptions` naming a `HostedZoneId`, writes the name's validation CNAME into that
zone; it completes once ACM has issued the certificate, and a name whose record never appears
keeps the stack waiting
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-certificatemanager-certificate-domainvalidationoption.html,
https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.cloudformation.conftest import Clients, events, settle

REGION = "us-east-1"  # CloudFront takes certificates of us-east-1 only
ZONE = "dataall.example.com"
#: CloudFront's hosted zone, the one every alias record to a distribution names
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"


def hosted_zone(clients: Clients, name: str = ZONE) -> str:
    """A public hosted zone made through Route 53's API: its id (moto draws it)."""
    zone = clients("route53", REGION).create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def certificate(*alternative_names: str, domain: str = ZONE, zone: Any = None) -> dict[str, Any]:
    return {
        "Type": "AWS::CertificateManager::Certificate",
        "Properties": {
            "DomainName": domain,
            "SubjectAlternativeNames": list(alternative_names),
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [{"DomainName": domain, "HostedZoneId": zone or {"Ref": "ZoneId"}}],
            "Tags": [{"Key": "Application", "Value": "dataall-test"}],
        },
    }


def custom_domain_template() -> dict[str, Any]:
    """The shapes of data.all's custom-domain CloudFront stack: certificate, distribution, alias."""
    return {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {
            "Certificate": certificate(f"*.{ZONE}"),
            "Cdn": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Aliases": [ZONE],
                        "ViewerCertificate": {
                            "AcmCertificateArn": {"Ref": "Certificate"},
                            "SslSupportMethod": "sni-only",
                            "MinimumProtocolVersion": "TLSv1.2_2021",
                        },
                        "Origins": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {}}],
                        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
                    }
                },
            },
            "Alias": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "HostedZoneId": {"Ref": "ZoneId"},
                    "Name": f"{ZONE}.",
                    "Type": "A",
                    "AliasTarget": {"DNSName": {"Fn::GetAtt": ["Cdn", "DomainName"]}, "HostedZoneId": CLOUDFRONT_ZONE},
                },
            },
        },
        "Outputs": {
            "CertificateArn": {"Value": {"Ref": "Certificate"}},
            "DomainName": {"Value": {"Fn::GetAtt": ["Cdn", "DomainName"]}},
        },
    }


def create(clients: Clients, template: dict[str, Any], zone_id: str, name: str = "site") -> dict[str, Any]:
    cfn = clients("cloudformation", REGION)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ZoneId", "ParameterValue": zone_id}],
    )
    return settle(cfn, name)


def records(clients: Clients, zone_id: str, kind: str) -> list[dict[str, Any]]:
    found = clients("route53", REGION).list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [record for record in found if record["Type"] == kind]


def failure(clients: Clients, stack: str, logical_id: str) -> str:
    (reason,) = [
        str(reason)
        for found, status, reason in events(clients("cloudformation", REGION), stack)
        if found == logical_id and status.endswith("_FAILED")
    ]
    return reason


def test_a_dns_validated_certificate_its_distribution_and_alias_record_create_and_delete(clients: Clients) -> None:
    """AWS: CloudFormation writes the validation CNAME DescribeCertificate names into the zone
    given (one record for `zone` and `*.zone`), ACM issues the certificate, CloudFront takes it for
    the alias, and the alias A record to the distribution (CloudFront's zone Z2FDTNDATAQYW2) is in
    the zone. Deleting the stack deletes the distribution, then the certificate, and leaves the
    validation record (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html;
    left on delete: aws-cloudformation/cloudformation-coverage-roadmap#1603)."""
    zone_id = hosted_zone(clients)
    acm, cloudfront = clients("acm", REGION), clients("cloudfront", REGION)

    described = create(clients, custom_domain_template(), zone_id)

    assert described["StackStatus"] == "CREATE_COMPLETE", events(clients("cloudformation", REGION), "site")
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}
    issued = acm.describe_certificate(CertificateArn=outputs["CertificateArn"])["Certificate"]
    assert issued["Status"] == "ISSUED"
    assert (issued["DomainName"], sorted(issued["SubjectAlternativeNames"])) == (ZONE, [f"*.{ZONE}", ZONE])
    assert {option["ValidationStatus"] for option in issued["DomainValidationOptions"]} == {"SUCCESS"}
    wanted = {
        (option["ResourceRecord"]["Name"], option["ResourceRecord"]["Value"])
        for option in issued["DomainValidationOptions"]
    }
    assert len(wanted) == 1  # `*.zone` is validated by the record of `zone`
    cnames = records(clients, zone_id, "CNAME")
    assert [(record["Name"], record["ResourceRecords"][0]["Value"]) for record in cnames] == sorted(wanted)
    (alias,) = records(clients, zone_id, "A")
    assert alias["Name"] == f"{ZONE}."
    assert alias["AliasTarget"]["HostedZoneId"] == CLOUDFRONT_ZONE
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == outputs["DomainName"]
    (distribution,) = cloudfront.list_distributions()["DistributionList"]["Items"]
    assert distribution["Aliases"]["Items"] == [ZONE]

    clients("cloudformation", REGION).delete_stack(StackName="site")
    assert settle(clients("cloudformation", REGION), described["StackId"])["StackStatus"] == "DELETE_COMPLETE"

    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []
    assert acm.list_certificates()["CertificateSummaryList"] == []
    assert records(clients, zone_id, "A") == []
    assert records(clients, zone_id, "CNAME") == cnames  # left, as CloudFormation leaves it


def test_an_unknown_hosted_zone_id_fails_the_certificate_with_route_53s_words(clients: Clients) -> None:
    """AWS: Route 53 answers NoSuchHostedZone, "No hosted zone found with ID: ..." for a zone id
    that does not exist (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html);
    the certificate fails with it and the stack rolls back, leaving no certificate."""
    hosted_zone(clients)
    described = create(clients, custom_domain_template(), "Z0000000000NOSUCHZONE")

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = failure(clients, "site", "Certificate")
    assert "NoSuchHostedZone" in reason and "Z0000000000NOSUCHZONE" in reason
    assert clients("acm", REGION).list_certificates()["CertificateSummaryList"] == []


def test_a_name_whose_hosted_zone_is_not_given_fails_naming_it_rather_than_waiting(clients: Clients) -> None:
    """AWS: a name of the certificate without a `HostedZoneId` in DomainValidationOptions gets no
    validation record, and the stack waits in CREATE_IN_PROGRESS until someone adds it; the sandbox
    fails the certificate at once, naming that name (its zone exists, but was not given)."""
    zone_id = hosted_zone(clients)
    hosted_zone(clients, "other.example.org")
    template = {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {"Certificate": certificate(f"*.{ZONE}", "api.other.example.org")},
    }

    described = create(clients, template, zone_id)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = failure(clients, "site", "Certificate")
    assert "api.other.example.org" in reason and f"*.{ZONE}" not in reason
    assert clients("acm", REGION).list_certificates()["CertificateSummaryList"] == []


def test_tags_and_logging_preference_update_in_place_and_a_new_name_replaces_the_certificate(
    clients: Clients,
) -> None:
    """AWS (the resource's schema): `Tags` and `CertificateTransparencyLoggingPreference` update in
    place (AddTagsToCertificate / RemoveTagsFromCertificate, UpdateCertificateOptions); a new
    `SubjectAlternativeNames` replaces the certificate, and the old one is deleted."""
    zone_id = hosted_zone(clients)
    cfn, acm = clients("cloudformation", REGION), clients("acm", REGION)
    template = {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {"Certificate": certificate(f"*.{ZONE}")},
        "Outputs": {"Arn": {"Value": {"Ref": "Certificate"}}},
    }
    first = create(clients, template, zone_id)["Outputs"][0]["OutputValue"]

    properties = template["Resources"]["Certificate"]["Properties"]
    properties["Tags"] = [{"Key": "Team", "Value": "data"}]
    properties["CertificateTransparencyLoggingPreference"] = "DISABLED"
    cfn.update_stack(StackName="site", TemplateBody=json.dumps(template), UsePreviousTemplate=False,
                     Parameters=[{"ParameterKey": "ZoneId", "UsePreviousValue": True}])  # fmt: skip
    updated = settle(cfn, "site")
    in_place = updated["Outputs"][0]["OutputValue"]
    described = acm.describe_certificate(CertificateArn=in_place)["Certificate"]
    tags = acm.list_tags_for_certificate(CertificateArn=in_place)["Tags"]

    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert in_place == first
    assert tags == [{"Key": "Team", "Value": "data"}]
    assert described["Options"]["CertificateTransparencyLoggingPreference"] == "DISABLED"

    properties["SubjectAlternativeNames"] = [f"www.{ZONE}"]  # a name of its own: a record of its own
    properties["DomainValidationOptions"].append({"DomainName": f"www.{ZONE}", "HostedZoneId": {"Ref": "ZoneId"}})
    cfn.update_stack(StackName="site", TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": "ZoneId", "UsePreviousValue": True}])  # fmt: skip
    replaced = settle(cfn, "site")
    new = replaced["Outputs"][0]["OutputValue"]

    assert replaced["StackStatus"] == "UPDATE_COMPLETE"
    assert new != first
    assert [found["CertificateArn"] for found in acm.list_certificates()["CertificateSummaryList"]] == [new]
    assert acm.describe_certificate(CertificateArn=new)["Certificate"]["Status"] == "ISSUED"


def test_a_certificate_a_distribution_outside_the_stack_uses_is_not_deleted(clients: Clients) -> None:
    """AWS: DeleteCertificate of a certificate in use (here by a CloudFront distribution) is refused
    with ResourceInUseException (https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html):
    the certificate's delete fails, and so does the stack's."""
    zone_id = hosted_zone(clients)
    cfn = clients("cloudformation", REGION)
    template = {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {"Certificate": certificate(f"*.{ZONE}")},
        "Outputs": {"Arn": {"Value": {"Ref": "Certificate"}}},
    }
    arn = create(clients, template, zone_id)["Outputs"][0]["OutputValue"]
    config = custom_domain_template()["Resources"]["Cdn"]["Properties"]["DistributionConfig"]
    clients("cloudfront", REGION).create_distribution(
        DistributionConfig={
            **config,
            "CallerReference": "outside",
            "Comment": "",
            "Aliases": {"Quantity": 1, "Items": [ZONE]},
            "ViewerCertificate": {"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only"},
            "Origins": {
                "Quantity": 1,
                "Items": [{**config["Origins"][0], "S3OriginConfig": {"OriginAccessIdentity": ""}}],
            },
        }
    )

    cfn.delete_stack(StackName="site")
    deleted = settle(cfn, "site")

    assert deleted["StackStatus"] == "DELETE_FAILED"
    assert "ResourceInUseException" in failure(clients, "site", "Certificate")
    assert clients("acm", REGION).describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


# --------------------------------------------------------------------------- data.all's own stack
CUSTOM_DOMAIN = {"hosted_zone_name": ZONE, "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}


@pytest.mark.slow
def test_data_alls_custom_domain_cloudfront_stack_creates_and_deletes(
    clients: Clients, sandbox: Any, data_all_pace: None
) -> None:
    """AWS: data.all's CloudFront stack synthesized with `custom_domain` (a hosted zone, no
    certificate ARN) deploys in us-east-1: its certificate is validated in the zone, its
    distribution takes it for the zone's name, and its alias record lands in the zone; the stack
    deletes. The template's zone id is that of a zone made here."""
    from installer.upstream import shared_upstream, synthesize
    from tests.sandbox.cloudformation.test_cdk_output import _publish_assets

    assembly = synthesize(
        Path(shared_upstream("2.9.0")) / "source", "2.9.0", environment={"custom_domain": CUSTOM_DOMAIN}
    )
    stage = next(assembly.glob("assembly-*-cloudfront-stage"))
    nested = next(stage.glob("*CloudFront*.nested.template.json"))
    zone_id = hosted_zone(clients)
    template = json.loads(nested.read_text().replace(CUSTOM_DOMAIN["hosted_zone_id"], zone_id))
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::CertificateManager::Certificate", "AWS::Route53::RecordSet"} <= kinds
    _publish_assets(stage, clients("s3", REGION), REGION)
    cfn = clients("cloudformation", REGION)

    stack_id = cfn.create_stack(
        StackName="dataall-cloudfront", TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )["StackId"]  # fmt: skip
    created = settle(cfn, stack_id, timeout=300)

    assert created["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack_id)
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    assert len(resources) == len(template["Resources"])
    assert {resource["ResourceStatus"] for resource in resources} == {"CREATE_COMPLETE"}
    assert [record["Name"] for record in records(clients, zone_id, "A")] == [f"{ZONE}."]
    assert len(records(clients, zone_id, "CNAME")) == 1

    cfn.delete_stack(StackName=stack_id)
    assert settle(cfn, stack_id, timeout=300)["StackStatus"] == "DELETE_COMPLETE", events(cfn, stack_id)
    assert clients("acm", REGION).list_certificates()["CertificateSummaryList"] == []
