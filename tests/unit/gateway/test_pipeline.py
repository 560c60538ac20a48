"""The pipeline's dispatch step: where each kind of provider method runs."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from freehold.config import Settings
from freehold.gateway import pipeline
from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.services.base import Params, Provider, ServiceRuntime, inline, short_sql
from freehold.state.database import Database
from freehold.state.sqlite import SqliteDatabase


class Recorder(Provider):
    service = "recorder"

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.threads: list[str] = []

    def _write(self, name: str) -> Params:
        self.threads.append(threading.current_thread().name)
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO t (id) VALUES (?)", (f"{name}-{len(self.threads)}",))
        return {"Thread": threading.current_thread().name}

    @short_sql
    def short_write(self, ctx: RequestContext, params: Params) -> Params:
        return self._write("short")

    def plain_write(self, ctx: RequestContext, params: Params) -> Params:
        return self._write("plain")

    @inline
    def no_io(self, ctx: RequestContext, params: Params) -> Params:
        return {"Thread": threading.current_thread().name}

    async def awaited(self, ctx: RequestContext, params: Params) -> Params:
        return {"Thread": threading.current_thread().name}


def _setup(db: Database) -> tuple[Any, Recorder, ThreadPoolExecutor]:
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    provider = Recorder(ServiceRuntime(Settings(), db, None))  # type: ignore[arg-type]
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="worker")
    node = SimpleNamespace(services=SimpleNamespace(get=lambda service: provider), executor=executor)
    return node, provider, executor


def _ctx(operation: str) -> RequestContext:
    ctx = RequestContext(request=HttpRequest("POST", "/"), request_id="r")
    ctx.service = "recorder"
    ctx.operation = SimpleNamespace(name=operation)
    return ctx


async def _dispatch(node: Any, operation: str) -> str:
    result = await pipeline.dispatch(node, _ctx(operation))
    return str(result["Thread"])


def test_each_kind_of_method_runs_where_it_should(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    node, provider, executor = _setup(db)

    async def scenario() -> None:
        loop_thread = threading.current_thread().name
        assert await _dispatch(node, "ShortWrite") == loop_thread  # lock free: on the loop
        assert (await _dispatch(node, "PlainWrite")).startswith("worker")
        assert await _dispatch(node, "NoIo") == loop_thread
        assert await _dispatch(node, "Awaited") == loop_thread

    try:
        asyncio.run(scenario())
        assert db.query("SELECT COUNT(*) FROM t") == [(2,)]
    finally:
        executor.shutdown(wait=True)
        db.close()


def test_short_sql_goes_to_a_worker_when_the_write_lock_is_taken(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    node, provider, executor = _setup(db)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.transaction():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()

    async def scenario() -> str:
        assert inside.wait(10)
        task = asyncio.ensure_future(_dispatch(node, "ShortWrite"))
        await asyncio.sleep(0.05)
        assert not task.done()  # waiting in a worker, while the loop goes on
        release.set()
        return await task

    try:
        thread = asyncio.run(scenario())
        # Tried on the loop first (refused before any statement), then run once in a worker.
        assert thread.startswith("worker")
        assert provider.threads[-1].startswith("worker") and len(provider.threads) == 2
        assert db.query("SELECT COUNT(*) FROM t") == [(1,)]
    finally:
        release.set()
        holder.join(10)
        executor.shutdown(wait=True)
        db.close()


def test_short_sql_runs_in_a_worker_where_commits_wait_for_fsync(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db", fsync=True)
    node, provider, executor = _setup(db)
    try:
        assert asyncio.run(_dispatch(node, "ShortWrite")).startswith("worker")
    finally:
        executor.shutdown(wait=True)
        db.close()


def test_unknown_method_is_not_implemented(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    node, provider, executor = _setup(db)
    try:
        with pytest.raises(ServiceError) as raised:
            asyncio.run(_dispatch(node, "NoSuchThing"))
        assert raised.value.status == 501
    finally:
        executor.shutdown(wait=True)
        db.close()


def test_request_ids_are_distinct_version_4_uuids() -> None:
    import uuid

    ids = [pipeline.new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        value = uuid.UUID(text)
        assert str(value) == text and value.version == 4 and value.variant == uuid.RFC_4122
