"""sns: SNS Publish throughput, and publish → SQS fan-out latency (publish, then receive the
message from every subscribed queue)."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.wire import WireClient
from bench.workloads.base import EndpointWorkload, Measured, Options

QUEUES = 3  # SQS subscriptions per topic
FAN_OUT_TIMEOUT = 10.0  # a message that has not reached every queue by then is an error


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def _fan_out(endpoint: str, label: str) -> tuple[Any, Any, str, list[str]]:
    """A topic with QUEUES raw-delivery SQS subscriptions: (sns, sqs, topic ARN, queue URLs)."""
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    suffix = uuid.uuid4().hex[:10]
    topic = str(sns.create_topic(Name=f"bench-{label}-{suffix}")["TopicArn"])
    urls = []
    for i in range(QUEUES):
        url = str(sqs.create_queue(QueueName=f"bench-{label}-{suffix}-{i}")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        urls.append(url)
    return sns, sqs, topic, urls


def publish_op(endpoint: str, index: int) -> Operation:
    sns, _, topic, _ = _fan_out(endpoint, f"publish-{index}")

    def publish() -> None:
        if not sns.publish(TopicArn=topic, Message="order 12345 paid").get("MessageId"):
            raise WrongAnswer("Publish without MessageId")

    return publish


def fan_out_op(endpoint: str, index: int) -> Operation:
    sns, sqs, topic, urls = _fan_out(endpoint, f"fanout-{index}")

    def publish_and_receive_everywhere() -> None:
        body = f"order {uuid.uuid4().hex}"
        sns.publish(TopicArn=topic, Message=body)
        deadline = time.monotonic() + FAN_OUT_TIMEOUT
        for url in urls:
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2).get("Messages")
                if messages:
                    if messages[0]["Body"] != body:
                        raise WrongAnswer(f"queue {url} received {messages[0]['Body']!r}, not {body!r}")
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
                    break
                if time.monotonic() > deadline:
                    raise WrongAnswer(f"the message did not reach {url} within {FAN_OUT_TIMEOUT}s")

    return publish_and_receive_everywhere


def wire_publish_op(endpoint: str, index: int) -> Operation:
    _, _, topic, _ = _fan_out(endpoint, f"wpublish-{index}")
    sns = WireClient("sns", endpoint)

    def publish() -> None:
        if b"<MessageId>" not in sns.call("Publish", {"TopicArn": topic, "Message": "order 12345 paid"}):
            raise WrongAnswer("Publish without MessageId")

    return publish


def wire_fan_out_op(endpoint: str, index: int) -> Operation:
    _, _, topic, urls = _fan_out(endpoint, f"wfanout-{index}")
    sns, sqs = WireClient("sns", endpoint), WireClient("sqs", endpoint)

    def publish_and_receive_everywhere() -> None:
        body = f"order {uuid.uuid4().hex}"
        sns.call("Publish", {"TopicArn": topic, "Message": body})
        deadline = time.monotonic() + FAN_OUT_TIMEOUT
        for url in urls:
            while True:
                messages = sqs.call_json(
                    "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 2},
                ).get("Messages")
                if messages:
                    if messages[0]["Body"] != body:
                        raise WrongAnswer(f"queue {url} received {messages[0]['Body']!r}, not {body!r}")
                    sqs.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": messages[0]["ReceiptHandle"]})
                    break
                if time.monotonic() > deadline:
                    raise WrongAnswer(f"the message did not reach {url} within {FAN_OUT_TIMEOUT}s")

    return publish_and_receive_everywhere


def _named(prefix: str, metrics: list[Metric]) -> list[Metric]:
    return [replace(metric, name=f"{prefix} {metric.name}") for metric in metrics]


def measure_sns(endpoint: str, options: Options) -> Measured:
    load = LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup)
    publish = drive(publish_op, endpoint, load)
    fan_out = drive(fan_out_op, endpoint, load)
    wire_publish = drive(wire_publish_op, endpoint, load)
    wire_fan_out = drive(wire_fan_out_op, endpoint, load)
    metrics = (_named("Publish", publish.metrics) + _named("Publish→SQS fan-out", fan_out.metrics)
               + _named("Publish (wire clients)", wire_publish.metrics)
               + _named("Publish→SQS fan-out (wire clients)", wire_fan_out.metrics))
    notes = ([f"Publish: {note}" for note in publish.notes] + [f"fan-out: {note}" for note in fan_out.notes]
             + [f"Publish (wire): {note}" for note in wire_publish.notes]
             + [f"fan-out (wire): {note}" for note in wire_fan_out.notes])
    # A fan-out op is one Publish plus a ReceiveMessage and a DeleteMessage per queue.
    calls = publish.calls + wire_publish.calls + (fan_out.calls + wire_fan_out.calls) * (1 + 2 * QUEUES)
    return Measured(metrics, notes, calls=calls)


WORKLOAD = EndpointWorkload(
    name="sns",
    title="SNS Publish and publish → SQS fan-out",
    method=(
        f"N client processes, each with its own topic and {QUEUES} SQS queues subscribed with raw delivery. "
        "Publish: one Publish per op (durable before it is answered on freehold, and written into the local "
        "SQS queues in the publish's own transaction; other protocols are delivered in the background). "
        "Fan-out: one op publishes a unique message, then receives it (long "
        f"polling) and deletes it from each of the {QUEUES} queues, so its latency is publish → delivered "
        "everywhere, as a client sees it. The '(wire clients)' rows repeat both from light clients (botocore's "
        "SigV4 signer over one keep-alive connection, no boto3 call machinery: bench/wire.py), which leave "
        "more of the 2 shared cores to the server."
    ),
    run=measure_sns,
)
