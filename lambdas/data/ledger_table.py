"""The ledger table's shape: its keys and the attribute its items expire by.

The bootstrap stack declares the table from these, and the unit tests create their moto
table from them, so a test's table cannot drift from the one the installer runs on.
"""

from __future__ import annotations

from typing import Final

#: (attribute, DynamoDB type, key type), partition key first.
KEYS: Final = (("pk", "S", "HASH"), ("sk", "S", "RANGE"))
PARTITION_KEY: Final = KEYS[0][0]
SORT_KEY: Final = KEYS[1][0]
#: Items (runs and their history) that carry it are deleted by DynamoDB after that epoch.
TTL_ATTRIBUTE: Final = "expires_at"


def key_schema() -> list[dict[str, str]]:
    """The `KeySchema` of CreateTable (and of the synthesized template)."""
    return [{"AttributeName": name, "KeyType": key_type} for name, _, key_type in KEYS]


def attribute_definitions() -> list[dict[str, str]]:
    """The `AttributeDefinitions` of CreateTable: the key attributes only."""
    return [{"AttributeName": name, "AttributeType": kind} for name, kind, _ in KEYS]
