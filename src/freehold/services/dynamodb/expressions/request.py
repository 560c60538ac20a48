"""Compiling the expressions of one request: parse, substitute, check, translate legacy forms.

    compiled = compile_expressions(params, operation="UpdateItem", key_names=("pk",))
    compiled.condition / .update / .projection / .filter / .key_condition

Checks that span the request are done here, once: expression and legacy parameters may not
be mixed, names/values may not be given without an expression that uses them, and every
name and value given must be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.expressions import legacy
from freehold.services.dynamodb.expressions.ast import Path, Update
from freehold.services.dynamodb.expressions.parser import (
    expression_error,
    parse_condition,
    parse_projection,
    parse_update,
)
from freehold.services.dynamodb.expressions.resolve import Substitution, check_overlaps

# Expression parameter -> legacy parameter that does the same, per the API reference.
_PAIRS = (
    ("ConditionExpression", "Expected"),
    ("UpdateExpression", "AttributeUpdates"),
    ("ProjectionExpression", "AttributesToGet"),
    ("FilterExpression", "QueryFilter"),
    ("FilterExpression", "ScanFilter"),
    ("KeyConditionExpression", "KeyConditions"),
)
_VALUE_USERS = ("UpdateExpression", "ConditionExpression", "KeyConditionExpression", "FilterExpression")


@dataclass
class Compiled:
    condition: Any = None
    update: Update | None = None
    projection: list[Path] | None = None
    filter: Any = None
    key_condition: Any = None


def _check_mixing(params: dict[str, Any]) -> None:
    expression = sorted({e for e, _ in _PAIRS if params.get(e) is not None})
    non_expression = sorted({n for _, n in _PAIRS if params.get(n) is not None})
    if expression and non_expression:
        raise validation(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {" + ", ".join(non_expression) + "} "
            "Expression parameters: {" + ", ".join(expression) + "}"
        )


def _check_placeholders_usable(params: dict[str, Any], operation: str) -> None:
    present = [name for name in ("UpdateExpression", "ConditionExpression", "ProjectionExpression",
                                 "KeyConditionExpression", "FilterExpression") if params.get(name) is not None]
    if params.get("ExpressionAttributeNames") is not None and not present:
        raise validation("ExpressionAttributeNames can only be specified when using expressions")
    if params.get("ExpressionAttributeValues") is not None and not any(params.get(n) is not None for n in _VALUE_USERS):
        null = {
            "UpdateItem": "UpdateExpression and ConditionExpression are null",
            "Query": "KeyConditionExpression and FilterExpression are null",
            "Scan": "FilterExpression is null",
        }.get(operation, "ConditionExpression is null")
        raise validation(f"ExpressionAttributeValues can only be specified when using expressions: {null}")


# Every parameter compile_expressions reads: a request with none of them (a plain PutItem or
# GetItem) has nothing to compile or check.
_EXPRESSION_PARAMS = frozenset(
    {name for pair in _PAIRS for name in pair}
    | {"ExpressionAttributeNames", "ExpressionAttributeValues", "ConditionalOperator"}
)


def compile_expressions(params: dict[str, Any], operation: str, key_names: tuple[str, ...] = ()) -> Compiled:
    if _EXPRESSION_PARAMS.isdisjoint(params):
        return Compiled()
    _check_mixing(params)
    _check_placeholders_usable(params, operation)
    sub = Substitution(params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))
    compiled = Compiled()
    operator = params.get("ConditionalOperator")
    if operator is not None and not any(params.get(n) is not None for n in ("Expected", "QueryFilter", "ScanFilter")):
        raise validation("ConditionalOperator can only be used when Filter or Expected has two or more elements")

    update_source = params.get("UpdateExpression")
    if update_source is not None:
        update = sub.resolve(parse_update(update_source), "UpdateExpression")
        paths = [action.path for action in update.actions]
        check_overlaps(paths, "UpdateExpression")
        for path in paths:
            if path.elements[0] in key_names:
                raise invalid_parameter(f"Cannot update attribute {path.elements[0]}. This attribute is part of the key")
        compiled.update = update
    elif params.get("AttributeUpdates") is not None:
        update = legacy.attribute_updates(params["AttributeUpdates"])
        for action in update.actions:
            if action.path.elements[0] in key_names:
                raise invalid_parameter(
                    f"Cannot update attribute {action.path.elements[0]}. This attribute is part of the key"
                )
        compiled.update = update

    condition_source = params.get("ConditionExpression")
    if condition_source is not None:
        compiled.condition = sub.resolve(parse_condition(condition_source, "ConditionExpression"), "ConditionExpression")
    elif params.get("Expected") is not None:
        compiled.condition = legacy.expected_condition(params["Expected"], operator)

    key_source = params.get("KeyConditionExpression")
    if key_source is not None:
        compiled.key_condition = sub.resolve(
            parse_condition(key_source, "KeyConditionExpression"), "KeyConditionExpression"
        )
    elif params.get("KeyConditions") is not None:
        compiled.key_condition = legacy.filter_condition(params["KeyConditions"], "AND")

    filter_source = params.get("FilterExpression")
    if filter_source is not None:
        compiled.filter = sub.resolve(parse_condition(filter_source, "FilterExpression"), "FilterExpression")
    elif params.get("QueryFilter") is not None:
        compiled.filter = legacy.filter_condition(params["QueryFilter"], operator)
    elif params.get("ScanFilter") is not None:
        compiled.filter = legacy.filter_condition(params["ScanFilter"], operator)

    projection_source = params.get("ProjectionExpression")
    if projection_source is not None:
        projection = sub.resolve(parse_projection(projection_source), "ProjectionExpression")
        check_overlaps(list(projection.paths), "ProjectionExpression")
        compiled.projection = list(projection.paths)
    elif params.get("AttributesToGet") is not None:
        names = params["AttributesToGet"]
        if len(set(names)) != len(names):
            raise validation("One or more parameter values were invalid: Duplicate value in attribute name: " + next(
                n for n in names if names.count(n) > 1))
        compiled.projection = [Path((name,)) for name in names]

    sub.check_unused()
    return compiled


def empty_expression_error(kind: str) -> Exception:
    return expression_error(kind, "The expression can not be empty;")
