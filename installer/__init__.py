"""dataall-installer: the operator's tools (CLI, release build and publish, local sandbox)."""

from __future__ import annotations

from importlib import metadata

__version__ = "0.1.0"

#: Distributions the Lambdas import at run time; shipped as one layer, at the versions
#: installed here (which `constraints.txt` pins), so AWS runs what the tests ran.
LAYER_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "jmespath",
    "typing_extensions",
    "pydantic",
    "pydantic_core",
    "annotated-types",
    "typing-inspection",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "attrs",
    "pg8000",
    "scramp",
    "asn1crypto",
    "python-dateutil",
    "six",
    "alembic",
    "SQLAlchemy",
    "Mako",
    "MarkupSafe",
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
)


def _pinned(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{name}=={metadata.version(name)}" for name in names)


def layer_requirements() -> tuple[str, ...]:
    return _pinned(LAYER_DISTRIBUTIONS)
