"""Fixtures of the S3 tests: an S3 client of the live server (SQLite and PostgreSQL) and fresh buckets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


@pytest.fixture(scope="module")
def s3(freehold: Any) -> Any:
    return freehold.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket of the default account for one test."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name
