"""Key-use records: at most once per key per interval, written by the executor, never raising."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from freehold.gateway import key_usage
from freehold.gateway.key_usage import KeyUsage


class InlineExecutor(Executor):
    """Runs each task at submit time, counting them."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def recorder() -> tuple[list[tuple[str, str, str]], Callable[[str, str, str, datetime], None]]:
    calls: list[tuple[str, str, str]] = []

    def record(key: str, service: str, region: str, when: datetime) -> None:
        assert when.tzinfo is not None
        calls.append((key, service, region))

    return calls, record


def test_once_per_key_per_interval() -> None:
    calls, record = recorder()
    clock = Clock()
    usage = KeyUsage(record, InlineExecutor(), interval=60.0, clock=clock)
    assert usage.note("AKIAKEY1", "sts", "us-east-1")
    assert not usage.note("AKIAKEY1", "iam", "us-east-1")  # same key, same minute
    assert usage.note("AKIAKEY2", "s3", "eu-west-1")  # another key is its own
    clock.now += 59.9
    assert not usage.note("AKIAKEY1", "sts", "us-east-1")
    clock.now += 0.2
    assert usage.note("AKIAKEY1", "dynamodb", "eu-central-1")
    assert calls == [
        ("AKIAKEY1", "sts", "us-east-1"),
        ("AKIAKEY2", "s3", "eu-west-1"),
        ("AKIAKEY1", "dynamodb", "eu-central-1"),
    ]


def test_only_long_term_keys_are_recorded() -> None:
    calls, record = recorder()
    executor = InlineExecutor()
    usage = KeyUsage(record, executor)
    assert not usage.note("ASIATEMPORARY0000001", "sts", "us-east-1")
    assert executor.submitted == 0 and calls == []


def test_forget_allows_the_next_use_to_be_recorded() -> None:
    calls, record = recorder()
    usage = KeyUsage(record, InlineExecutor(), clock=Clock())
    usage.note("AKIAKEY1", "sts", "us-east-1")
    usage.forget()
    assert usage.note("AKIAKEY1", "sts", "us-east-1")
    assert len(calls) == 2


def test_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(key: str, service: str, region: str, when: datetime) -> None:
        raise RuntimeError("database is gone")

    usage = KeyUsage(broken, InlineExecutor())
    with caplog.at_level(logging.ERROR, logger="freehold.key_usage"):
        assert usage.note("AKIAKEY1", "sts", "us-east-1")
    assert "could not record the use of access key AKIAKEY1" in caplog.text


def test_a_shut_down_executor_loses_the_record_quietly() -> None:
    calls, record = recorder()
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    assert not KeyUsage(record, executor).note("AKIAKEY1", "sts", "us-east-1")
    assert calls == []


def test_writes_happen_on_the_executors_thread() -> None:
    import threading

    threads: list[str] = []

    def record(key: str, service: str, region: str, when: datetime) -> None:
        threads.append(threading.current_thread().name)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker") as executor:
        KeyUsage(record, executor).note("AKIAKEY1", "sts", "us-east-1")
    assert len(threads) == 1 and threads[0].startswith("worker")


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_usage, "MAX_TRACKED_KEYS", 10)
    calls, record = recorder()
    clock = Clock()
    usage = KeyUsage(record, InlineExecutor(), interval=60.0, clock=clock)
    for number in range(10):
        usage.note(f"AKIAOLD{number}", "sts", "us-east-1")
    clock.now += 61
    for number in range(5):
        usage.note(f"AKIANEW{number}", "sts", "us-east-1")
    assert len(usage._last) == 5  # the stale entries went when the table grew past the bound
    assert len(calls) == 15
