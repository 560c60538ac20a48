"""Fixtures of the Logs tests: a Logs client of the live server (SQLite and PostgreSQL) and
unique names, so that tests share one server per module without seeing each other's groups."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


@pytest.fixture(scope="module")
def logs(freehold: Any) -> Any:
    return freehold.client("logs")


@pytest.fixture
def group_name() -> str:
    return f"/test/{uuid.uuid4().hex[:12]}"


