"""Turning one run's outcomes into the console table and the docs/benchmarks.md page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.measure import Metric, Outcome, ratio
from bench.workloads import Workload

OURS = "freehold"


@dataclass(frozen=True)
class PeerStatus:
    name: str
    version: str
    source: str
    unavailable: str | None  # why it could not run at all, or None


@dataclass(frozen=True)
class RunRecord:
    date: str
    command: str
    machine: dict[str, str]
    peers: list[PeerStatus]
    workloads: list[Workload]
    outcomes: list[Outcome]
    settings: dict[str, str]


def _outcome(record: RunRecord, workload: str, peer: str) -> Outcome | None:
    return next((o for o in record.outcomes if o.workload == workload and o.peer == peer), None)


def _metric_names(outcomes: Sequence[Outcome]) -> list[str]:
    names: list[str] = []
    for outcome in outcomes:
        for metric in outcome.metrics:
            if metric.name not in names:
                names.append(metric.name)
    return names


def _cell(outcome: Outcome | None, name: str, status: PeerStatus) -> str:
    if status.unavailable:
        return "unavailable"
    if outcome is None:
        return "—"
    if outcome.error:
        return "failed"
    metric = outcome.metric(name)
    return metric.formatted() if metric else "—"


def _ratio_cell(ours: Metric | None, theirs: Metric | None) -> str:
    if ours is None or theirs is None:
        return "—"
    value = ratio(ours, theirs)
    if math.isinf(value) or math.isnan(value):
        return "—"
    return f"{value:.2f}×"


def _table(record: RunRecord, workload: Workload) -> tuple[list[str], list[list[str]]]:
    peers = record.peers
    others = [p for p in peers if p.name != OURS]
    has_ours = any(p.name == OURS for p in peers)
    header = ["metric", "better", *[p.name for p in peers]]
    if has_ours:
        header += [f"{OURS}/{p.name}" for p in others]
    outcomes = [o for o in record.outcomes if o.workload == workload.name]
    rows = []
    for name in _metric_names(outcomes):
        sample = next(m for o in outcomes for m in o.metrics if m.name == name)
        row = [name, sample.better, *[_cell(_outcome(record, workload.name, p.name), name, p) for p in peers]]
        if has_ours:
            ours_outcome = _outcome(record, workload.name, OURS)
            ours = ours_outcome.metric(name) if ours_outcome else None
            for peer in others:
                theirs_outcome = _outcome(record, workload.name, peer.name)
                row.append(_ratio_cell(ours, theirs_outcome.metric(name) if theirs_outcome else None))
        rows.append(row)
    if not rows:  # nothing was measured: still show each peer's state
        cells = [_cell(_outcome(record, workload.name, p.name), "", p) for p in peers]
        rows.append(["(no result)", "—", *cells, *(["—"] * (len(header) - 2 - len(peers)))])
    return header, rows


def _target_lines(record: RunRecord, workload: Workload) -> list[str]:
    lines = []
    ours = _outcome(record, workload.name, OURS)
    for target in workload.targets:
        metric = ours.metric(target.metric) if ours else None
        if metric is None:
            lines.append(f"target for {OURS} {target.metric}: not measured")
            continue
        met = metric.value <= target.limit if metric.better == "lower" else metric.value >= target.limit
        bound = "≤" if metric.better == "lower" else "≥"
        limit = Metric(target.metric, target.limit, metric.unit, metric.better).formatted()
        verdict = "met" if met else "MISSED"
        lines.append(f"target {OURS} {target.metric} {bound} {limit}: {verdict} ({metric.formatted()})")
    return lines


def _problems(record: RunRecord, workload: Workload) -> list[str]:
    lines = []
    for peer in record.peers:
        outcome = _outcome(record, workload.name, peer.name)
        if outcome is None or peer.unavailable:
            continue
        if outcome.error:
            lines.append(f"{peer.name} failed: {outcome.error}")
        lines.extend(f"{peer.name}: {note}" for note in outcome.notes)
    return lines


def console(record: RunRecord) -> str:
    out = []
    for workload in record.workloads:
        header, rows = _table(record, workload)
        widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
        out.append(f"\n== {workload.name}: {workload.title}")
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        out.extend("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)
        notes = _target_lines(record, workload) + _problems(record, workload)
        out.extend("  " + line.replace("\n", "\n      ") for line in notes)
    for peer in record.peers:
        if peer.unavailable:
            out.append(f"\n{peer.name} unavailable: {peer.unavailable}")
    return "\n".join(out)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend(
        "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ⏎ ") for cell in row) + " |"
        for row in rows
    )
    return lines


def _markdown_item(text: str) -> str:
    """A list item; lines after the first (a log's tail) go in a code block under it."""
    first, _, rest = text.partition("\n")
    if not rest:
        return f"- {first}"
    block = "\n".join(f"  {line}" for line in ["```", *rest.splitlines(), "```"])
    return f"- {first}\n\n{block}\n"


def markdown(record: RunRecord) -> str:
    lines = [
        "# Benchmarks",
        "",
        (
            "<!-- Written by `python -m bench.run --write docs/benchmarks.md`;"
            " change bench/report.py, not this file. -->"
        ),
        "",
        f"Numbers from one run on {record.date}. Every peer ran the same workloads on the same",
        "machine in that one run, one server at a time, each on its own loopback port. Ratios are",
        f"{OURS} ÷ peer: above 1× is better for throughput, below 1× is better for times and memory.",
        "The clients run on the same machine as the server and share its cores, as on a laptop:",
        "where they, not the server, bound throughput, `server CPU per call` (the server's own CPU",
        "time from /proc divided by the calls it served) is the number that compares the servers.",
        "Other work on the machine moves every number; the load average below says how busy it was.",
        "",
        "## Reproduce",
        "",
        "```",
        record.command,
        "```",
        "",
        "## Machine",
        "",
        *_markdown_table(list(record.machine), [list(record.machine.values())]),
        "",
        "## Peers",
        "",
        *_markdown_table(
            ["peer", "version", "from", "status"],
            [
                [
                    p.name,
                    p.version,
                    p.source,
                    f"unavailable: {p.unavailable}" if p.unavailable else "available",
                ]
                for p in record.peers
            ],
        ),
        "",
        "Settings: " + ", ".join(f"{k} {v}" for k, v in record.settings.items()) + ".",
        "",
        "## Results",
    ]
    for workload in record.workloads:
        header, rows = _table(record, workload)
        lines += ["", f"### {workload.title} (`{workload.name}`)", "", workload.method, ""]
        lines += _markdown_table(header, rows)
        extra = _target_lines(record, workload) + _problems(record, workload)
        if extra:
            lines.append("")
            lines.extend(_markdown_item(line) for line in extra)
    return "\n".join(lines) + "\n"
