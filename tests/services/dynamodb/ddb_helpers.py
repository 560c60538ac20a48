"""Helpers of the DynamoDB tests: unique table names, table creation, error assertions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str = "tbl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(client: Any, name: str | None = None, range_type: str | None = "S", **extra: Any) -> str:
    """A PAY_PER_REQUEST table with a string partition key `pk` (and a sort key `sk`)."""
    name = name or unique()
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_type:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": range_type})
    definitions += extra.pop("ExtraDefinitions", [])
    client.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=definitions,
                        BillingMode="PAY_PER_REQUEST", **extra)
    return name


def error_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The error a call fails with: {'Code', 'Message'} plus the whole response."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    error: dict[str, Any] = dict(info.value.response["Error"])
    error["response"] = info.value.response
    return error
