"""Fixtures of the SNS tests: SNS and SQS clients of the live server, a local HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sns_helpers import Receiver


@pytest.fixture(scope="module")
def sns(freehold: Any) -> Any:
    return freehold.client("sns")


@pytest.fixture(scope="module")
def sqs(freehold: Any) -> Any:
    return freehold.client("sqs")


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    try:
        yield endpoint
    finally:
        endpoint.close()
