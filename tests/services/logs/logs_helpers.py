"""Helpers shared by the Logs tests."""

from __future__ import annotations

import time
from typing import Any


def now_ms() -> int:
    return int(time.time() * 1000)


def make_stream(logs: Any, group: str, stream: str = "s1", *, create_group: bool = True) -> None:
    if create_group:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs: Any, group: str, stream: str, messages: list[str], start: int | None = None, step: int = 1) -> int:
    """Put messages with timestamps start, start+step, ...; return the first timestamp."""
    first = start if start is not None else now_ms() - 60_000
    events = [{"timestamp": first + i * step, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return first
