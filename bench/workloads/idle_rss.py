"""idle-rss: resident memory of the server's whole process tree once it has answered and sat idle."""

from __future__ import annotations

import time

from bench.measure import Metric
from bench.peers import Peer
from bench.procfs import process_tree, tree_rss_bytes
from bench.server import start
from bench.workloads.base import LifecycleWorkload, Measured, Options, Target

IDLE_SECONDS = 1.0


def measure_idle_rss(peer: Peer, options: Options) -> Measured:
    # start() returns after the first successful request: that is the one request served.
    with start(peer, timeout=options.start_timeout, label="idle-rss") as server:
        time.sleep(IDLE_SECONDS)
        processes = len(process_tree(server.pid))
        rss = tree_rss_bytes(server.pid)
    return Measured(
        metrics=[Metric("idle RSS", rss / (1024 * 1024), "MiB", "lower")],
        notes=[f"{processes} process(es) in the tree"],
    )


WORKLOAD = LifecycleWorkload(
    name="idle-rss",
    title="Idle memory",
    method=(
        "VmRSS from /proc/<pid>/status summed over the server's process tree, after it has "
        f"answered one STS GetCallerIdentity and then sat idle for {IDLE_SECONDS:g} s."
    ),
    run=measure_idle_rss,
    targets=(Target("idle RSS", 60.0),),
)
