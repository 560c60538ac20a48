"""sqs: SQS SendMessage, SendMessageBatch (10 messages) and Receive+Delete throughput and latency."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.workloads.base import EndpointWorkload, Measured, Options

BODY = '{"order": 12345, "status": "paid", "items": [1, 2, 3], "note": "' + "x" * 160 + '"}'
BATCH = 10
PREFILL = 500  # messages per client queue before Receive+Delete
REFILL = 100  # sent (in batches) when a client's queue runs dry: counted in that call's latency
# moto_server slows down as a queue grows (3,000 queued messages took it ~3 minutes to
# accept), so the queue is kept short and refilled instead of filled once for the whole run.


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def _queue(sqs: Any, label: str) -> str:
    return str(sqs.create_queue(QueueName=f"bench-{label}-{uuid.uuid4().hex[:10]}")["QueueUrl"])


def send_message_op(endpoint: str, index: int) -> Operation:
    sqs = client("sqs", endpoint)
    url = _queue(sqs, f"send-{index}")

    def send_message() -> None:
        if not sqs.send_message(QueueUrl=url, MessageBody=BODY).get("MessageId"):
            raise WrongAnswer("SendMessage without MessageId")

    return send_message


def send_message_batch_op(endpoint: str, index: int) -> Operation:
    sqs = client("sqs", endpoint)
    url = _queue(sqs, f"batch-{index}")
    entries = [{"Id": str(i), "MessageBody": BODY} for i in range(BATCH)]

    def send_message_batch() -> None:
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if len(answer.get("Successful", [])) != BATCH or answer.get("Failed"):
            raise WrongAnswer(f"SendMessageBatch did not accept all {BATCH}: {answer.get('Failed')}")

    return send_message_batch


def _fill(sqs: Any, url: str, count: int) -> None:
    entries = [{"Id": str(i), "MessageBody": BODY} for i in range(BATCH)]
    for _ in range(count // BATCH):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def receive_delete_op(endpoint: str, index: int) -> Operation:
    sqs = client("sqs", endpoint)
    url = _queue(sqs, f"receive-{index}")
    _fill(sqs, url, PREFILL)

    def receive_and_delete() -> None:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            _fill(sqs, url, REFILL)
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if len(messages) != 1 or messages[0]["Body"] != BODY:
            raise WrongAnswer(f"ReceiveMessage returned {len(messages)} messages")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])

    return receive_and_delete


def _named(prefix: str, metrics: list[Metric]) -> list[Metric]:
    return [replace(metric, name=f"{prefix} {metric.name}") for metric in metrics]


def measure_sqs(endpoint: str, options: Options) -> Measured:
    load = LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup)
    send = drive(send_message_op, endpoint, load)
    batch = drive(send_message_batch_op, endpoint, load)
    receive = drive(receive_delete_op, endpoint, load)
    batch_throughput = next(m for m in batch.metrics if m.name == "throughput")
    metrics = (
        _named("SendMessage", send.metrics)
        + _named("SendMessageBatch", batch.metrics)
        + [Metric("SendMessageBatch messages", batch_throughput.value * BATCH, "ops/s", "higher")]
        + _named("Receive+Delete", receive.metrics)
    )
    notes = (
        [f"SendMessage: {note}" for note in send.notes]
        + [f"SendMessageBatch: {note}" for note in batch.notes]
        + [f"Receive+Delete: {note}" for note in receive.notes]
    )
    return Measured(metrics, notes, calls=send.calls + batch.calls + receive.calls * 2)


WORKLOAD = EndpointWorkload(
    name="sqs",
    title="SQS SendMessage, SendMessageBatch and Receive+Delete",
    method=(
        "N client processes, each with its own boto3 SQS client and its own standard queue; bodies are ~200-byte "
        f"JSON. SendMessage: one message per call. SendMessageBatch: {BATCH} messages per call ('messages' is "
        f"calls/s x {BATCH}). Receive+Delete: each client's queue is first filled with {PREFILL:,} messages; one "
        "op is a ReceiveMessage of one message followed by its DeleteMessage (two calls); when a queue runs dry "
        f"the op refills it with {REFILL} messages first (in every peer alike). Every send is durable "
        "before it is answered on freehold (SQLite WAL)."
    ),
    run=measure_sqs,
)
