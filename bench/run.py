"""`python -m bench.run`: run the selected workloads against freehold and its peers, report, and
optionally write docs/benchmarks.md.

Only one server runs at a time: start-up and memory workloads spawn and stop their own;
for the load workloads each peer is started once and every selected load workload runs
against it before it is stopped and the next peer starts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

from bench.measure import Metric, Outcome
from bench.peers import Peer, PeerUnavailable, all_peers
from bench.procfs import machine_summary, tree_cpu_seconds
from bench.report import PeerStatus, RunRecord, console, markdown
from bench.server import ServerFailed, start
from bench.workloads import ALIASES, WORKLOADS, EndpointWorkload, LifecycleWorkload, Options, Workload

QUICK = Options(duration=1.0, warmup=0.3, clients=2, startup_runs=2)


def _names(text: str, known: list[str], what: str, aliases: dict[str, str] | None = None) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    chosen = [(aliases or {}).get(name, name) for name in chosen]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return list(dict.fromkeys(chosen))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark freehold side by side with moto_server and MiniStack on loopback.",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads (default: all = {','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--peers",
        default=",".join(all_peers()),
        help=f"comma-separated servers to compare (default: {','.join(all_peers())})",
    )
    parser.add_argument("--duration", type=float, help="measured seconds per load workload (default 5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per client (default 1)")
    parser.add_argument("--clients", type=int, help="client processes per load workload (default 4)")
    parser.add_argument("--startup-runs", type=int, help="spawns per peer for startup (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a fast smoke run: {QUICK.duration:g} s windows, {QUICK.clients} clients, "
        f"{QUICK.startup_runs} startup runs (flags given explicitly still win)",
    )
    parser.add_argument("--write", type=Path, metavar="PATH", help="write the markdown report here")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw outcomes as JSON here")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    base = QUICK if args.quick else Options()
    return Options(
        duration=args.duration if args.duration is not None else base.duration,
        warmup=args.warmup if args.warmup is not None else base.warmup,
        clients=args.clients if args.clients is not None else base.clients,
        startup_runs=args.startup_runs if args.startup_runs is not None else base.startup_runs,
        start_timeout=base.start_timeout,
    )


def _failure(exc: BaseException) -> str:
    if isinstance(exc, (ServerFailed, PeerUnavailable)):
        return str(exc)
    # An unexpected harness error: keep the place it happened, it is a bug to fix.
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def prepare_peers(peers: list[Peer]) -> list[PeerStatus]:
    statuses = []
    for peer in peers:
        print(f"preparing {peer.name} ...", flush=True)
        try:
            peer.prepare()
            statuses.append(PeerStatus(peer.name, peer.version(), peer.project_url, None))
        except PeerUnavailable as exc:
            print(f"  {peer.name} unavailable: {exc}", flush=True)
            statuses.append(PeerStatus(peer.name, "—", peer.project_url, str(exc)))
    return statuses


def run_lifecycle(workload: LifecycleWorkload, peer: Peer, options: Options) -> Outcome:
    print(f"{workload.name} × {peer.name} ...", flush=True)
    try:
        measured = workload.run(peer, options)
        return Outcome(workload.name, peer.name, measured.metrics, notes=measured.notes)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as this peer's outcome
        return Outcome(workload.name, peer.name, error=_failure(exc))


def run_endpoint_workloads(workloads: list[EndpointWorkload], peer: Peer, options: Options) -> list[Outcome]:
    if not workloads:
        return []
    print(f"starting {peer.name} for {', '.join(w.name for w in workloads)} ...", flush=True)
    try:
        server = start(peer, timeout=options.start_timeout, label="load")
    except Exception as exc:  # noqa: BLE001 - any failure is reported as this peer's outcome
        return [Outcome(w.name, peer.name, error=_failure(exc)) for w in workloads]
    outcomes = []
    with server:
        for workload in workloads:
            print(f"{workload.name} × {peer.name} ...", flush=True)
            if not server.alive():
                outcomes.append(
                    Outcome(workload.name, peer.name, error=f"server exited; log {server.log_path}")
                )
                continue
            try:
                cpu_before = tree_cpu_seconds(server.pid)
                measured = workload.run(server.endpoint, options)
                metrics = list(measured.metrics)
                if measured.calls:
                    cpu_ms = (tree_cpu_seconds(server.pid) - cpu_before) * 1000 / measured.calls
                    metrics.append(Metric("server CPU per call", cpu_ms, "ms", "lower"))
                outcomes.append(Outcome(workload.name, peer.name, metrics, notes=measured.notes))
            except Exception as exc:  # noqa: BLE001 - any failure is reported as this peer's outcome
                outcomes.append(Outcome(workload.name, peer.name, error=_failure(exc)))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    workloads: list[Workload] = [
        WORKLOADS[n] for n in _names(args.workloads, list(WORKLOADS), "workload", ALIASES)
    ]
    known = all_peers()
    peers = [known[n] for n in _names(args.peers, list(known), "peer")]
    options = options_from(args)
    started = datetime.datetime.now(datetime.UTC)
    machine = machine_summary()  # now, so that its load average is the one the run began with

    statuses = prepare_peers(peers)
    runnable = [p for p, s in zip(peers, statuses) if s.unavailable is None]
    outcomes: list[Outcome] = []
    for workload in workloads:
        if isinstance(workload, LifecycleWorkload):
            outcomes.extend(run_lifecycle(workload, peer, options) for peer in runnable)
    load = [w for w in workloads if isinstance(w, EndpointWorkload)]
    for peer in runnable:
        outcomes.extend(run_endpoint_workloads(load, peer, options))

    record = RunRecord(
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        command=".venv/bin/python -m bench.run " + shlex.join(raw),
        machine=machine,
        peers=statuses,
        workloads=workloads,
        outcomes=outcomes,
        settings={
            "load window": f"{options.duration:g} s",
            "warm-up": f"{options.warmup:g} s per client",
            "clients": str(options.clients),
            "startup runs": str(options.startup_runs),
        },
    )
    print(console(record))
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(markdown(record))
        print(f"\nwrote {args.write}")
    if args.json:
        payload = {
            "date": record.date,
            "command": record.command,
            "machine": record.machine,
            "peers": [asdict(s) for s in statuses],
            "outcomes": [asdict(o) for o in outcomes],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
