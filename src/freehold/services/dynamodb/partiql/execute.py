"""Running PartiQL statements: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction.

Statements run on the same paths as the classic API, with PartiQL's rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.statements.html):
  SELECT  a Query when the WHERE clause fixes the partition key with `=` (of the table, or of
          the index named `"Table"."Index"`), else a Scan; the whole WHERE clause filters
          the items read; Limit counts items read, NextToken resumes after the last one.
  INSERT  a put that must not replace an item: DuplicateItemException otherwise.
  UPDATE  the WHERE clause must fix every key attribute with `=`; the item must exist and
          the whole WHERE clause holds on it (ConditionalCheckFailedException otherwise).
  DELETE  likewise, except that deleting a missing item is no error.
BatchExecuteStatement runs each statement on its own and reports errors per statement;
ExecuteTransaction runs them all in one SQL transaction, all or nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.dynamodb import errors
from freehold.services.dynamodb.capacity import Capacity, read_units
from freehold.services.dynamodb.codec import decode_item, encode_item
from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.expressions.ast import And, Between, Call, Compare, Literal, Paren, Path
from freehold.services.dynamodb.expressions.ast import Update as UpdateActions
from freehold.services.dynamodb.expressions.evaluate import evaluate
from freehold.services.dynamodb.expressions.projection import project
from freehold.services.dynamodb.expressions.request import Compiled
from freehold.services.dynamodb.expressions.update import apply_update
from freehold.services.dynamodb.items import ItemEngine, WriteResult, check_index_keys, update_return
from freehold.services.dynamodb.keys import KeySchema
from freehold.services.dynamodb.partiql.parser import Delete, Insert, Select, Statement, Update, parse_statement
from freehold.services.dynamodb.queries import Reader
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.tables import Table
from freehold.services.dynamodb.types import Item, check_item, item_size, value_type

TableLookup = Callable[[str], Table]
Now = Callable[[], float]
MAX_BATCH = 25
# BatchStatementError codes of the exceptions a statement can end with.
_BATCH_CODES = {
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "DuplicateItemException": "DuplicateItem",
    "ValidationException": "ValidationError",
    "ResourceNotFoundException": "ResourceNotFound",
    "ItemCollectionSizeLimitExceededException": "ItemCollectionSizeLimitExceeded",
    "TransactionConflictException": "TransactionConflict",
}


def duplicate_item() -> ServiceError:
    return ServiceError("DuplicateItemException", "Duplicate primary key exists in table", 400)


def missing_key_equality() -> ServiceError:
    return validation("Where clause does not contain a mandatory equality on all key attributes")


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, Paren):
        return _leaves(node.inner)
    if isinstance(node, And):
        return _leaves(node.left) + _leaves(node.right)
    return [node]


def _top_attribute(node: Any) -> str | None:
    return node.elements[0] if isinstance(node, Path) and len(node.elements) == 1 else None


def equalities(where: Any) -> dict[str, Any]:
    """attribute -> value of the `attr = value` conditions every match must meet (ANDed)."""
    found: dict[str, Any] = {}
    for leaf in _leaves(where) if where is not None else []:
        if isinstance(leaf, Compare) and leaf.op == "=":
            left, right = leaf.left, leaf.right
            if isinstance(left, Literal):
                left, right = right, left
            name = _top_attribute(left)
            if name is not None and isinstance(right, Literal):
                found.setdefault(name, right.value)
    return found


def key_of(where: Any, schema: KeySchema) -> Item:
    """The primary key an UPDATE/DELETE/batch SELECT names: `=` on every key attribute."""
    found = equalities(where)
    if any(name not in found for name in schema.names):
        raise missing_key_equality()
    return check_item(schema.check_key({name: found[name] for name in schema.names}))


def _range_leaf(where: Any, schema: KeySchema) -> Any:
    """A sort key condition a Query can use to narrow its range (None if there is none)."""
    if schema.range_name is None:
        return None
    for leaf in _leaves(where):
        if isinstance(leaf, Compare) and leaf.op in ("=", "<", "<=", ">", ">="):
            if _top_attribute(leaf.left) == schema.range_name and isinstance(leaf.right, Literal):
                if value_type(leaf.right.value) == schema.range_type:
                    return leaf
        if isinstance(leaf, Between) and _top_attribute(leaf.operand) == schema.range_name:
            bounds = (leaf.low, leaf.high)
            if all(isinstance(b, Literal) and value_type(b.value) == schema.range_type for b in bounds):
                return leaf
        if isinstance(leaf, Call) and leaf.name == "begins_with" and schema.range_type in ("S", "B"):
            target, prefix = leaf.args
            if _top_attribute(target) == schema.range_name and isinstance(prefix, Literal):
                if value_type(prefix.value) == schema.range_type:
                    return leaf
    return None


def encode_token(key: Item) -> str:
    return base64.urlsafe_b64encode(encode_item(key).encode("utf-8")).decode("ascii")


def decode_token(token: str) -> Item:
    try:
        key = decode_item(base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error, IndexError, TypeError):
        raise validation("The NextToken is not valid") from None
    if not isinstance(key, dict):
        raise validation("The NextToken is not valid")
    return key


class PartiqlRunner:
    """Runs the statements of one provider (its item engine, store and table lookup)."""

    def __init__(self, engine: ItemEngine, store: DynamoStore) -> None:
        self.engine = engine
        self.store = store

    # -- ExecuteStatement -----------------------------------------------------------------------
    def execute_statement(self, lookup: TableLookup, params: dict[str, Any], now: Now) -> dict[str, Any]:
        statement = parse_statement(params["Statement"], params.get("Parameters"))
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        table = lookup(statement.table)
        output: dict[str, Any]
        if isinstance(statement, Select):
            output = self.select(table, statement, params, capacity)
        else:
            if params.get("NextToken") is not None or params.get("Limit") is not None:
                raise validation("Limit and NextToken are only supported for SELECT statements")
            with self.store.db.transaction():
                returned = self.write(table, statement, params, now(), capacity)
            output = {"Items": [returned] if returned else []}
        consumed = capacity.describe(table.name)
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    def select(self, table: Table, statement: Select, params: dict[str, Any], capacity: Capacity) -> dict[str, Any]:
        query: dict[str, Any] = {"TableName": table.name}
        if statement.index is not None:
            query["IndexName"] = statement.index
        for name in ("Limit", "ConsistentRead"):
            if params.get(name) is not None:
                query[name] = params[name]
        if params.get("NextToken") is not None:
            query["ExclusiveStartKey"] = decode_token(params["NextToken"])
        if capacity.mode is not None:
            query["ReturnConsumedCapacity"] = capacity.mode
        reader = Reader(self.store, table, query, "Query")
        schema = reader.schema
        where = statement.where
        hash_value = equalities(where).get(schema.hash_name)
        if hash_value is not None and value_type(hash_value) == schema.hash_type:
            key_condition: Any = Compare("=", Path((schema.hash_name,)), Literal(hash_value, ""))
            range_leaf = _range_leaf(where, schema)
            if range_leaf is not None:
                key_condition = And(key_condition, range_leaf)
            reader.compiled = Compiled(key_condition=key_condition)
            page = reader.query()
        else:
            reader.operation = "Scan"
            page = reader.scan()
        found = [item for item in page["Items"] if where is None or evaluate(where, item)]
        if statement.projection is not None:
            found = [project(item, statement.projection) for item in found]
        output: dict[str, Any] = {"Items": found}
        if page.get("LastEvaluatedKey") is not None:
            output["NextToken"] = encode_token(page["LastEvaluatedKey"])
            output["LastEvaluatedKey"] = page["LastEvaluatedKey"]
        if page.get("ConsumedCapacity") is not None:
            units = page["ConsumedCapacity"].get("CapacityUnits", 0.0)
            capacity.read(table.name, units)
        return output

    def get(self, table: Table, statement: Select, consistent: bool, capacity: Capacity) -> Item | None:
        """A SELECT naming one item by its full primary key (batches and transactions)."""
        if statement.index is not None:
            raise validation("Select statements with an index are not supported in batches and transactions")
        key = key_of(statement.where, table.schema)
        item = self.engine.read(table, key)
        capacity.read(table.name, read_units(item_size(item) if item else 0, consistent))
        if item is None or not evaluate(statement.where, item):
            return None
        return project(item, statement.projection) if statement.projection is not None else item

    # -- writes ---------------------------------------------------------------------------------
    def write(
        self, table: Table, statement: Statement, params: dict[str, Any], now: float, capacity: Capacity
    ) -> Item | None:
        """Run one INSERT/UPDATE/DELETE in the current transaction; the RETURNING item, if any."""
        on_failure = params.get("ReturnValuesOnConditionCheckFailure")
        if isinstance(statement, Insert):
            item = check_item(statement.item)
            table.schema.check_item_keys(item)
            check_index_keys(table, item)

            def insert(old: Item | None) -> Item | None:
                if old is not None:
                    raise duplicate_item()
                return item

            self.engine.write(table, table.schema.key_of(item), insert, now, capacity)
            return None
        if isinstance(statement, Update):
            return self._update(table, statement, on_failure, now, capacity)
        assert isinstance(statement, Delete)
        if statement.returning not in ("NONE", "ALL_OLD"):
            raise validation("RETURNING is only supported with ALL OLD * for DELETE statements")
        key = key_of(statement.where, table.schema)

        def delete(old: Item | None) -> Item | None:
            if old is not None and not evaluate(statement.where, old):
                raise _condition_failed(old, on_failure)
            return None

        result = self.engine.write(table, key, delete, now, capacity)
        return result.old if statement.returning == "ALL_OLD" else None

    def _update(
        self, table: Table, statement: Update, on_failure: str | None, now: float, capacity: Capacity
    ) -> Item | None:
        key = key_of(statement.where, table.schema)
        for action in statement.actions:
            if action.path.elements[0] in table.schema.names:
                raise invalid_parameter(
                    f"Cannot update attribute {action.path.elements[0]}. This attribute is part of the key"
                )
        actions = UpdateActions(tuple(statement.actions))

        def update(old: Item | None) -> Item | None:
            if old is None:
                raise errors.conditional_check_failed()
            if not evaluate(statement.where, old):
                raise _condition_failed(old, on_failure)
            new = apply_update(actions, old)
            check_index_keys(table, new)
            return new

        result: WriteResult = self.engine.write(table, key, update, now, capacity, update=True)
        if statement.returning == "NONE":
            return None
        return update_return(statement.returning, result, Compiled(update=actions))

    # -- BatchExecuteStatement ------------------------------------------------------------------
    def batch(self, lookup: TableLookup, params: dict[str, Any], now: Now) -> dict[str, Any]:
        requests = params["Statements"]
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        parsed: list[Statement | ServiceError] = []
        for request in requests:
            try:
                parsed.append(parse_statement(request["Statement"], request.get("Parameters")))
            except ServiceError as error:
                parsed.append(error)
        kinds = {isinstance(s, Select) for s in parsed if not isinstance(s, ServiceError)}
        if len(kinds) > 1:
            raise validation("Batch must consist of either all read statements or all write statements")
        responses: list[dict[str, Any]] = []
        for request, statement in zip(requests, parsed):
            response: dict[str, Any] = {}
            try:
                if isinstance(statement, ServiceError):
                    raise statement
                table = lookup(statement.table)
                response["TableName"] = table.name
                if isinstance(statement, Select):
                    item = self.get(table, statement, bool(request.get("ConsistentRead")), capacity)
                    if item is not None:
                        response["Item"] = item
                else:
                    with self.store.db.transaction():
                        self.write(table, statement, request, now(), capacity)
            except ServiceError as error:
                response["Error"] = _batch_error(error)
            responses.append(response)
        output: dict[str, Any] = {"Responses": responses}
        consumed = capacity.describe_all()
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    # -- ExecuteTransaction ---------------------------------------------------------------------
    def transaction(
        self, lookup: TableLookup, params: dict[str, Any], now: Now, token_check: Callable[[], bool],
        token_save: Callable[[], None],
    ) -> dict[str, Any]:
        """All statements or none. `token_check()` (inside the SQL transaction) is True when
        this request already ran under its ClientRequestToken; `token_save()` records it."""
        requests = params["TransactStatements"]
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        prepared: list[tuple[Table, Statement, dict[str, Any]]] = []
        seen: set[tuple[str, Any]] = set()
        for request in requests:
            statement = parse_statement(request["Statement"], request.get("Parameters"))
            table = lookup(statement.table)
            if not isinstance(statement, Insert):
                key = key_of(statement.where, table.schema)
            else:
                item = check_item(statement.item)
                table.schema.check_item_keys(item)
                key = table.schema.key_of(item)
            identity = (table.table_id, table.schema.encode(key))
            if identity in seen:
                raise validation("Transaction request cannot include multiple operations on one item")
            seen.add(identity)
            prepared.append((table, statement, request))
        reads = {isinstance(statement, Select) for _, statement, _ in prepared}
        if len(reads) > 1:
            raise validation("Transaction must contain either all read statements or all write statements")
        responses: list[dict[str, Any]] = []
        with self.store.db.transaction():
            if reads == {True}:
                for table, statement, _ in prepared:
                    assert isinstance(statement, Select)
                    found = self.get(table, statement, True, capacity)
                    responses.append({"Item": found} if found is not None else {})
                output: dict[str, Any] = {"Responses": responses}
            else:
                if token_check():
                    return _with_capacity({}, capacity)
                reasons: list[dict[str, Any]] = []
                moment = now()
                for table, statement, request in prepared:
                    try:
                        self.write(table, statement, request, moment, capacity)
                        reasons.append({"Code": "None"})
                    except ServiceError as error:
                        reason = _batch_error(error)
                        if error.code not in _BATCH_CODES:
                            raise
                        reasons.append(reason)
                if any(reason["Code"] != "None" for reason in reasons):
                    codes = ", ".join(reason["Code"] for reason in reasons)
                    raise ServiceError(
                        "TransactionCanceledException",
                        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                        400, fields={"CancellationReasons": reasons},
                    )
                token_save()
                output = {}
        return _with_capacity(output, capacity)


def _condition_failed(old: Item, on_failure: str | None) -> ServiceError:
    return errors.conditional_check_failed(old if on_failure == "ALL_OLD" else None)


def _batch_error(error: ServiceError) -> dict[str, Any]:
    result: dict[str, Any] = {"Code": _BATCH_CODES.get(error.code, error.code), "Message": error.message}
    item = (error.fields or {}).get("Item")
    if item is not None:
        result["Item"] = item
    return result


def _with_capacity(output: dict[str, Any], capacity: Capacity) -> dict[str, Any]:
    consumed = capacity.describe_all()
    if consumed is not None:
        output["ConsumedCapacity"] = consumed
    return output
