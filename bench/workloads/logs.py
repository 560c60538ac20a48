"""logs: CloudWatch Logs PutLogEvents (batches of 100 events) and FilterLogEvents throughput."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.workloads.base import EndpointWorkload, Measured, Options

BATCH = 100
FILTER_GROUP_EVENTS = 5_000  # per client; one in ten says ERROR
FILTER_MATCHES = FILTER_GROUP_EVENTS // 10


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def _group_with_stream(logs: object, label: str) -> tuple[str, str]:
    group = f"/bench/{label}/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)  # type: ignore[attr-defined]
    logs.create_log_stream(logGroupName=group, logStreamName="s")  # type: ignore[attr-defined]
    return group, "s"


def put_log_events_op(endpoint: str, index: int) -> Operation:
    logs = client("logs", endpoint)
    group, stream = _group_with_stream(logs, f"put-{index}")
    payload = [f"2024-01-01T00:00:00Z INFO request {i} served in 12 ms by worker {index}" for i in range(BATCH)]

    def put_log_events() -> None:
        now = int(time.time() * 1000)
        answer = logs.put_log_events(
            logGroupName=group, logStreamName=stream,
            logEvents=[{"timestamp": now, "message": message} for message in payload],
        )
        if "rejectedLogEventsInfo" in answer:
            raise WrongAnswer(f"events rejected: {answer['rejectedLogEventsInfo']}")

    return put_log_events


def filter_log_events_op(endpoint: str, index: int) -> Operation:
    logs = client("logs", endpoint)
    group, stream = _group_with_stream(logs, f"filter-{index}")
    start = int(time.time() * 1000) - 3_600_000
    for batch in range(FILTER_GROUP_EVENTS // BATCH):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {
                "timestamp": start + batch * BATCH + i,
                "message": ("ERROR" if i % 10 == 0 else "INFO") + f" event {batch * BATCH + i} of the bench",
            }
            for i in range(BATCH)
        ])

    def filter_log_events() -> None:
        found = 0
        token = None
        while True:  # a whole search: every page until no nextToken
            extra: dict[str, str] = {"nextToken": token} if token else {}
            page = logs.filter_log_events(logGroupName=group, filterPattern="ERROR", **extra)
            found += len(page["events"])
            token = page.get("nextToken")
            if not token:
                break
        if found != FILTER_MATCHES:
            raise WrongAnswer(f"FilterLogEvents found {found} events, expected {FILTER_MATCHES}")

    return filter_log_events


def _named(prefix: str, metrics: list[Metric]) -> list[Metric]:
    return [replace(metric, name=f"{prefix} {metric.name}") for metric in metrics]


def measure_logs(endpoint: str, options: Options) -> Measured:
    load = LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup)
    put = drive(put_log_events_op, endpoint, load)
    search = drive(filter_log_events_op, endpoint, load)
    put_throughput = next(m for m in put.metrics if m.name == "throughput")
    metrics = _named("PutLogEvents", put.metrics) + [
        Metric("PutLogEvents events", put_throughput.value * BATCH, "ops/s", "higher"),
    ] + _named("FilterLogEvents", search.metrics)
    notes = [f"PutLogEvents: {note}" for note in put.notes] + [f"FilterLogEvents: {note}" for note in search.notes]
    return Measured(metrics, notes, calls=put.calls + search.calls)


WORKLOAD = EndpointWorkload(
    name="logs",
    title="CloudWatch Logs PutLogEvents and FilterLogEvents",
    method=(
        f"N client processes, each with its own boto3 Logs client, log group and stream. PutLogEvents: each "
        f"call uploads a batch of {BATCH} events (~70 bytes each); 'events' is calls/s x {BATCH}. "
        f"FilterLogEvents: each client first fills its own group with {FILTER_GROUP_EVENTS:,} events, then "
        f"searches it for the term ERROR ({FILTER_MATCHES} matches), following nextToken to the end; one op is "
        "one whole search. Latencies are per call (per whole search)."
    ),
    run=measure_logs,
)
