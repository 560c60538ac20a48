"""SQS state across restarts and kill -9: nothing accepted is lost, in-flight messages come
back when their visibility timeout passes, receive counts, delays, DLQ moves and FIFO
deduplication survive."""

from __future__ import annotations

import json
import time
from typing import Any

from sqs_helpers import attributes


def test_kill9_keeps_acknowledged_messages_and_visibility(freehold: Any) -> None:
    sqs = freehold.client("sqs")
    url = sqs.create_queue(QueueName="durable-kill9", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName="durable-kill9-dlq")["QueueUrl"]
    dlq_arn = attributes(sqs, dlq, "QueueArn")["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(20)]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    fifo = sqs.create_queue(QueueName="durable-kill9.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    original = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="once")

    freehold.kill9()
    freehold.start()
    sqs = freehold.client("sqs")

    counts = attributes(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    total = int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"])
    assert total == 30
    # Deduplication ids survive the crash.
    assert sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g",
                            MessageDeduplicationId="once")["MessageId"] == original["MessageId"]
    # In-flight messages come back once their timeout passes, with their receive count kept.
    deadline = time.monotonic() + 10
    seen: dict[str, str] = {}
    while len(seen) < 30 and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           AttributeNames=["ApproximateReceiveCount"]).get("Messages", []):
            seen[message["MessageId"]] = message["Attributes"]["ApproximateReceiveCount"]
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60)
    assert len(seen) == 30
    assert set(sent) <= set(seen)
    for message in in_flight:
        assert seen[message["MessageId"]] == "2"


def test_restart_keeps_queues_delays_and_dead_letters(freehold: Any) -> None:
    sqs = freehold.client("sqs")
    dlq = sqs.create_queue(QueueName="durable-restart-dlq")["QueueUrl"]
    dlq_arn = attributes(sqs, dlq, "QueueArn")["QueueArn"]
    url = sqs.create_queue(QueueName="durable-restart", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})}, tags={"k": "v"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # moved to the DLQ
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)

    freehold.restart()
    sqs = freehold.client("sqs")

    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
    assert attributes(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
    late = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert late[0]["Body"] == "later"
