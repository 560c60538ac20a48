"""Dead-letter queues through boto3: RedrivePolicy, RedriveAllowPolicy,
ListDeadLetterSourceQueues, and the message move tasks."""

from __future__ import annotations

import json
import time
from typing import Any

from sqs_helpers import attributes, error_of


def _arn(sqs: Any, url: str) -> str:
    return attributes(sqs, url, "QueueArn")["QueueArn"]


def _exhaust(sqs: Any, url: str, times: int) -> None:
    """Receive the message `times` times, returning it to the queue each time."""
    for _ in range(times):
        message = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def test_message_moves_after_max_receive_count(sqs: Any, new_queue: Any) -> None:
    dlq = new_queue("dlq")
    source = new_queue("src", RedrivePolicy=json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": "2"}))
    assert json.loads(attributes(sqs, source, "RedrivePolicy")["RedrivePolicy"]) == {
        "deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 2}
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    _exhaust(sqs, source, 2)
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == _arn(sqs, source)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    assert sqs.list_dead_letter_source_queues(QueueUrl=source)["queueUrls"] == []


def test_redrive_policy_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    missing = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:no-such-dlq", "maxReceiveCount": 3})
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": missing}) == (
        "InvalidParameterValue", f"Value {missing} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
    dlq = new_queue("dlq")
    zero = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 0})
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": zero})[1].endswith(
        "Reason: Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.")
    no_arn = json.dumps({"maxReceiveCount": 2})
    assert "deadLetterTargetArn" in error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": no_arn})[1]
    fifo_dlq = new_queue("fdlq", fifo=True)
    mixed = json.dumps({"deadLetterTargetArn": _arn(sqs, fifo_dlq), "maxReceiveCount": 2})
    assert "same type" in error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": mixed})[1]


def test_redrive_allow_policy(sqs: Any, new_queue: Any) -> None:
    dlq = new_queue("dlq", RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"}))
    policy = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1})
    url = new_queue()
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": policy})[0] == "InvalidParameterValue"
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [_arn(sqs, url)]})})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    bad = json.dumps({"redrivePermission": "byQueue"})
    assert error_of(sqs.set_queue_attributes, QueueUrl=dlq, Attributes={"RedriveAllowPolicy": bad})[0] == "InvalidParameterValue"
    # Clearing the redrive policy with an empty string.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in attributes(sqs, url)


def _wait_for_task(sqs: Any, source_arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        task = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"][0]
        if task["Status"] == status or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.1)


def test_move_task_returns_messages_to_their_source(sqs: Any, new_queue: Any) -> None:
    dlq = new_queue("dlq")
    source = new_queue("src", RedrivePolicy=json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1}))
    for i in range(3):
        sqs.send_message(QueueUrl=source, MessageBody=f"m{i}")
    for _ in range(3):
        _exhaust(sqs, source, 1)
    assert "Messages" not in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)  # all moved now
    assert attributes(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "3"
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))["TaskHandle"]
    assert handle
    task = _wait_for_task(sqs, _arn(sqs, dlq), "COMPLETED")
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["m0", "m1", "m2"]


def test_move_task_to_a_destination_and_errors(sqs: Any, new_queue: Any) -> None:
    dlq = new_queue("dlq")
    new_queue("src", RedrivePolicy=json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1}))
    target = new_queue("target")
    sqs.send_message(QueueUrl=dlq, MessageBody="direct")
    sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, target), MaxNumberOfMessagesPerSecond=10)
    _wait_for_task(sqs, _arn(sqs, dlq), "COMPLETED")
    assert sqs.receive_message(QueueUrl=target, WaitTimeSeconds=2)["Messages"][0]["Body"] == "direct"
    plain = new_queue("plain")
    assert error_of(sqs.start_message_move_task, SourceArn=_arn(sqs, plain)) == (
        "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    assert error_of(sqs.start_message_move_task, SourceArn="arn:aws:sqs:us-east-1:000000000000:absent") == (
        "ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.")
    assert error_of(sqs.start_message_move_task, SourceArn=_arn(sqs, dlq),
                    DestinationArn="arn:aws:sqs:us-east-1:000000000000:absent") == (
        "ResourceNotFoundException", "The resource that you specified for the DestinationArn parameter doesn't exist.")
    assert error_of(sqs.cancel_message_move_task, TaskHandle="not-a-handle") == (
        "InvalidParameterValue", "Value for parameter TaskHandle is invalid.")


def test_only_one_running_task_and_cancel(sqs: Any, new_queue: Any) -> None:
    dlq = new_queue("dlq")
    new_queue("src", RedrivePolicy=json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1}))
    target = new_queue("target")
    sqs.send_message_batch(QueueUrl=dlq, Entries=[{"Id": str(i), "MessageBody": "m"} for i in range(10)])
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, target),
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    assert error_of(sqs.start_message_move_task, SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, target)) == (
        "InvalidParameterValue",
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved < 10
    task = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"][0]
    assert task["Status"] == "CANCELLED" and "TaskHandle" not in task
