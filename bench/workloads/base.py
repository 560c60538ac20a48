"""The two shapes a workload takes, and the options every workload is run with.

A LifecycleWorkload starts and stops servers itself (start-up time, idle memory) and so is
given the Peer. An EndpointWorkload is a function of a running server's endpoint URL; the
runner starts one server per peer and runs every selected endpoint workload against it.
Adding a workload is one module with one of these objects, listed in bench/workloads/__init__.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.measure import Metric
from bench.peers import Peer

if TYPE_CHECKING:
    from bench.load import OpFactory


@dataclass(frozen=True)
class Options:
    duration: float = 5.0  # measured window of each load workload, seconds
    warmup: float = 1.0  # per client, before the window
    clients: int = 4  # client processes of each load workload
    startup_runs: int = 5  # spawns per peer for the start-up workload
    start_timeout: float = 60.0  # longest wait for a server's first answer


@dataclass(frozen=True)
class Measured:
    metrics: list[Metric]
    notes: list[str] = field(default_factory=list)
    # Every request an EndpointWorkload sent (warm-up included): with it the runner reports
    # the server's CPU time per call, which the clients sharing the cores cannot distort.
    calls: int = 0


@dataclass(frozen=True)
class Target:
    """A goal freehold's number should meet, shown beside the result."""

    metric: str
    limit: float  # upper bound if the metric is better lower, lower bound if better higher


@dataclass(frozen=True)
class LifecycleWorkload:
    name: str
    title: str
    method: str  # one or two sentences for the report: what is measured and how
    run: Callable[[Peer, Options], Measured]
    targets: tuple[Target, ...] = ()


@dataclass(frozen=True)
class EndpointWorkload:
    name: str
    title: str
    method: str
    run: Callable[[str, Options], Measured]
    targets: tuple[Target, ...] = ()


Workload = LifecycleWorkload | EndpointWorkload


def request_load(factory: OpFactory) -> Callable[[str, Options], Measured]:
    """The `run` of an endpoint workload that is just request load from `factory`: its
    clients, the warm-up and the shared window come from the command line's options."""
    from bench.load import LoadOptions, drive

    def run(endpoint: str, options: Options) -> Measured:
        result = drive(
            factory, endpoint,
            LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup),
        )
        return Measured(result.metrics, result.notes, calls=result.calls)

    return run
