"""ReturnConsumedCapacity: the capacity units an operation used, by DynamoDB's rules.

Reads: one unit per 4 KB of item read (half for eventually consistent reads); writes: one
unit per 1 KB written, the larger of the old and new item for replacements, plus the same
for every index entry written (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
"""

from __future__ import annotations

import math
from typing import Any


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


class Capacity:
    """Units used per table and index during one request."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode if mode in ("TOTAL", "INDEXES") else None
        self.tables: dict[str, dict[str, Any]] = {}

    def _entry(self, table: str) -> dict[str, Any]:
        return self.tables.setdefault(table, {"table": 0.0, "read": 0.0, "write": 0.0, "gsi": {}, "lsi": {}})

    def read(self, table: str, units: float, index: str | None = None, is_global: bool = True) -> None:
        if self.mode is None:
            return
        entry = self._entry(table)
        entry["read"] += units
        self._count(entry, units, index, is_global)

    def write(self, table: str, units: float, index: str | None = None, is_global: bool = True) -> None:
        if self.mode is None:
            return
        entry = self._entry(table)
        entry["write"] += units
        self._count(entry, units, index, is_global)

    @staticmethod
    def _count(entry: dict[str, Any], units: float, index: str | None, is_global: bool) -> None:
        if index is None:
            entry["table"] += units
        else:
            bucket = entry["gsi" if is_global else "lsi"]
            bucket[index] = bucket.get(index, 0.0) + units

    def describe(self, table: str) -> dict[str, Any] | None:
        if self.mode is None:
            return None
        entry = self._entry(table)
        total = entry["table"] + sum(entry["gsi"].values()) + sum(entry["lsi"].values())
        result: dict[str, Any] = {"TableName": table, "CapacityUnits": total}
        if entry["read"]:
            result["ReadCapacityUnits"] = entry["read"]
        if entry["write"]:
            result["WriteCapacityUnits"] = entry["write"]
        if self.mode == "INDEXES":
            result["Table"] = {"CapacityUnits": entry["table"]}
            if entry["gsi"]:
                result["GlobalSecondaryIndexes"] = {k: {"CapacityUnits": v} for k, v in entry["gsi"].items()}
            if entry["lsi"]:
                result["LocalSecondaryIndexes"] = {k: {"CapacityUnits": v} for k, v in entry["lsi"].items()}
        return result

    def describe_all(self) -> list[dict[str, Any]] | None:
        if self.mode is None:
            return None
        return [d for d in (self.describe(name) for name in list(self.tables)) if d is not None]
