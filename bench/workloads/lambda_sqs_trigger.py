"""lambda-sqs-trigger: an SQS event source mapping end to end. A function mapped to an input
queue forwards every record's body to an output queue; the workload times one message from
SendMessage to its arrival on the output queue (sequentially, so the poller's pick-up delay,
the invocation and the function's own SQS call are all inside), then how fast a backlog of
messages sent in batches is drained through the function.

moto_server cannot run functions without Docker, so its mapping never delivers and it is
reported as failed. MiniStack (1.5.33) delivers the batch, but its function sandboxes have no
boto3 (AWS's Python runtimes do), so the forwarder fails to import and MiniStack is reported
as failed too.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from typing import Any

from bench.clients import client
from bench.measure import Metric, percentile
from bench.workloads.base import EndpointWorkload, Measured, Options

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
FORWARDER = """
import os, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    records = event["Records"]
    for start in range(0, len(records), 10):
        sqs.send_message_batch(QueueUrl=os.environ["OUT"], Entries=[
            {"Id": str(i), "MessageBody": r["body"]} for i, r in enumerate(records[start:start + 10])])
    return {}
"""
DELIVERY_TIMEOUT = 15.0


class NotDelivered(Exception):
    """The mapping did not deliver a message to the function within the timeout."""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _setup(endpoint: str) -> tuple[Any, str, str, str]:
    """(sqs client, input queue URL, output queue URL, mapping UUID) with the mapping Enabled."""
    suffix = uuid.uuid4().hex[:8]
    iam, lam, sqs = client("iam", endpoint), client("lambda", endpoint), client("sqs", endpoint)
    role = iam.create_role(RoleName=f"bench-esm-{suffix}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    in_url = sqs.create_queue(QueueName=f"bench-esm-in-{suffix}")["QueueUrl"]
    out_url = sqs.create_queue(QueueName=f"bench-esm-out-{suffix}")["QueueUrl"]
    in_arn = sqs.get_queue_attributes(QueueUrl=in_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"bench-esm-{suffix}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": _zip(FORWARDER)}, Environment={"Variables": {"OUT": out_url}}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    mapping = lam.create_event_source_mapping(EventSourceArn=in_arn, FunctionName=name, BatchSize=10)
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Enabled":
        if time.monotonic() > deadline:
            raise NotDelivered("the mapping did not become Enabled")
        time.sleep(0.05)
    return sqs, in_url, out_url, mapping["UUID"]


def _receive(sqs: Any, out_url: str, wanted: int) -> int:
    """Receive (and delete) up to `wanted` forwarded messages; how many arrived."""
    got = 0
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while got < wanted:
        if time.monotonic() > deadline:
            raise NotDelivered(f"{got} of {wanted} messages came through the function")
        answer = sqs.receive_message(QueueUrl=out_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages") or []
        if messages:
            sqs.delete_message_batch(QueueUrl=out_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        got += len(messages)
    return got


def measure_trigger(endpoint: str, options: Options) -> Measured:
    sqs, in_url, out_url, _ = _setup(endpoint)
    rounds = 10 if options.duration <= 1.5 else 40
    backlog = 100 if options.duration <= 1.5 else 500
    sqs.send_message(QueueUrl=in_url, MessageBody="warm-up")
    _receive(sqs, out_url, 1)
    latencies: list[float] = []
    for index in range(rounds):
        started = time.perf_counter()
        sqs.send_message(QueueUrl=in_url, MessageBody=f"m{index}")
        _receive(sqs, out_url, 1)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    started = time.perf_counter()
    for start in range(0, backlog, 10):
        sqs.send_message_batch(QueueUrl=in_url, Entries=[
            {"Id": str(i), "MessageBody": f"b{start + i}"} for i in range(min(10, backlog - start))])
    _receive(sqs, out_url, backlog)
    drained = backlog / (time.perf_counter() - started)
    metrics = [
        Metric("send to forwarded p50", percentile(latencies, 0.5), "ms", "lower"),
        Metric("send to forwarded p99", percentile(latencies, 0.99), "ms", "lower"),
        Metric("backlog drained", drained, "msgs/s", "higher"),
    ]
    notes = [(f"{rounds} sequential messages timed from SendMessage to receipt on the output queue; "
              f"a backlog of {backlog} sent in batches of 10, timed until all were forwarded")]
    return Measured(metrics, notes, calls=rounds * 3 + backlog // 5)


WORKLOAD = EndpointWorkload(
    name="lambda-sqs-trigger",
    title="SQS -> Lambda event source mapping",
    method=(
        "A python3.11 function mapped to an input queue (BatchSize 10) forwards each record's body to an "
        "output queue with boto3. Latency: one message at a time, from SendMessage until it is received "
        "from the output queue. Drain: a backlog sent in batches of 10, messages per second until all "
        "were forwarded."
    ),
    run=measure_trigger,
)
