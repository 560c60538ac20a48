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
from dataclasses import replace

from freehold.runtime.seam import FunctionSpec, Invocation, InvocationResult, Throttled
from freehold.runtime.sandbox import INIT_TIMEOUT, Sandbox

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
        # Provisioned concurrency: per pool key, the spec its sandboxes start from and how many
        # are kept initialised; `pinned` sandboxes are never reaped nor evicted.
        self.provisioned: dict[str, tuple[FunctionSpec, int]] = {}
        self.pinned: set[Sandbox] = set()
        self._topping_up: set[str] = set()

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
        candidates = [s for sandboxes in self.idle.values() for s in sandboxes if s not in self.pinned]
        if candidates:
            oldest = min(candidates, key=lambda s: s.last_used)
            self.idle[oldest.spec.key].remove(oldest)
            await self._discard(oldest)

    async def _discard(self, sandbox: Sandbox) -> None:
        self.sandboxes.discard(sandbox)
        self.pinned.discard(sandbox)
        await sandbox.close()

    # -- provisioned concurrency -----------------------------------------------------------------
    async def provision(self, spec: FunctionSpec, count: int) -> int:
        """Keep `count` sandboxes of `spec.key` initialised (0 releases them to the reaper); they
        start with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency and serve invocations
        first. Returns how many are initialised now; the reaper tops up sandboxes that die."""
        if count <= 0:
            self.provisioned.pop(spec.key, None)
            self.pinned = {s for s in self.pinned if s.spec.key != spec.key}
            return 0
        self.provisioned[spec.key] = (replace(spec, initialization_type="provisioned-concurrency"), count)
        extra = [s for s in self.pinned if s.spec.key == spec.key][count:]
        for sandbox in extra:  # fewer than before: the surplus goes back to on-demand
            self.pinned.discard(sandbox)
        return await self._top_up(spec.key)

    async def _top_up(self, key: str) -> int:
        entry = self.provisioned.get(key)
        if entry is None:
            return 0
        spec, count = entry
        missing = count - sum(1 for s in self.pinned if s.spec.key == key and s.alive)
        if missing > 0 and key not in self._topping_up:
            self._topping_up.add(key)
            try:
                await asyncio.gather(*(self._new_pinned(spec) for _ in range(missing)), return_exceptions=True)
            finally:
                self._topping_up.discard(key)
        return sum(1 for s in self.pinned if s.spec.key == key and s.alive and s.ready.done()
                   and s.init_failure is None)

    async def _new_pinned(self, spec: FunctionSpec) -> None:
        sandbox = await self._new(spec)
        self.pinned.add(sandbox)
        waiters: set[asyncio.Future[object]] = {sandbox.ready, sandbox.exited}  # type: ignore[arg-type]
        await asyncio.wait(waiters, timeout=INIT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if sandbox.alive and sandbox.ready.done() and sandbox.init_failure is None:
            self.idle[spec.key].append(sandbox)
        else:
            await self._discard(sandbox)

    # -- upkeep --------------------------------------------------------------------------------
    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, max(0.5, self.idle_seconds / 4)))
            await self.reap()

    async def reap(self) -> None:
        now = time.monotonic()
        self.pinned = {s for s in self.pinned if s.spec.key in self.provisioned}
        for key, sandboxes in list(self.idle.items()):
            keep = [s for s in sandboxes if s.alive and (now - s.last_used < self.idle_seconds or s in self.pinned)]
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
        for key in list(self.provisioned):
            if key not in self._topping_up:
                asyncio.get_running_loop().create_task(self._top_up(key))

    async def forget(self, match: Callable[[FunctionSpec], bool]) -> None:
        """Close the idle sandboxes (and spares) of the functions `match` selects."""
        for key, (spec, _) in list(self.provisioned.items()):
            if match(spec):
                self.provisioned.pop(key, None)
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

    def close_now(self) -> None:
        """`close` without waiting (from the loop's own thread, when it is about to stop):
        every sandbox killed and its resources released at once."""
        if self._reaper is not None:
            self._reaper.cancel()
        for task in self.spares.values():
            task.cancel()
        for sandbox in list(self.sandboxes):
            self.sandboxes.discard(sandbox)
            sandbox.close_now()
        self.idle.clear()
        self.spares.clear()

    def counts(self) -> dict[str, int]:
        return {"sandboxes": len(self.sandboxes), "busy": self.total_inflight, "pid": os.getpid()}
