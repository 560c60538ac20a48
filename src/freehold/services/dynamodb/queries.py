"""Query and Scan, on tables and on secondary indexes.

Both read rows in DynamoDB's order straight from SQL (keys are stored in order-preserving
encodings), evaluate at most `Limit` items, stop after 1 MB of items read, filter after
reading (so Count <= ScannedCount, and a page may be empty yet carry a LastEvaluatedKey),
and resume strictly after ExclusiveStartKey
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freehold.services.dynamodb.capacity import Capacity, read_units
from freehold.services.dynamodb.codec import decode_item
from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.expressions.ast import And, Between, Call, Compare, Literal, Paren, Path
from freehold.services.dynamodb.expressions.evaluate import evaluate
from freehold.services.dynamodb.expressions.parser import expression_error
from freehold.services.dynamodb.expressions.projection import project
from freehold.services.dynamodb.expressions.request import Compiled, compile_expressions
from freehold.services.dynamodb.keys import KeySchema, encode_key_value, partition_hash, segment_range
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.tables import Index, Table
from freehold.services.dynamodb.types import Item, check_item, value_type

PAGE_BYTES = 1024 * 1024
BATCH_ROWS = 500
_MIRROR = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class RangeCondition:
    op: str  # = < <= > >= BETWEEN begins_with
    values: tuple[bytes, ...]


@dataclass
class KeyCondition:
    hash_value: dict[str, Any]
    range: RangeCondition | None


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, Paren):
        return _leaves(node.inner)
    if isinstance(node, And):
        return _leaves(node.left) + _leaves(node.right)
    return [node]


def _operator_name(node: Any) -> str:
    name = type(node).__name__.upper()
    return {"COMPARE": node.op if hasattr(node, "op") else name}.get(name, name)


def analyze_key_condition(node: Any, schema: KeySchema) -> KeyCondition:
    """Check a key condition against the key schema and reduce it to a hash value and a range."""
    kind = "KeyConditionExpression"
    conditions: dict[str, Any] = {}
    for leaf in _leaves(node):
        if isinstance(leaf, Compare):
            left, right, op = leaf.left, leaf.right, leaf.op
            if isinstance(left, Literal) and isinstance(right, Path):
                left, right, op = right, left, _MIRROR.get(op, op)
            if op == "<>":
                raise expression_error(kind, "Invalid operator used in KeyConditionExpression: <>")
            if not isinstance(left, Path) or not isinstance(right, Literal):
                raise validation("Query key condition not supported")
            path, values, op_name = left, (right,), op  # type: tuple[Path, tuple[Any, ...], str]
        elif isinstance(leaf, Between):
            if not isinstance(leaf.operand, Path):
                raise validation("Query key condition not supported")
            path, values, op_name = leaf.operand, (leaf.low, leaf.high), "BETWEEN"
        elif isinstance(leaf, Call) and leaf.name == "begins_with":
            if not isinstance(leaf.args[0], Path) or not isinstance(leaf.args[1], Literal):
                raise validation("Query key condition not supported")
            path, values, op_name = leaf.args[0], (leaf.args[1],), "begins_with"
        else:
            operator = {"Or": "OR", "Not": "NOT", "In": "IN"}.get(type(leaf).__name__)
            if operator is None and isinstance(leaf, Call):
                operator = leaf.name
            raise expression_error(kind, f"Invalid operator used in KeyConditionExpression: {operator}")
        if len(path.elements) != 1:
            raise validation("Key condition expressions must only contain top-level attribute names")
        name = path.elements[0]
        if name in conditions:
            raise validation("KeyConditionExpressions must only contain one condition per key")
        conditions[name] = (op_name, values)
    if schema.hash_name not in conditions:
        raise validation(f"Query condition missed key schema element: {schema.hash_name}")
    for name in conditions:
        if name not in schema.names:
            raise validation(f"Query condition missed key schema element: {schema.range_name or schema.hash_name}")
    op, values = conditions[schema.hash_name]
    if op != "=":
        raise validation("Query key condition not supported")
    hash_value = values[0].value
    if value_type(hash_value) != schema.hash_type:
        raise invalid_parameter("Condition parameter type does not match schema type")
    range_condition = None
    if schema.range_name in conditions:
        op, values = conditions[schema.range_name]
        for literal in values:
            if value_type(literal.value) != schema.range_type:
                if op == "begins_with" and schema.range_type == "N":
                    break
                raise invalid_parameter("Condition parameter type does not match schema type")
        if op == "begins_with" and schema.range_type == "N":
            raise expression_error(
                kind, "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
            )
        range_condition = RangeCondition(op, tuple(encode_key_value(v.value) for v in values))
    return KeyCondition(hash_value, range_condition)


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _range_sql(condition: RangeCondition | None) -> tuple[str, list[Any]]:
    if condition is None:
        return "", []
    op, values = condition.op, condition.values
    if op == "BETWEEN":
        return " AND sk >= ? AND sk <= ?", [values[0], values[1]]
    if op == "begins_with":
        end = _prefix_end(values[0])
        if end is None:
            return " AND sk >= ?", [values[0]]
        return " AND sk >= ? AND sk < ?", [values[0], end]
    return f" AND sk {op} ?", [values[0]]


def _filter_uses_keys(node: Any, names: set[str]) -> str | None:
    if isinstance(node, Path):
        return node.elements[0] if node.elements[0] in names else None
    if isinstance(node, (list, tuple)):
        for item in node:
            found = _filter_uses_keys(item, names)
            if found:
                return found
        return None
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, Literal):
        for field_name in node.__dataclass_fields__:
            found = _filter_uses_keys(getattr(node, field_name), names)
            if found:
                return found
    return None


class Reader:
    """One Query or Scan request."""

    def __init__(self, store: DynamoStore, table: Table, params: dict[str, Any], operation: str) -> None:
        self.store = store
        self.table = table
        self.params = params
        self.operation = operation
        self.index: Index | None = None
        name = params.get("IndexName")
        if name is not None:
            self.index = table.indexes.get(name)
            if self.index is None:
                raise validation(f"The table does not have the specified index: {name}")
            if self.index.is_global and params.get("ConsistentRead"):
                raise validation("Consistent reads are not supported on global secondary indexes")
        self.compiled: Compiled = compile_expressions(params, operation)
        self.select = self._select()
        self.capacity = Capacity(params.get("ReturnConsumedCapacity"))

    @property
    def schema(self) -> KeySchema:
        return self.index.schema if self.index is not None else self.table.schema

    def _select(self) -> str:
        select = self.params.get("Select")
        projected = self.compiled.projection is not None
        if select is None:
            if projected:
                return "SPECIFIC_ATTRIBUTES"
            return "ALL_PROJECTED_ATTRIBUTES" if self.index is not None else "ALL_ATTRIBUTES"
        if select == "SPECIFIC_ATTRIBUTES" and not projected:
            raise validation(
                "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires a "
                "ProjectionExpression or AttributesToGet"
            )
        if select != "SPECIFIC_ATTRIBUTES" and projected:
            if select == "COUNT":
                raise validation("Cannot specify the AttributesToGet when choosing to get only the Count")
            raise validation(
                f"One or more parameter values were invalid: Cannot specify the AttributesToGet when choosing to get {select}"
            )
        if select == "ALL_PROJECTED_ATTRIBUTES" and self.index is None:
            raise validation(
                "One or more parameter values were invalid: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
            )
        if select == "ALL_ATTRIBUTES" and self.index is not None and self.index.is_global and self.index.projected is not None:
            raise validation(
                f"One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global "
                f"secondary index {self.index.name} because its projection type is not ALL"
            )
        return str(select)

    # -- start keys -----------------------------------------------------------------------
    def _start_key(self) -> tuple[tuple[int, bytes, bytes], tuple[bytes, bytes]] | None:
        start = self.params.get("ExclusiveStartKey")
        if start is None:
            return None
        names = set(self.table.schema.names) | set(self.schema.names)
        if set(start) != names:
            raise validation("The provided starting key is invalid: The provided key element does not match the schema")
        start = check_item(start)
        try:
            tkey = self.table.schema.encode(start)
            from freehold.services.dynamodb.keys import index_key_values

            ikey = index_key_values(self.schema, start) if self.index is not None else tkey
        except (KeyError, ValueError, ArithmeticError):
            raise validation("The provided starting key is invalid: The provided key element does not match the schema") from None
        for schema in (self.table.schema, self.schema):
            for name, expected in ((schema.hash_name, schema.hash_type), (schema.range_name, schema.range_type)):
                if name is not None and value_type(start[name]) != expected:
                    raise validation("The provided starting key is invalid: The provided key element does not match the schema")
        assert ikey is not None
        return ikey, (tkey[1], tkey[2])

    # -- reading ---------------------------------------------------------------------------
    def _source(self) -> tuple[str, list[Any], str]:
        if self.index is None:
            return "SELECT h, pk, sk, pk, sk, item, size FROM ddb_items WHERE table_id = ?", [self.table.table_id], ""
        return (
            "SELECT h, pk, sk, tpk, tsk, item, size FROM ddb_index_items WHERE table_id = ? AND index_name = ?",
            [self.table.table_id, self.index.name],
            ", tpk, tsk",
        )

    def query(self) -> dict[str, Any]:
        if self.compiled.key_condition is None:
            raise validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        condition = analyze_key_condition(self.compiled.key_condition, self.schema)
        if self.compiled.filter is not None:
            used = _filter_uses_keys(self.compiled.filter, set(self.schema.names))
            if used:
                raise validation(f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {used}")
        pk = encode_key_value(condition.hash_value)
        h = partition_hash(pk)
        forward = self.params.get("ScanIndexForward", True) is not False
        base, args, extra = self._source()
        range_sql, range_args = _range_sql(condition.range)
        where = base + " AND h = ? AND pk = ?" + range_sql
        args = args + [h, pk] + range_args
        start = self._start_key()
        if start is not None:
            ikey, tkey = start
            if ikey[1] != pk:
                raise validation("The provided starting key is outside query boundaries based on provided conditions")
            comparison = ">" if forward else "<"
            if self.index is None:
                where += f" AND sk {comparison} ?"
                args.append(ikey[2])
            else:
                where += f" AND (sk, tpk, tsk) {comparison} (?, ?, ?)"
                args += [ikey[2], tkey[0], tkey[1]]
        direction = "" if forward else " DESC"
        order = f" ORDER BY sk{direction}" + (f", tpk{direction}, tsk{direction}" if extra else "")
        return self._read(where, args, order)

    def scan(self) -> dict[str, Any]:
        segment, total = self.params.get("Segment"), self.params.get("TotalSegments")
        if segment is not None and total is None:
            raise validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
        if total is not None and segment is None:
            raise validation("The Segment parameter is required but was not present in the request when parameter TotalSegments is present")
        base, args, extra = self._source()
        where = base
        if segment is not None and total is not None:
            if segment >= total:
                raise validation(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                    f"Segment: {segment} is not less than TotalSegments: {total}"
                )
            low, high = segment_range(segment, total)
            where += " AND h >= ? AND h < ?"
            args = args + [low, high]
        start = self._start_key()
        if start is not None:
            ikey, tkey = start
            if self.index is None:
                where += " AND (h, pk, sk) > (?, ?, ?)"
                args = args + [ikey[0], ikey[1], ikey[2]]
            else:
                where += " AND (h, pk, sk, tpk, tsk) > (?, ?, ?, ?, ?)"
                args = args + [ikey[0], ikey[1], ikey[2], tkey[0], tkey[1]]
        order = " ORDER BY h, pk, sk" + extra
        return self._read(where, args, order)

    def _read(self, where: str, args: list[Any], order: str) -> dict[str, Any]:
        limit = self.params.get("Limit")
        items: list[Item] = []
        scanned = 0
        read_bytes = 0
        last: Item | None = None
        stopped = False
        consistent = bool(self.params.get("ConsistentRead"))
        fetch_table = (
            self.index is not None and not self.index.is_global and self.index.projected is not None
            and self.select == "ALL_ATTRIBUTES"
        )
        offset_args = list(args)
        cursor_sql = where
        while not stopped:
            batch = BATCH_ROWS if limit is None else min(BATCH_ROWS, limit - scanned)
            rows = self.store.db.query(cursor_sql + order + " LIMIT ?", offset_args + [batch])
            for h, pk, sk, tpk, tsk, text, size in rows:
                item = decode_item(text)
                if fetch_table:
                    item = self.store.item(self.table.table_id, (partition_hash(bytes(tpk)), bytes(tpk), bytes(tsk))) or item
                scanned += 1
                read_bytes += int(size)
                last = item
                if self.compiled.filter is None or evaluate(self.compiled.filter, item):
                    items.append(item)
                if (limit is not None and scanned >= limit) or read_bytes >= PAGE_BYTES:
                    stopped = True
                    break
            if stopped or len(rows) < batch:
                if not stopped:
                    last = None  # the end was reached: no LastEvaluatedKey
                break
            # Continue after the last row read, in the same order.
            cursor_sql, offset_args = self._after(where, args, order, rows[-1])
        self.capacity.read(self.table.name, read_units(read_bytes, consistent) if scanned else 0.5,
                           self.index.name if self.index else None, self.index.is_global if self.index else True)
        output: dict[str, Any] = {"Count": len(items), "ScannedCount": scanned}
        if self.select != "COUNT":
            if self.compiled.projection is not None:
                output["Items"] = [project(item, self.compiled.projection) for item in items]
            else:
                output["Items"] = items
        if stopped and last is not None:
            names = list(self.table.schema.names) + [n for n in self.schema.names if n not in self.table.schema.names]
            output["LastEvaluatedKey"] = {name: last[name] for name in names if name in last}
        consumed = self.capacity.describe(self.table.name)
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    def _after(self, where: str, args: list[Any], order: str, row: tuple[Any, ...]) -> tuple[str, list[Any]]:
        h, pk, sk, tpk, tsk = row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4])
        descending = "DESC" in order
        comparison = "<" if descending else ">"
        if self.operation == "Query":
            if self.index is None:
                return where + f" AND sk {comparison} ?", args + [sk]
            return where + f" AND (sk, tpk, tsk) {comparison} (?, ?, ?)", args + [sk, tpk, tsk]
        if self.index is None:
            return where + " AND (h, pk, sk) > (?, ?, ?)", args + [h, pk, sk]
        return where + " AND (h, pk, sk, tpk, tsk) > (?, ?, ?, ?, ?)", args + [h, pk, sk, tpk, tsk]
