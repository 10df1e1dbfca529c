"""ACM's certificates, read by ARN."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

#: ACM's answers for an ARN the account has no certificate of (ResourceNotFoundException; a malformed ARN:
#: InvalidArnException).
_NOT_THERE = ("ResourceNotFoundException", "InvalidArnException")


def certificate(acm: Any, arn: str) -> tuple[dict[str, Any] | None, str]:
    """The certificate `arn` (DescribeCertificate's `Certificate`), or None and ACM's code when the account
    has none of that ARN (`acm` is a client of the certificate's region).
    https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html"""
    try:
        return dict(acm.describe_certificate(CertificateArn=arn)["Certificate"]), ""
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in _NOT_THERE:
            raise
        return None, code
