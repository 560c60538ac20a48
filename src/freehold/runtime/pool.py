"""The warm pool: sandboxes per function version kept between invocations, reaped when idle,
forked ahead of demand, and the concurrency limits (reserved per function, and the
account's) beyond which invocations are throttled.

Runs on the runtime event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from freehold.runtime.seam import FunctionSpec, Invocation, InvocationResult, Throttled
from freehold.runtime.sandbox import Sandbox

log = logging.getLogger("freehold.runtime")

FunctionKey = tuple[str, str, str]
Spawner = Callable[[Sandbox], Awaitable[None]]


class WarmPool:
    def __init__(self, spawn: Spawner, *, idle_seconds: float, max_sandboxes: int, account_limit: int) -> None:
        self._spawn_process = spawn
        self.idle_seconds = idle_seconds
        self.max_sandboxes = max_sandboxes
        self.account_limit = account_limit
        self.idle: dict[str, list[Sandbox]] = defaultdict(list)
        self.spares: dict[str, asyncio.Task[Sandbox | None]] = {}
        self.inflight: dict[FunctionKey, int] = defaultdict(int)
        self.total_inflight = 0
        self.sandboxes: set[Sandbox] = set()
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    # -- invocations ---------------------------------------------------------------------------
    async def run(self, invocation: Invocation) -> InvocationResult:
        spec = invocation.spec
        function: FunctionKey = (spec.account_id, spec.region, spec.name)
        if spec.reserved_concurrency is not None and self.inflight[function] >= spec.reserved_concurrency:
            raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        if self.total_inflight >= self.account_limit:
            raise Throttled("ConcurrentInvocationLimitExceeded")
        self.inflight[function] += 1
        self.total_inflight += 1
        try:
            sandbox = await self._acquire(spec)
            try:
                result = await sandbox.invoke(invocation)
            finally:
                if sandbox.alive:
                    self.idle[spec.key].append(sandbox)
                else:
                    await self._discard(sandbox)
            return result
        finally:
            self.inflight[function] -= 1
            self.total_inflight -= 1

    async def _acquire(self, spec: FunctionSpec) -> Sandbox:
        idle = self.idle[spec.key]
        while idle:
            sandbox = idle.pop()
            if sandbox.alive:
                if not idle:
                    self._fork_spare(spec)
                return sandbox
            await self._discard(sandbox)
        spare = self.spares.pop(spec.key, None)
        if spare is not None:
            ready = await spare
            if ready is not None and ready.alive:
                self._fork_spare(spec)
                return ready
        # A cold start: no spare forked now, it would compete with this sandbox's init for the
        # CPU (the zygote's blank sandboxes already make the next cold start cheap).
        return await self._new(spec)

    def _fork_spare(self, spec: FunctionSpec) -> None:
        """Fork the next sandbox of a busy function ahead of demand, off the request path."""
        if spec.key in self.spares or len(self.sandboxes) >= self.max_sandboxes:
            return

        async def fork() -> Sandbox | None:
            try:
                return await self._new(spec)
            except Exception:
                log.debug("could not fork a spare sandbox for %s", spec.name, exc_info=True)
                return None

        self.spares[spec.key] = asyncio.get_running_loop().create_task(fork())

    async def _new(self, spec: FunctionSpec) -> Sandbox:
        await self._make_room()
        sandbox = Sandbox(spec)
        self.sandboxes.add(sandbox)
        try:
            await self._spawn_process(sandbox)
        except BaseException:
            await self._discard(sandbox)
            raise
        return sandbox

    async def _make_room(self) -> None:
        """Past the sandbox cap, the longest-idle sandbox of any function goes first."""
        if len(self.sandboxes) < self.max_sandboxes:
            return
        candidates = [s for sandboxes in self.idle.values() for s in sandboxes]
        if candidates:
            oldest = min(candidates, key=lambda s: s.last_used)
            self.idle[oldest.spec.key].remove(oldest)
            await self._discard(oldest)

    async def _discard(self, sandbox: Sandbox) -> None:
        self.sandboxes.discard(sandbox)
        await sandbox.close()

    # -- upkeep --------------------------------------------------------------------------------
    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, max(0.5, self.idle_seconds / 4)))
            await self.reap()

    async def reap(self) -> None:
        now = time.monotonic()
        for key, sandboxes in list(self.idle.items()):
            keep = [s for s in sandboxes if s.alive and now - s.last_used < self.idle_seconds]
            for sandbox in sandboxes:
                if sandbox not in keep:
                    await self._discard(sandbox)
            self.idle[key] = keep
        for key, task in list(self.spares.items()):
            if task.done():
                spare = task.result()
                if spare is None or not spare.alive or now - spare.last_used >= self.idle_seconds:
                    self.spares.pop(key, None)
                    if spare is not None:
                        await self._discard(spare)

    async def forget(self, match: Callable[[FunctionSpec], bool]) -> None:
        """Close the idle sandboxes (and spares) of the functions `match` selects."""
        for key, sandboxes in list(self.idle.items()):
            kept = []
            for sandbox in sandboxes:
                if match(sandbox.spec):
                    await self._discard(sandbox)
                else:
                    kept.append(sandbox)
            self.idle[key] = kept
        for key, task in list(self.spares.items()):
            spare = await task
            if spare is not None and match(spare.spec):
                self.spares.pop(key, None)
                await self._discard(spare)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for task in self.spares.values():
            task.cancel()
        for sandbox in list(self.sandboxes):
            await self._discard(sandbox)
        self.idle.clear()
        self.spares.clear()

    def counts(self) -> dict[str, int]:
        return {"sandboxes": len(self.sandboxes), "busy": self.total_inflight, "pid": os.getpid()}
