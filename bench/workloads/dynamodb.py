"""dynamodb: PutItem, GetItem, Query (100 items of a large table) and BatchWriteItem from N
boto3 client processes.

Setup (not timed): one table with a string partition key and a numeric sort key, loaded with
`query_table_items` items (100,000; 2,000 in --quick runs) spread over partitions of 100
items, through BatchWriteItem. Then four loads, one after the other:
  PutItem         each client writes its own keys (1 KB items), round robin over 1,000 keys
  GetItem         each client reads random keys among the loaded items (ConsistentRead)
  Query           each client queries one random partition: 100 items per call
  BatchWriteItem  each client writes 25 items per call under its own partition
and PutItem, GetItem and BatchWriteItem again from light wire clients (bench/wire.py).
Every answer is checked (a wrong or empty answer counts as a failure, not a fast call).
"""

from __future__ import annotations

import random
from typing import Any

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.wire import WireClient
from bench.workloads.base import EndpointWorkload, Measured, Options

TABLE = "bench-ddb"
PARTITION_SIZE = 100
FULL_ITEMS = 100_000
QUICK_ITEMS = 2_000
PAYLOAD = "x" * 1000


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def _partitions(items: int) -> int:
    return max(1, items // PARTITION_SIZE)


def _load(endpoint: str, items: int) -> None:
    ddb = client("dynamodb", endpoint)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    batch: list[dict[str, Any]] = []
    for number in range(items):
        partition, position = divmod(number, PARTITION_SIZE)
        batch.append({"PutRequest": {"Item": {
            "pk": {"S": f"p{partition}"}, "sk": {"N": str(position)}, "v": {"S": "value"}, "n": {"N": str(number)},
        }}})
        if len(batch) == 25:
            _write_all(ddb, batch)
            batch = []
    if batch:
        _write_all(ddb, batch)


def _write_all(ddb: Any, batch: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {TABLE: batch}
    for _ in range(20):
        answer = ddb.batch_write_item(RequestItems=pending)
        pending = answer.get("UnprocessedItems") or {}
        if not pending:
            return
    raise WrongAnswer("BatchWriteItem kept items unprocessed")


# The op factories are module-level so that they pickle into the client processes; the
# loaded table's size travels in the endpoint string's fragment (#items=N).
def _split(endpoint: str) -> tuple[str, int]:
    url, _, fragment = endpoint.partition("#items=")
    return url, int(fragment or QUICK_ITEMS)


def put_item_op(endpoint: str, index: int) -> Operation:
    url, _ = _split(endpoint)
    ddb = client("dynamodb", url)
    counter = iter(range(10**9))

    def put_item() -> None:
        number = next(counter) % 1000
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"put-{index}"}, "sk": {"N": str(number)}, "v": {"S": PAYLOAD}})

    return put_item


def get_item_op(endpoint: str, index: int) -> Operation:
    url, items = _split(endpoint)
    ddb = client("dynamodb", url)
    rng = random.Random(index)

    def get_item() -> None:
        number = rng.randrange(items)
        partition, position = divmod(number, PARTITION_SIZE)
        answer = ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"p{partition}"}, "sk": {"N": str(position)}},
                              ConsistentRead=True)
        if answer.get("Item", {}).get("n") != {"N": str(number)}:
            raise WrongAnswer(f"GetItem of item {number} answered {answer.get('Item')}")

    return get_item


def query_op(endpoint: str, index: int) -> Operation:
    url, items = _split(endpoint)
    ddb = client("dynamodb", url)
    rng = random.Random(1000 + index)

    def query() -> None:
        partition = rng.randrange(_partitions(items))
        answer = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": f"p{partition}"}})
        if answer["Count"] != PARTITION_SIZE:
            raise WrongAnswer(f"Query of partition {partition} returned {answer['Count']} items")

    return query


def batch_write_op(endpoint: str, index: int) -> Operation:
    url, _ = _split(endpoint)
    ddb = client("dynamodb", url)
    counter = iter(range(10**9))

    def batch_write_item() -> None:
        base = (next(counter) % 40) * 25
        writes = [{"PutRequest": {"Item": {"pk": {"S": f"batch-{index}"}, "sk": {"N": str(base + i)}, "v": {"S": "value"}}}}
                  for i in range(25)]
        answer = ddb.batch_write_item(RequestItems={TABLE: writes})
        if answer.get("UnprocessedItems"):
            raise WrongAnswer("BatchWriteItem left items unprocessed")

    return batch_write_item


# The same three write/read loads from light clients (bench/wire.py): the servers' capacity,
# with less of the clients' own CPU in the way on a shared 2-core machine.
def wire_put_item_op(endpoint: str, index: int) -> Operation:
    url, _ = _split(endpoint)
    ddb = WireClient("dynamodb", url)
    counter = iter(range(10**9))

    def put_item() -> None:
        number = next(counter) % 1000
        ddb.call("PutItem", {"TableName": TABLE,
                             "Item": {"pk": {"S": f"wput-{index}"}, "sk": {"N": str(number)}, "v": {"S": PAYLOAD}}})

    return put_item


def wire_get_item_op(endpoint: str, index: int) -> Operation:
    url, items = _split(endpoint)
    ddb = WireClient("dynamodb", url)
    rng = random.Random(2000 + index)

    def get_item() -> None:
        number = rng.randrange(items)
        partition, position = divmod(number, PARTITION_SIZE)
        answer = ddb.call_json("GetItem", {"TableName": TABLE, "ConsistentRead": True,
                                           "Key": {"pk": {"S": f"p{partition}"}, "sk": {"N": str(position)}}})
        if answer.get("Item", {}).get("n") != {"N": str(number)}:
            raise WrongAnswer(f"GetItem of item {number} answered {answer.get('Item')}")

    return get_item


def wire_batch_write_op(endpoint: str, index: int) -> Operation:
    url, _ = _split(endpoint)
    ddb = WireClient("dynamodb", url)
    counter = iter(range(10**9))

    def batch_write_item() -> None:
        base = (next(counter) % 40) * 25
        writes = [{"PutRequest": {"Item": {"pk": {"S": f"wbatch-{index}"}, "sk": {"N": str(base + i)}, "v": {"S": "value"}}}}
                  for i in range(25)]
        answer = ddb.call_json("BatchWriteItem", {"RequestItems": {TABLE: writes}})
        if answer.get("UnprocessedItems"):
            raise WrongAnswer("BatchWriteItem left items unprocessed")

    return batch_write_item


LOADS = (
    ("PutItem", put_item_op), ("GetItem", get_item_op), ("Query", query_op), ("BatchWriteItem", batch_write_op),
    ("PutItem (wire clients)", wire_put_item_op), ("GetItem (wire clients)", wire_get_item_op),
    ("BatchWriteItem (wire clients)", wire_batch_write_op),
)


def measure_dynamodb(endpoint: str, options: Options) -> Measured:
    quick = options.duration <= 1.0
    items = QUICK_ITEMS if quick else FULL_ITEMS
    _load(endpoint, items)
    metrics: list[Metric] = []
    notes: list[str] = [f"Query reads 100 items of a {items:,}-item table"]
    calls = items // 25 + 1
    load = LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup)
    for name, factory in LOADS:
        result = drive(factory, f"{endpoint}#items={items}", load)
        metrics += [Metric(f"{name} {m.name}", m.value, m.unit, m.better) for m in result.metrics]
        notes += [f"{name}: {note}" for note in result.notes]
        calls += result.calls
    return Measured(metrics, notes, calls=calls)


WORKLOAD = EndpointWorkload(
    name="dynamodb",
    title="DynamoDB PutItem, GetItem, Query (100 of N items), BatchWriteItem",
    method=(
        "One table loaded through BatchWriteItem (100,000 items in partitions of 100; 2,000 in quick runs), "
        "then N client processes with their own boto3 clients run each operation back to back for the "
        "measured window: PutItem of 1 KB items, consistent GetItem of random loaded keys, Query of one "
        "random 100-item partition, BatchWriteItem of 25 items. Every answer is checked. The '(wire clients)' "
        "rows repeat PutItem, GetItem and BatchWriteItem from light clients (botocore's SigV4 signer over one "
        "keep-alive connection, no boto3 call machinery: bench/wire.py), which leave more of the 2 shared "
        "cores to the server."
    ),
    run=measure_dynamodb,
)
