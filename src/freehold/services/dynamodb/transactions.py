"""TransactWriteItems and TransactGetItems: all or nothing, with cancellation reasons.

Every action's condition is checked against the item as it is inside one SQL transaction;
if any fails, nothing is written and TransactionCanceledException lists a reason per action
in request order ("None" for the actions that would have succeeded). A ClientRequestToken
makes a write transaction idempotent for 10 minutes: a repeat with the same token and the
same request succeeds without writing again; a different request with that token is
IdempotentParameterMismatchException
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.dynamodb.capacity import Capacity, read_units
from freehold.services.dynamodb.errors import validation
from freehold.services.dynamodb.expressions.evaluate import evaluate
from freehold.services.dynamodb.expressions.projection import project
from freehold.services.dynamodb.expressions.request import compile_expressions
from freehold.services.dynamodb.items import (
    ItemEngine,
    prepare_delete,
    prepare_put,
    prepare_update,
    put_change,
    update_change,
)
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.tables import Table
from freehold.services.dynamodb.types import Item, check_item, item_size

TableLookup = Callable[[str], Table]
TOKEN_SECONDS = 600
_ACTIONS = ("ConditionCheck", "Put", "Delete", "Update")


class _Cancelled(Exception):
    pass


def request_digest(params: dict[str, Any]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return value.hex()
        return str(value)

    body = {k: v for k, v in params.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=default).encode()).hexdigest()


def transact_write(
    engine: ItemEngine, store: DynamoStore, lookup: TableLookup, params: dict[str, Any], account_id: str,
    region: str, now: float,
) -> dict[str, Any]:
    capacity = Capacity(params.get("ReturnConsumedCapacity"))
    prepared: list[tuple[str, Table, Item, Any, dict[str, Any]]] = []
    seen: set[tuple[str, Any]] = set()
    for entry in params["TransactItems"]:
        present = [name for name in _ACTIONS if entry.get(name) is not None]
        if len(present) != 1:
            raise validation("TransactItems can only contain one of Check, Put, Update or Delete")
        action = present[0]
        spec = entry[action]
        table = lookup(spec["TableName"])
        change: Any
        if action == "Put":
            item, compiled = prepare_put(table, spec)
            key = table.schema.key_of(item)
            change = put_change(item, compiled, spec)
        elif action == "Update":
            if spec.get("UpdateExpression") is None:
                raise validation("1 validation error detected: Value null at 'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member must not be null")
            key, compiled = prepare_update(table, spec)
            change = update_change(table, key, compiled, spec)
        elif action == "Delete":
            key, compiled = prepare_delete(table, spec)
            change = compiled
        else:
            if spec.get("ConditionExpression") is None:
                raise validation("The ConditionExpression in a ConditionCheck must not be empty")
            key = check_item(table.schema.check_key(spec["Key"]))
            change = compile_expressions(spec, "ConditionCheck")
        identity = (table.table_id, table.schema.encode(key))
        if identity in seen:
            raise validation("Transaction request cannot include multiple operations on one item")
        seen.add(identity)
        prepared.append((action, table, key, change, spec))

    token = params.get("ClientRequestToken")
    digest = request_digest(params) if token else ""
    with store.db.transaction():
        if token:
            previous = store.transaction_token(account_id, region, token, now - TOKEN_SECONDS)
            if previous is not None:
                if previous != digest:
                    raise ServiceError(
                        "IdempotentParameterMismatchException",
                        "Request with same ClientRequestToken but different parameters was received", 400,
                    )
                return _output(capacity)
        reasons: list[dict[str, Any]] = []
        plans: list[tuple[Table, Item, Item | None, bool]] = []
        failed = False
        for action, table, key, change, spec in prepared:
            old = engine.read(table, key, lock=True)
            reason: dict[str, Any] = {"Code": "None"}
            try:
                if action in ("Put", "Update"):
                    plans.append((table, key, change(old), True))
                else:
                    condition = change.condition
                    if condition is not None and not evaluate(condition, old or {}):
                        raise _Cancelled()
                    if action == "Delete":
                        plans.append((table, key, None, True))
            except _Cancelled:
                reason = _failure(spec, old)
            except ServiceError as error:
                if error.code == "ConditionalCheckFailedException":
                    reason = _failure(spec, old)
                elif error.code == "ValidationException":
                    reason = {"Code": "ValidationError", "Message": error.message}
                else:
                    raise
            if reason["Code"] != "None":
                failed = True
            reasons.append(reason)
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise ServiceError(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                400, fields={"CancellationReasons": reasons},
            )
        for table, key, new, _ in plans:
            engine.write(table, key, (lambda value: lambda old: value)(new), now, capacity)
            capacity.write(table.name, 0)  # transactional writes cost double on AWS; units counted once here
        if token:
            store.save_transaction_token(account_id, region, token, digest, now)
    return _output(capacity)


def _failure(spec: dict[str, Any], old: Item | None) -> dict[str, Any]:
    reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    if spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
        reason["Item"] = old
    return reason


def _output(capacity: Capacity) -> dict[str, Any]:
    consumed = capacity.describe_all()
    return {"ConsumedCapacity": consumed} if consumed is not None else {}


def transact_get(engine: ItemEngine, lookup: TableLookup, params: dict[str, Any]) -> dict[str, Any]:
    capacity = Capacity(params.get("ReturnConsumedCapacity"))
    prepared = []
    for entry in params["TransactItems"]:
        spec = entry["Get"]
        table = lookup(spec["TableName"])
        key = check_item(table.schema.check_key(spec["Key"]))
        prepared.append((table, key, compile_expressions(spec, "TransactGetItems")))
    responses: list[dict[str, Any]] = []
    with engine.store.db.transaction():  # one consistent snapshot
        for table, key, compiled in prepared:
            item = engine.read(table, key)
            capacity.read(table.name, 2 * read_units(item_size(item) if item else 0, True))
            if item is None:
                responses.append({})
            else:
                responses.append({"Item": project(item, compiled.projection) if compiled.projection is not None else item})
    output: dict[str, Any] = {"Responses": responses}
    consumed = capacity.describe_all()
    if consumed is not None:
        output["ConsumedCapacity"] = consumed
    return output
