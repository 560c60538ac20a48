"""Item writes and reads: the one path every change takes (PutItem, UpdateItem, DeleteItem,
batches, transactions, TTL), and the four single-item operations.

A write runs inside the caller's SQL transaction: read the current item (locked), check the
condition, compute the new item, then store it, its secondary index entries and its stream
record together, so that indexes and streams never disagree with the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from freehold.services.dynamodb import errors
from freehold.services.dynamodb.capacity import Capacity, read_units, write_units
from freehold.services.dynamodb.codec import encode_item
from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.expressions.evaluate import evaluate
from freehold.services.dynamodb.expressions.projection import project
from freehold.services.dynamodb.expressions.request import Compiled, compile_expressions
from freehold.services.dynamodb.expressions.update import apply_update
from freehold.services.dynamodb.keys import index_key_values
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.streams import StreamStore
from freehold.services.dynamodb.tables import Index, Table
from freehold.services.dynamodb.types import MAX_ITEM_SIZE, Item, check_item, item_size, value_type

EncodedKey = tuple[int, bytes, bytes]


@dataclass
class WriteResult:
    old: Item | None
    new: Item | None
    units: float


def index_entry(index: Index, table: Table, item: Item) -> Item:
    """The attributes an index stores for an item: both keys plus the projection."""
    if index.projected is None:
        return item
    names = set(table.schema.names) | set(index.schema.names) | index.projected
    return {name: value for name, value in item.items() if name in names}


def check_index_keys(table: Table, item: Item) -> None:
    """An item's values for index key attributes must have the index's types, and not be empty."""
    for index in table.indexes.values():
        for name, expected in ((index.schema.hash_name, index.schema.hash_type),
                               (index.schema.range_name, index.schema.range_type)):
            if name is None or name not in item:
                continue
            actual = value_type(item[name])
            if actual != expected:
                raise invalid_parameter(
                    f"Type mismatch for Index Key {name} Expected: {expected} Actual: {actual} IndexName: {index.name}"
                )
            inner = item[name][actual]
            if actual in ("S", "B") and len(inner) == 0:
                raise validation(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not "
                    "supported. The AttributeValue for a key attribute cannot contain an empty string value. "
                    f"IndexName: {index.name}, IndexKey: {name}"
                )


def ttl_expiry(table: Table, item: Item | None) -> int | None:
    name = table.ttl_attribute
    if name is None or item is None:
        return None
    value = item.get(name)
    if value is None or value_type(value) != "N":
        return None
    try:
        return int(Decimal(value["N"]))
    except (ArithmeticError, ValueError):
        return None


def checked_size(item: Item, update: bool) -> int:
    """An item's size, which may not exceed 400 KB."""
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise validation(
            "Item size to update has exceeded the maximum allowed size" if update
            else "Item size has exceeded the maximum allowed size"
        )
    return size


class ItemEngine:
    """Reads and writes items of one table, in the current transaction."""

    def __init__(self, store: DynamoStore, streams: StreamStore) -> None:
        self.store = store
        self.streams = streams

    def read(self, table: Table, key: Item, lock: bool = False) -> Item | None:
        found: Item | None = self.store.item(table.table_id, table.schema.encode(key), lock=lock)
        return found

    @staticmethod
    def blind_puts(table: Table, capacity: Capacity | None) -> bool:
        """Whether unconditional puts to this table need nothing of the items they replace:
        no index entries to move, no stream record to write, no capacity to report (which
        counts the larger of the old and new item). Such puts are one upsert each."""
        return not table.indexes and table.stream_view_type is None and (capacity is None or capacity.mode is None)

    def put_blind(self, table: Table, puts: list[tuple[EncodedKey, Item]]) -> None:
        """Store items whatever was there before (only when `blind_puts(table, ...)`)."""
        with_ttl = table.ttl_attribute is not None
        rows = [(tkey, encode_item(item), checked_size(item, False), ttl_expiry(table, item) if with_ttl else None)
                for tkey, item in puts]
        self.store.upsert_items(table.table_id, rows)

    def write(
        self, table: Table, key: Item, change: Callable[[Item | None], Item | None], now: float,
        capacity: Capacity | None = None, service_delete: bool = False, update: bool = False,
        tkey: EncodedKey | None = None,
    ) -> WriteResult:
        """Apply `change` (old item -> new item, or None to delete) to the item under `key`
        (`tkey`: its encoding, when the caller has it already)."""
        if tkey is None:
            tkey = table.schema.encode(key)
        old = self.store.item(table.table_id, tkey, lock=True)
        new = change(old)
        size = checked_size(new, update) if new is not None else 0
        old_size = item_size(old) if old is not None else 0
        units = write_units(max(size, old_size))
        if capacity is not None:
            capacity.write(table.name, units)
        if new == old:
            return WriteResult(old, new, units)  # nothing changes: no write, no stream record
        if new is None:
            self.store.delete_item(table.table_id, tkey)
        elif old is None:
            self.store.insert_item(table.table_id, tkey, encode_item(new), size, ttl_expiry(table, new))
        else:
            self.store.replace_item(table.table_id, tkey, encode_item(new), size, ttl_expiry(table, new))
        for index in table.indexes.values():
            self._maintain(table, index, tkey, old, new, capacity)
        if table.stream_view_type is not None:
            self.streams.append(table, table.schema.key_of(new or old or key), old, new, now, service_delete)
        return WriteResult(old, new, units)

    def _maintain(
        self, table: Table, index: Index, tkey: EncodedKey, old: Item | None, new: Item | None,
        capacity: Capacity | None,
    ) -> None:
        old_key = index_key_values(index.schema, old) if old is not None else None
        new_key = index_key_values(index.schema, new) if new is not None else None
        old_entry = index_entry(index, table, old) if old_key is not None and old is not None else None
        new_entry = index_entry(index, table, new) if new_key is not None and new is not None else None
        if old_key == new_key and old_entry == new_entry:
            return
        if old_key is not None:
            self.store.delete_index_entry(table.table_id, index.name, old_key, tkey)
        if new_key is not None and new_entry is not None:
            size = item_size(new_entry)
            self.store.insert_index_entry(table.table_id, index.name, new_key, tkey, encode_item(new_entry), size)
            if capacity is not None:
                capacity.write(table.name, write_units(size), index.name, index.is_global)

    def backfill(self, table: Table, index: Index) -> None:
        """Build a new global secondary index from the table's items (UpdateTable)."""
        from freehold.services.dynamodb.codec import decode_item

        rows = self.store.db.query("SELECT h, pk, sk, item FROM ddb_items WHERE table_id = ?", (table.table_id,))
        for h, pk, sk, text in rows:
            item = decode_item(text)
            ikey = index_key_values(index.schema, item)
            if ikey is None:
                continue
            entry = index_entry(index, table, item)
            self.store.insert_index_entry(
                table.table_id, index.name, ikey, (h, bytes(pk), bytes(sk)), encode_item(entry), item_size(entry)
            )


# -- the single-item operations ------------------------------------------------------------
PUT_RETURN_VALUES = ("NONE", "ALL_OLD")
UPDATE_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def check_return_values(value: str | None, allowed: tuple[str, ...]) -> str:
    value = value or "NONE"
    if value not in allowed:
        raise validation("Return values set to invalid value")
    return value


def condition_failed(params: dict[str, Any], old: Item | None) -> Exception:
    if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
        return errors.conditional_check_failed(old)
    return errors.conditional_check_failed()


def prepare_put(table: Table, params: dict[str, Any]) -> tuple[Item, Compiled]:
    item = check_item(params["Item"])
    table.schema.check_item_keys(item)
    check_index_keys(table, item)
    compiled = compile_expressions(params, "PutItem")
    return item, compiled


def put_change(item: Item, compiled: Compiled, params: dict[str, Any]) -> Callable[[Item | None], Item | None]:
    def change(old: Item | None) -> Item | None:
        if compiled.condition is not None and not evaluate(compiled.condition, old or {}):
            raise condition_failed(params, old)
        return item

    return change


def prepare_update(table: Table, params: dict[str, Any]) -> tuple[Item, Compiled]:
    key = table.schema.check_key(params["Key"])
    key = check_item(key)
    compiled = compile_expressions(params, "UpdateItem", key_names=table.schema.names)
    return key, compiled


def update_change(
    table: Table, key: Item, compiled: Compiled, params: dict[str, Any]
) -> Callable[[Item | None], Item | None]:
    def change(old: Item | None) -> Item | None:
        if compiled.condition is not None and not evaluate(compiled.condition, old or {}):
            raise condition_failed(params, old)
        base = old if old is not None else dict(key)
        new = apply_update(compiled.update, base) if compiled.update is not None else dict(base)
        check_index_keys(table, new)
        return new

    return change


def prepare_delete(table: Table, params: dict[str, Any]) -> tuple[Item, Compiled]:
    key = check_item(table.schema.check_key(params["Key"]))
    compiled = compile_expressions(params, "DeleteItem")
    return key, compiled


def delete_change(compiled: Compiled, params: dict[str, Any]) -> Callable[[Item | None], Item | None]:
    def change(old: Item | None) -> Item | None:
        if compiled.condition is not None and not evaluate(compiled.condition, old or {}):
            raise condition_failed(params, old)
        return None

    return change


def update_return(mode: str, result: WriteResult, compiled: Compiled) -> Item | None:
    old, new = result.old, result.new
    if mode == "ALL_OLD":
        return old or None
    if mode == "ALL_NEW":
        return new
    paths = [action.path for action in compiled.update.actions] if compiled.update is not None else []
    if mode == "UPDATED_OLD":
        return project(old, paths) if old is not None else None
    if mode == "UPDATED_NEW":
        return project(new, paths) if new is not None else None
    return None


def get_output(table: Table, item: Item | None, compiled: Compiled, consistent: bool, capacity: Capacity) -> dict[str, Any]:
    size = item_size(item) if item is not None else 0
    capacity.read(table.name, read_units(size, consistent))
    output: dict[str, Any] = {}
    if item is not None:
        output["Item"] = project(item, compiled.projection) if compiled.projection is not None else item
    consumed = capacity.describe(table.name)
    if consumed is not None:
        output["ConsumedCapacity"] = consumed
    return output
