"""moto's table queries read only the queried partition (hashmatch_tools.local.moto_server) and
answer exactly what DynamoDB would: every key condition, order, page and filter, checked against
answers computed here from the items put."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hashmatch_tools.local.moto_server import partition_queries
from hashmatch_tools.local.stack import LOCAL_CREDENTIALS, _MotoProcess

PARTITIONS = 12
ROWS = 40


def _table(client: Any) -> None:
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byg",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _rows() -> list[dict[str, str]]:
    rng = random.Random(7)
    rows = [
        {"pk": f"P#{p}", "sk": f"{s:05d}", "g": f"G#{rng.randrange(3)}", "n": str(rng.randrange(10))}
        for p in range(PARTITIONS)
        for s in rng.sample(range(100_000), ROWS)
    ]
    rng.shuffle(rows)
    return rows


def _query_all(client: Any, **kwargs: Any) -> list[dict[str, str]]:
    found, start = [], None
    while True:
        page = client.query(TableName="t", **kwargs, **({"ExclusiveStartKey": start} if start else {}))
        found += [{name: value["S"] for name, value in item.items()} for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def _check_queries(client: Any, rows: list[dict[str, str]]) -> None:
    def partition(pk: str) -> list[dict[str, str]]:
        return sorted((r for r in rows if r["pk"] == pk), key=lambda r: r["sk"])

    for p in (0, 5, PARTITIONS - 1):
        pk = f"P#{p}"
        values = {":p": {"S": pk}}
        assert _query_all(client, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values) == partition(pk)
        assert _query_all(
            client, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values, ScanIndexForward=False, Limit=7
        ) == list(reversed(partition(pk)))
        middle = partition(pk)[len(partition(pk)) // 2]["sk"]
        assert _query_all(
            client,
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={**values, ":s": {"S": middle}},
            Limit=3,
        ) == [r for r in partition(pk) if r["sk"] > middle]
        assert _query_all(
            client,
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            FilterExpression="n = :n",
            ExpressionAttributeValues={**values, ":s": {"S": "0"}, ":n": {"S": "3"}},
        ) == [r for r in partition(pk) if r["sk"].startswith("0") and r["n"] == "3"]
    assert _query_all(client, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#none"}}) == []
    by_g = _query_all(
        client, IndexName="byg", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "G#1"}}
    )
    assert sorted(by_g, key=lambda r: (r["sk"], r["pk"])) == sorted(
        (r for r in rows if r["g"] == "G#1"), key=lambda r: (r["sk"], r["pk"])
    )


def test_partition_queries_answer_as_dynamodb_does() -> None:
    partition_queries()
    partition_queries()  # a second install changes nothing
    rows = _rows()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _table(client)
        for row in rows:
            client.put_item(TableName="t", Item={name: {"S": value} for name, value in row.items()})
        _check_queries(client, rows)


@pytest.fixture
def moto_process(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = _MotoProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_stacks_moto_process_serves_partition_queries(moto_process: _MotoProcess) -> None:
    host, port = moto_process.get_host_and_port()
    client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
    _table(client)
    rows = _rows()[:120]
    for row in rows:
        client.put_item(TableName="t", Item={name: {"S": value} for name, value in row.items()})
    _check_queries(client, rows)
