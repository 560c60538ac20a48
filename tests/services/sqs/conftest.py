"""Fixtures of the SQS tests: an SQS client of the live server and unique queue names."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="module")
def sqs(freehold: Any) -> Any:
    return freehold.client("sqs")


@pytest.fixture
def new_queue(sqs: Any) -> Callable[..., str]:
    """Create a queue with a unique name (suffix .fifo for FIFO); returns its URL."""

    def create(prefix: str = "q", fifo: bool = False, **attributes: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
        if fifo:
            attributes.setdefault("FifoQueue", "true")
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    return create
