"""IAM condition evaluation used for bucket policies in the sandbox (AWS's semantics)."""

from __future__ import annotations

import pytest

from sandbox.moto_internals import conditions_match

CONTEXT = {"aws:SecureTransport": "true", "aws:SourceArn": "arn:aws:s3:::logs-bucket"}


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs-*"}}, True),
        ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, False),  # key absent: no match
        ({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}, True),
        ({"StringNotLike": {"aws:SourceArn": ["arn:aws:s3:::other*", "arn:aws:s3:::x*"]}}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, False),  # unknown operator: never applies
    ],
)
def test_a_statement_applies_only_when_its_condition_matches_the_request(condition: dict, applies: bool) -> None:
    assert conditions_match(condition, CONTEXT) is applies
