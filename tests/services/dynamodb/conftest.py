"""Fixtures of the DynamoDB tests: clients of the live server (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def ddb(freehold: Any) -> Any:
    return freehold.client("dynamodb")
