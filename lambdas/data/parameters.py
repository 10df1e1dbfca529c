"""SSM parameters of the account the installer reads (a value data.all set before the installer came)."""

from __future__ import annotations

from typing import Any

from lambdas.data.aws import ClientError


def read_parameter(ssm: Any, name: str) -> str | None:
    """The parameter's value, or None when the account has no such parameter."""
    try:
        answer = ssm.get_parameter(Name=name, WithDecryption=True)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return str(answer["Parameter"]["Value"])
