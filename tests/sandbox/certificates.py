"""ACM certificates as an operator brings them: issued, for the names the platform answers on."""

from __future__ import annotations

import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def issued_certificate(acm: Any, domain: str, *alternative_names: str) -> str:
    """The ARN of an ISSUED certificate for `domain` (and `alternative_names`), in the ACM
    client's region: a self-signed certificate, imported (requested ones stay
    PENDING_VALIDATION until their DNS validation, which a sandbox never sees)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in (domain, *alternative_names)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    arn = acm.import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
    )["CertificateArn"]
    return str(arn)
