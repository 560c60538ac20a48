"""Closed-loop load from N client processes: each repeats one operation as fast as it is answered.

A workload supplies an OpFactory, a module-level function (so that it pickles into a spawned
process) that builds a client and returns the zero-argument operation to repeat. Every client
warms up on its own, then all start the measured window together at a barrier and each records
the latency of every call in it. Ops/s is the sum over clients of calls / window; p50 and p99
are over all calls of all clients.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import queue
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.measure import Metric, percentile

Operation = Callable[[], object]
OpFactory = Callable[[str, int], Operation]


class LoadFailed(Exception):
    """No client completed a measured window; the message says what went wrong."""


@dataclass(frozen=True)
class LoadOptions:
    clients: int
    duration: float
    warmup: float


@dataclass(frozen=True)
class ClientReport:
    latencies: bytes  # array('d') of seconds
    window: float
    warmup_calls: int
    errors: int
    first_error: str | None


@dataclass(frozen=True)
class LoadResult:
    metrics: list[Metric]
    notes: list[str]
    calls: int  # every call made, warm-up included


def _client_main(
    factory: OpFactory,
    endpoint: str,
    index: int,
    options: LoadOptions,
    barrier: multiprocessing.synchronize.Barrier,
    reports: multiprocessing.Queue[ClientReport | str],
) -> None:
    try:
        operation = factory(endpoint, index)
        warm_until = time.perf_counter() + options.warmup
        operation()  # at least one call, and it must succeed: a failing setup is not a measurement
        warmup_calls = 1
        while time.perf_counter() < warm_until:
            operation()
            warmup_calls += 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the workload with it
        barrier.abort()
        reports.put(f"client {index} failed before the measured window: {type(exc).__name__}: {exc}")
        return
    try:
        barrier.wait(timeout=120)
    except Exception:  # noqa: BLE001 - BrokenBarrierError or a timeout: either way, no window
        reports.put(f"client {index}: another client failed, window not started")
        return
    latencies = array("d")
    errors, first_error = 0, None
    started = time.perf_counter()
    stop_at = started + options.duration
    now = started
    while now < stop_at:
        try:
            operation()
        except Exception as exc:  # noqa: BLE001 - counted: a peer that fails requests under load must show it
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        finished = time.perf_counter()
        latencies.append(finished - now)
        now = finished
    reports.put(ClientReport(latencies.tobytes(), now - started, warmup_calls, errors, first_error))


def drive(factory: OpFactory, endpoint: str, options: LoadOptions) -> LoadResult:
    """Run `options.clients` processes of `factory`'s operation against `endpoint`."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(options.clients)
    reports: multiprocessing.Queue[ClientReport | str] = context.Queue()
    processes = [
        context.Process(
            target=_client_main,
            args=(factory, endpoint, index, options, barrier, reports),
            daemon=True,
        )
        for index in range(options.clients)
    ]
    for process in processes:
        process.start()
    collected: list[Any] = []
    # Spawning and importing boto3 takes a few seconds on a busy machine; allow for it.
    deadline = time.monotonic() + options.warmup + options.duration + 180
    try:
        while len(collected) < options.clients and time.monotonic() < deadline:
            try:
                collected.append(reports.get(timeout=1.0))
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and reports.empty():
                    break
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    return _summarise(collected, options)


def _summarise(collected: list[Any], options: LoadOptions) -> LoadResult:
    failures = [item for item in collected if isinstance(item, str)]
    client_reports = [item for item in collected if isinstance(item, ClientReport)]
    if len(client_reports) < options.clients:
        missing = options.clients - len(client_reports)
        reason = failures[0] if failures else f"{missing} client(s) reported nothing"
        raise LoadFailed(reason)
    latencies = array("d")
    ops_per_second = 0.0
    errors = 0
    first_error = None
    warmup_calls = 0
    for report in client_reports:
        warmup_calls += report.warmup_calls
        own = array("d")
        own.frombytes(report.latencies)
        latencies.extend(own)
        ops_per_second += (len(own) - report.errors) / report.window if report.window else 0.0
        errors += report.errors
        first_error = first_error or report.first_error
    ordered = sorted(latencies)
    metrics = [
        Metric("throughput", ops_per_second, "ops/s", "higher"),
        Metric("p50 latency", percentile(ordered, 0.50) * 1000, "ms", "lower"),
        Metric("p99 latency", percentile(ordered, 0.99) * 1000, "ms", "lower"),
    ]
    notes = [f"{len(ordered):,} calls by {options.clients} clients in {options.duration:g} s"]
    if errors:
        notes.append(f"{errors:,} calls failed (first: {first_error}); throughput counts successes only")
    return LoadResult(metrics, notes, calls=len(ordered) + warmup_calls)
