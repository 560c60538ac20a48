"""Helpers shared by the S3 tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: dict[str, Any] = excinfo.value.response
    return (response["Error"]["Code"], response["Error"].get("Message", ""),
            response["ResponseMetadata"]["HTTPStatusCode"])
