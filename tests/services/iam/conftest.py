"""Fixtures of the IAM tests: an IAM client of the live server (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def iam(freehold: Any) -> Any:
    return freehold.client("iam")
