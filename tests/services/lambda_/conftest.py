"""Fixtures of the Lambda tests: a client and a role Lambda may assume (helpers: lambda_helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_helpers import create_role


@pytest.fixture(scope="module")
def lam(freehold: Any) -> Any:
    return freehold.client("lambda")


@pytest.fixture(scope="module")
def role(freehold: Any) -> str:
    return create_role(freehold)
