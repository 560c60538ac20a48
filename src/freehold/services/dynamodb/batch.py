"""BatchGetItem and BatchWriteItem.

freehold processes every request of a batch (nothing is throttled), so UnprocessedKeys and
UnprocessedItems are empty except when BatchGetItem's 16 MB response limit is reached: the
keys left over are returned as UnprocessedKeys, with the table's read options, as AWS does.
A BatchWriteItem's writes are committed together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freehold.services.dynamodb import errors
from freehold.services.dynamodb.capacity import Capacity, read_units
from freehold.services.dynamodb.errors import validation
from freehold.services.dynamodb.expressions.projection import project
from freehold.services.dynamodb.expressions.request import compile_expressions
from freehold.services.dynamodb.items import EncodedKey, ItemEngine, check_index_keys
from freehold.services.dynamodb.tables import Table
from freehold.services.dynamodb.types import Item, check_item, item_size

MAX_GET_KEYS = 100
MAX_WRITES = 25
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

TableLookup = Callable[[str], Table]


def batch_get(engine: ItemEngine, lookup: TableLookup, params: dict[str, Any]) -> dict[str, Any]:
    requests = params["RequestItems"]
    total = sum(len(spec.get("Keys") or []) for spec in requests.values())
    if total > MAX_GET_KEYS:
        raise validation("Too many items requested for the BatchGetItem call")
    capacity = Capacity(params.get("ReturnConsumedCapacity"))
    prepared = []
    for name, spec in requests.items():
        table = lookup(name)
        compiled = compile_expressions(spec, "BatchGetItem")
        keys = [check_item(table.schema.check_key(key)) for key in spec["Keys"]]
        encoded = [table.schema.encode(key) for key in keys]
        if len(set(encoded)) != len(encoded):
            raise validation("Provided list of item keys contains duplicates")
        prepared.append((table, spec, compiled, keys))
    responses: dict[str, list[Item]] = {}
    unprocessed: dict[str, Any] = {}
    size = 0
    for table, spec, compiled, keys in prepared:
        found: list[Item] = responses.setdefault(table.name, [])
        for position, key in enumerate(keys):
            if size >= MAX_RESPONSE_BYTES:
                rest = {k: v for k, v in spec.items() if k != "Keys"}
                unprocessed[table.name] = {**rest, "Keys": keys[position:]}
                break
            item = engine.read(table, key)
            consumed = item_size(item) if item is not None else 0
            capacity.read(table.name, read_units(consumed, bool(spec.get("ConsistentRead"))))
            if item is None:
                continue
            size += consumed
            found.append(project(item, compiled.projection) if compiled.projection is not None else item)
    output: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": unprocessed}
    consumed_all = capacity.describe_all()
    if consumed_all is not None:
        output["ConsumedCapacity"] = consumed_all
    return output


def batch_write(
    engine: ItemEngine, lookup: TableLookup, params: dict[str, Any], now: float, transaction: Any
) -> dict[str, Any]:
    requests = params["RequestItems"]
    total = sum(len(writes) for writes in requests.values())
    if total > MAX_WRITES:
        raise validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy "
            "constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"
        )
    capacity = Capacity(params.get("ReturnConsumedCapacity"))
    prepared: list[tuple[Table, Item, Item | None, EncodedKey]] = []
    item: Item | None
    for name, writes in requests.items():
        table = lookup(name)
        schema = table.schema
        indexed = bool(table.indexes)
        seen = set()
        for write in writes:
            put, delete = write.get("PutRequest"), write.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
                    if put and delete else "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null"
                )
            if put is not None:
                item = check_item(put["Item"])
                schema.check_item_keys(item)
                if indexed:
                    check_index_keys(table, item)
                key = schema.key_of(item)
            else:
                key = check_item(schema.check_key(delete["Key"]))
                item = None
            encoded = schema.encode(key)
            if encoded in seen:
                raise validation("Provided list of item keys contains duplicates")
            seen.add(encoded)
            prepared.append((table, key, item, encoded))
    with transaction():
        blind: dict[str, tuple[Table, list[tuple[EncodedKey, Item]]]] = {}
        for table, key, item, encoded in prepared:
            if item is not None and engine.blind_puts(table, capacity):
                blind.setdefault(table.table_id, (table, []))[1].append((encoded, item))
            else:
                engine.write(table, key, (lambda new: lambda old: new)(item), now, capacity, tkey=encoded)
        for table, puts in blind.values():
            engine.put_blind(table, puts)
    output: dict[str, Any] = {"UnprocessedItems": {}}
    consumed_all = capacity.describe_all()
    if consumed_all is not None:
        output["ConsumedCapacity"] = consumed_all
    return output


def missing_table() -> Exception:
    return errors.table_not_found()
