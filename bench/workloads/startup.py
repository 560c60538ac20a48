"""startup: seconds from spawning the server process to its first successful answer."""

from __future__ import annotations

from bench.measure import Metric, median
from bench.peers import Peer
from bench.server import start
from bench.workloads.base import LifecycleWorkload, Measured, Options, Target


def measure_startup(peer: Peer, options: Options) -> Measured:
    # One unmeasured start first, so that every peer is timed with its bytecode caches
    # written and its files in the page cache, as on a developer's machine after the first run.
    start(peer, timeout=options.start_timeout, label="startup-prime").stop()
    timings = []
    for run in range(options.startup_runs):
        server = start(peer, timeout=options.start_timeout, label=f"startup-{run}")
        server.stop()
        timings.append(server.startup_seconds)
    return Measured(
        metrics=[
            Metric("startup min", min(timings), "s", "lower"),
            Metric("startup median", median(timings), "s", "lower"),
        ],
        notes=[f"{len(timings)} runs: " + ", ".join(f"{t:.3f}" for t in timings) + " s"],
    )


WORKLOAD = LifecycleWorkload(
    name="startup",
    title="Start-up time",
    method=(
        "Time from spawning the server's command to its first 200 answer to a SigV4-signed STS "
        "GetCallerIdentity, polled every 5 ms over a fresh connection. After one unmeasured "
        "start (bytecode and page caches warm), each peer is spawned several times, each time "
        "with a fresh data directory, and the min and median are reported."
    ),
    run=measure_startup,
    targets=(Target("startup median", 0.3),),
)
