"""Primary keys: their validation against a key schema, and their order-preserving encoding.

Keys are stored as bytes whose byte order (SQLite's memcmp of BLOBs, PostgreSQL's BYTEA
comparison) is DynamoDB's order for the key's type:
  S  the UTF-8 bytes (DynamoDB orders strings by their UTF-8 bytes)
  B  the bytes themselves (unsigned byte order)
  N  a sign byte, a biased 2-byte exponent and the digits, inverted for negatives, so that
     numeric order is byte order (-10 < -9.5 < 0 < 0.001 < 2 < 10).
Each row also stores a 32-bit hash of its partition key: scans walk the table in hash order
as DynamoDB does, and parallel scan segments are ranges of that hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from freehold.services.dynamodb.errors import invalid_parameter, key_mismatch, validation
from freehold.services.dynamodb.types import CONTEXT, AttributeValue, Item, value_type

MAX_HASH_KEY = 2048
MAX_RANGE_KEY = 1024
HASH_SPACE = 1 << 32


@lru_cache(maxsize=8192)
def encode_number(text: str) -> bytes:
    # Cached: sort keys repeat (a partition's 0..N, the same few numbers in every batch).
    number = Decimal(text)
    if number.is_zero():
        return b"\x01"
    sign, digits, exponent = number.normalize(CONTEXT).as_tuple()
    assert isinstance(exponent, int)
    adjusted = exponent + len(digits) - 1 + 32768  # positive, fits two bytes
    if sign == 0:
        return b"\x02" + adjusted.to_bytes(2, "big") + bytes(0x30 + d for d in digits)
    # Negative: a larger magnitude sorts first, and a shorter digit string (which is the
    # larger number, -1.2 > -1.23) must sort after its extensions, hence the 0xFF terminator.
    return b"\x00" + (65535 - adjusted).to_bytes(2, "big") + bytes(0x39 - d for d in digits) + b"\xff"


def encode_key_value(value: AttributeValue) -> bytes:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return bytes(inner.encode("utf-8"))
    if kind == "B":
        return bytes(inner)
    return encode_number(inner)


@lru_cache(maxsize=8192)
def partition_hash(encoded: bytes) -> int:
    # Cached: a partition's items arrive together (batches, queries of one partition).
    return int.from_bytes(hashlib.md5(encoded, usedforsecurity=False).digest()[:4], "big")


def segment_range(segment: int, total: int) -> tuple[int, int]:
    """The [low, high) hash range of one parallel scan segment."""
    low = -(-segment * HASH_SPACE // total)
    high = -(-(segment + 1) * HASH_SPACE // total)
    return low, high


@dataclass(frozen=True)
class KeySchema:
    """The key of a table or index: attribute names and their scalar types."""

    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @staticmethod
    def from_description(key_schema: list[dict[str, str]], definitions: list[dict[str, str]]) -> "KeySchema":
        types = {d["AttributeName"]: d["AttributeType"] for d in definitions}
        hash_name = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
        range_name = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
        return KeySchema(hash_name, types[hash_name], range_name, types[range_name] if range_name else None)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name, self.range_name) if self.range_name else (self.hash_name,)

    def key_of(self, item: Item) -> Item:
        """The key attributes of an item that has them."""
        key = {self.hash_name: item[self.hash_name]}
        if self.range_name:
            key[self.range_name] = item[self.range_name]
        return key

    def encode(self, item: Item) -> tuple[int, bytes, bytes]:
        """(hash, partition bytes, sort bytes) of an item or key with valid key attributes."""
        pk = encode_key_value(item[self.hash_name])
        sk = encode_key_value(item[self.range_name]) if self.range_name else b""
        return partition_hash(pk), pk, sk

    # -- validation -----------------------------------------------------------------------
    def check_key(self, key: dict[str, Any]) -> Item:
        """A Key parameter (GetItem, DeleteItem, UpdateItem ...): exactly the key attributes."""
        if len(key) != len(self.names) or any(name not in key for name in self.names):
            raise key_mismatch()
        for name, expected in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            value = key[name]
            if not isinstance(value, dict) or len(value) != 1 or value_type(value) != expected:
                raise key_mismatch()
            self._check_scalar(name, value, name == self.hash_name, item_context=False)
        return key

    def check_item_keys(self, item: Item) -> None:
        """An item being written: its key attributes exist with the schema's types."""
        for name, expected in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            value = item.get(name)
            if value is None:
                raise invalid_parameter(f"Missing the key {name} in the item")
            actual = value_type(value)
            if actual != expected:
                raise invalid_parameter(f"Type mismatch for key {name} expected: {expected} actual: {actual}")
            self._check_scalar(name, value, name == self.hash_name, item_context=True)

    def _check_scalar(self, name: str, value: AttributeValue, is_hash: bool, item_context: bool) -> None:
        kind, inner = next(iter(value.items()))
        if kind in ("S", "B") and len(inner) == 0:
            what = "string" if kind == "S" else "binary"
            raise validation(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                f"contain an empty {what} value. Key: {name}"
            )
        size = len(encode_key_value(value)) if kind != "N" else 0
        if is_hash and size > MAX_HASH_KEY:
            raise invalid_parameter(
                f"Size of hashkey has exceeded the maximum size limit of{MAX_HASH_KEY} bytes"
            )
        if not is_hash and size > MAX_RANGE_KEY:
            raise invalid_parameter(
                f"Aggregated size of all range keys has exceeded the size limit of {MAX_RANGE_KEY} bytes"
            )


def index_key_values(schema: KeySchema, item: Item) -> tuple[int, bytes, bytes] | None:
    """The index key of an item, or None when the item lacks it (sparse index) or has the
    wrong type (which writes reject before they get here)."""
    hash_value = item.get(schema.hash_name)
    if hash_value is None or value_type(hash_value) != schema.hash_type:
        return None
    pk = encode_key_value(hash_value)
    sk = b""
    if schema.range_name:
        range_value = item.get(schema.range_name)
        if range_value is None or value_type(range_value) != schema.range_type:
            return None
        sk = encode_key_value(range_value)
    return partition_hash(pk), pk, sk
