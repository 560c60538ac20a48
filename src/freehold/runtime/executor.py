"""The execution seam: `Executor.invoke(invocation) -> InvocationResult`.

The executor owns the runtime event loop's work (Runtime API servers, sandbox output, the warm
pool), the zygotes, and the SDK directory functions import boto3 from. Given the gateway's
event loop, it runs there: an Invoke arriving over HTTP then reaches its sandbox and comes back
without a thread hop (`await run(invocation)`). Without one, it runs its own loop in a thread.
`invoke` is for other threads (queued invocations, pollers) and blocks until the answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freehold.runtime import cgroups, isolation, launch
from freehold.runtime.pool import WarmPool
from freehold.runtime.sandbox import Sandbox
from freehold.runtime.seam import FunctionSpec, Invocation, InvocationResult
from freehold.runtime.zygotes import Zygotes

log = logging.getLogger("freehold.runtime")

Credentials = Callable[[FunctionSpec], dict[str, str]]
CachedCredentials = Callable[[FunctionSpec], "dict[str, str] | None"]
# The packages of the SDK a Python function finds preinstalled, as on AWS (boto3 and what it
# needs); freehold itself is not among them.
SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def prepare_sdk(target: Path) -> str:
    """A directory of links to the pinned boto3 and its dependencies ('' if not found)."""
    site = next((Path(p) for p in sys.path if p.endswith("site-packages") and (Path(p) / "boto3").is_dir()), None)
    if site is None:
        return ""
    target.mkdir(parents=True, exist_ok=True)
    for name in SDK_PACKAGES:
        source, link = site / name, target / name
        if source.exists() and not link.is_symlink():
            link.symlink_to(source)
    os.chmod(target, 0o755)
    return str(target)


def _prepare_cgroup_parent(rungs: isolation.Isolation) -> None:
    if rungs.cgroup_parent and not os.path.isdir(rungs.cgroup_parent):
        cgroups.remove_stale(rungs.cgroup_parent)
        os.makedirs(rungs.cgroup_parent, exist_ok=True)


def start_zygotes(data_dir: Path) -> Zygotes:
    """The zygotes of a node, the default Python's started now (blocks ~0.5 s): what an Executor
    made later adopts, so that it is ready before the first invocation."""
    rungs = isolation.detect()
    _prepare_cgroup_parent(rungs)  # the blanks' memory cgroups go there, from the start
    sdk_dir = prepare_sdk(data_dir.resolve() / "lambda" / "sdk")
    zygotes = Zygotes(sdk_dir, lambda python: launch.profile(rungs, python, sdk_dir))
    try:
        zygotes.get(launch.interpreter_for_default())
    except Exception:
        log.warning("could not start the default zygote", exc_info=True)
    return zygotes


class Executor:
    def __init__(self, data_dir: Path, endpoint: str, credentials: Credentials, *, idle_seconds: float = 300.0,
                 max_sandboxes: int = 64, account_limit: int = 1000,
                 loop: asyncio.AbstractEventLoop | None = None, zygotes: Zygotes | None = None,
                 cached_credentials: CachedCredentials | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.endpoint = endpoint
        self.credentials = credentials
        self.cached_credentials = cached_credentials  # without blocking: None when not cached
        self.isolation = isolation.detect()
        _prepare_cgroup_parent(self.isolation)
        self.sdk_dir = prepare_sdk(self.data_dir / "lambda" / "sdk")
        self.uids = isolation.SandboxUids(*isolation.claim_uid_block()) if self.isolation.uid_per_function \
            else isolation.SandboxUids()
        self.zygotes = zygotes if zygotes is not None else Zygotes(self.sdk_dir, self._profile)
        self._spawn_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="freehold-spawn")
        self.pool = WarmPool(self._spawn, idle_seconds=idle_seconds, max_sandboxes=max_sandboxes,
                             account_limit=account_limit)
        self._thread: threading.Thread | None = None
        if loop is None:
            self.loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_loop, name="freehold-runtime", daemon=True)
            self._thread.start()
        else:
            self.loop = loop
        if self._on_loop():
            self.pool.start()
        else:
            asyncio.run_coroutine_threadsafe(self._start_pool(), self.loop).result(10)
        if zygotes is None:
            # The zygote of the default Python starts now, in the background (it preloads and
            # warms the SDK for about half a second), and forks blank sandboxes ahead of demand.
            self._spawn_pool.submit(self._start_default_zygote)

    def _start_default_zygote(self) -> None:
        try:
            self.zygotes.get(launch.interpreter_for_default())
        except Exception:
            log.warning("could not start the default zygote", exc_info=True)

    def _profile(self, zygote_python: str) -> dict[str, Any]:
        return launch.profile(self.isolation, zygote_python, self.sdk_dir)

    async def _start_pool(self) -> None:
        self.pool.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    # -- the seam -------------------------------------------------------------------------------
    async def run(self, invocation: Invocation) -> InvocationResult:
        """Run an invocation from any event loop: directly on the executor's own."""
        if self._on_loop():
            return await self.pool.run(invocation)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.pool.run(invocation), self.loop))

    def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run an invocation from a thread other than the loop's; blocks until the answer."""
        future = asyncio.run_coroutine_threadsafe(self.pool.run(invocation), self.loop)
        return future.result()

    def provision(self, spec: FunctionSpec, count: int, timeout: float = 60.0) -> int:
        """Keep `count` sandboxes of `spec` initialised (provisioned concurrency; 0 stops);
        blocks until they are, and returns how many are."""
        return asyncio.run_coroutine_threadsafe(self.pool.provision(spec, count), self.loop).result(timeout)

    def forget(self, match: Callable[[FunctionSpec], bool]) -> None:
        if self._on_loop():  # cannot wait for the loop on the loop: done soon after
            self.loop.create_task(self.pool.forget(match))
            return
        asyncio.run_coroutine_threadsafe(self.pool.forget(match), self.loop).result(30)

    def close(self) -> None:
        if self._on_loop():
            # Closing from the loop itself (the gateway shutting down): no waiting on it.
            self.pool.close_now()
        elif self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self.pool.close(), self.loop).result(30)
            except Exception:
                log.exception("closing sandboxes failed")
        if self._thread is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.zygotes.close()
        self._spawn_pool.shutdown(wait=False, cancel_futures=True)
        if self.isolation.cgroup_parent:
            cgroups.remove_tree(self.isolation.cgroup_parent)

    def health(self) -> dict[str, Any]:
        return {"isolation": self.isolation.report(), **self.pool.counts()}

    # -- making a sandbox -------------------------------------------------------------------------
    async def _spawn(self, sandbox: Sandbox) -> None:
        loop = asyncio.get_running_loop()
        spec = sandbox.spec
        # A sandbox under a uid of its own (and its function's gid, which owns its code): its
        # Runtime API serves that uid's sockets only.
        uid: tuple[int, int] | None = None
        if self.isolation.uid_per_function and spec.owner is not None:
            uid = (self.uids.take(), spec.owner[1])
            sandbox.on_close.append(lambda: self.uids.give_back(uid[0]))
        api = await sandbox.listen(uid[0] if uid is not None else None)
        zygote_python, interpreter = launch.interpreter_for(spec)
        if interpreter is not None and interpreter.warning:
            sandbox.warnings.append(interpreter.warning)
        credentials = self.cached_credentials(spec) if self.cached_credentials is not None else None
        if credentials is None:  # asking STS may block: in a thread
            credentials = await loop.run_in_executor(self._spawn_pool, self.credentials, spec)
        request = launch.plan(
            spec, self.isolation, api=api, stream=sandbox.stream, credentials=credentials, endpoint=self.endpoint,
            sdk_dir=self.sdk_dir, data_dir=str(self.data_dir), zygote_python=zygote_python,
            runtime_interpreter=interpreter, cgroup=None, uid=uid,
        )
        read_fd, write_fd = os.pipe()
        sandbox.attach_output(read_fd)

        def exited(status: int) -> None:
            loop.call_soon_threadsafe(sandbox.on_exit, status)

        sandbox.init_started = time.perf_counter()
        try:
            zygote = self.zygotes.running(zygote_python)
            if zygote is None:  # starting one blocks for a while: in a thread
                zygote = await loop.run_in_executor(self._spawn_pool, self.zygotes.get, zygote_python)
            sandbox.pid, cgroup = await zygote.spawn_async(request, write_fd, exited)
        finally:
            os.close(write_fd)
        if cgroup:
            sandbox.cgroup = cgroups.MemoryCgroup.adopt(cgroup)
