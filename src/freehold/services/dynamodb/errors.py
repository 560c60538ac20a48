"""The errors DynamoDB answers, with AWS's exact codes and messages, in one place."""

from __future__ import annotations

from typing import Any

from freehold.protocol.errors import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def invalid_parameter(detail: str) -> ServiceError:
    """DynamoDB's most common prefix for bad items and keys."""
    return validation(f"One or more parameter values were invalid: {detail}")


def table_not_found(name: str | None = None) -> ServiceError:
    # DescribeTable/DeleteTable/UpdateTable name the table; item operations do not.
    if name is None:
        return ServiceError("ResourceNotFoundException", "Requested resource not found", 400)
    return ServiceError("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found", 400)


def resource_in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 400)


def conditional_check_failed(item: dict[str, Any] | None = None) -> ServiceError:
    fields = {"Item": item} if item is not None else None
    return ServiceError("ConditionalCheckFailedException", "The conditional request failed", 400, fields=fields)


def key_mismatch() -> ServiceError:
    return validation("The provided key element does not match the schema")


def item_too_large() -> ServiceError:
    return validation("Item size has exceeded the maximum allowed size")


def missing_attribute() -> ServiceError:
    return validation("The provided expression refers to an attribute that does not exist in the item")
