"""The sandbox's DynamoDB (moto, with `moto_internals.fix_dynamodb_isolation`): a refused
transaction changes nothing, and in particular does not undo another request's write.

AWS: TransactWriteItems is all or nothing and serializable with every other write. The
installer's ledger relies on it: a step marks itself `acting` in a transaction that checks
the run is still RUNNING, while the rollback and the other steps write beside it.
"""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import moto_internals

REGION = "us-east-1"
WRITES = 150


def _refused_check(table: str) -> list[dict]:
    """A transaction whose condition fails: the run is no longer RUNNING."""
    return [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "RUN#1"}},
                "ConditionExpression": "#status = :running",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":running": {"S": "RUNNING"}},
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "STEP#late"}},
                "UpdateExpression": "SET acting = :now",
                "ExpressionAttributeValues": {":now": {"S": "now"}},
            }
        },
    ]


@pytest.mark.usefixtures("aws")
def test_a_refused_transaction_loses_no_write_made_beside_it() -> None:
    moto_internals.fix_dynamodb_isolation()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="ledger", Item={"pk": {"S": "RUN#1"}, "status": {"S": "ROLLING_BACK"}})
    stop = threading.Event()
    answers: list[str] = []

    def refused() -> None:
        while not stop.is_set():
            try:
                dynamodb.transact_write_items(TransactItems=_refused_check("ledger"))
                answers.append("applied")
            except ClientError as error:
                answers.append(error.response["Error"]["Code"])

    workers = [threading.Thread(target=refused) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for index in range(WRITES):
            dynamodb.put_item(TableName="ledger", Item={"pk": {"S": f"STEP#{index}"}, "executed": {"BOOL": True}})
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    kept = [
        index
        for index in range(WRITES)
        if "Item" in dynamodb.get_item(TableName="ledger", Key={"pk": {"S": f"STEP#{index}"}})
    ]
    assert len(kept) == WRITES
    assert answers and set(answers) == {"TransactionCanceledException"}
    assert "Item" not in dynamodb.get_item(TableName="ledger", Key={"pk": {"S": "STEP#late"}})
