"""ACM's certificates, read by ARN."""

from __future__ import annotations

from typing import Any

from lambdas.data.aws import found

#: ACM's answers for an ARN the account has no certificate of (ResourceNotFoundException; a malformed ARN:
#: InvalidArnException).
_NOT_THERE = ("ResourceNotFoundException", "InvalidArnException")


def certificate(acm: Any, arn: str) -> tuple[dict[str, Any] | None, str]:
    """The certificate `arn` (DescribeCertificate's `Certificate`), or None and ACM's code when the account
    has none of that ARN (`acm` is a client of the certificate's region).
    https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html"""
    return found(lambda: dict(acm.describe_certificate(CertificateArn=arn)["Certificate"]), _NOT_THERE)
