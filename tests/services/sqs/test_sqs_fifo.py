"""FIFO queues through boto3: group ordering, one in-flight batch per group, deduplication,
high-throughput settings, ReceiveRequestAttemptId, and ordering under concurrent consumers."""

from __future__ import annotations

import threading
from typing import Any

from sqs_helpers import attributes, error_of


def _send(sqs: Any, url: str, body: str, group: str, dedup: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": body, "MessageGroupId": group}
    if dedup is not None:
        kwargs["MessageDeduplicationId"] = dedup
    return dict(sqs.send_message(**kwargs))


def test_group_order_and_one_batch_in_flight_per_group(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true")
    for i in range(4):
        _send(sqs, url, f"a{i}", "A")
    _send(sqs, url, "b0", "B")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    assert first[0]["Attributes"]["MessageGroupId"] == "A"
    assert int(first[0]["Attributes"]["SequenceNumber"]) < int(first[1]["Attributes"]["SequenceNumber"])
    # Group A has a batch in flight: only group B is available now.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b0"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    for message in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a2", "a3"]


def test_returned_message_blocks_its_group_in_order(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true")
    for body in ("1", "2", "3"):
        _send(sqs, url, body, "g")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    # Make the first visible again while the second stays in flight: the group stays blocked.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=batch[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=batch[1]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["1", "2", "3"]


def test_deduplication_explicit_and_content_based(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True)
    first = _send(sqs, url, "x", "g", dedup="d1")
    duplicate = _send(sqs, url, "different body", "g", dedup="d1")
    assert duplicate["MessageId"] == first["MessageId"]
    assert duplicate["SequenceNumber"] == first["SequenceNumber"]
    content = new_queue(fifo=True, ContentBasedDeduplication="true")
    one = _send(sqs, content, "same", "g")
    two = _send(sqs, content, "same", "other-group")
    assert one["MessageId"] == two["MessageId"]
    assert _send(sqs, content, "same", "g", dedup="explicit")["MessageId"] != one["MessageId"]
    counts = attributes(sqs, content, "ApproximateNumberOfMessages")
    assert counts == {"ApproximateNumberOfMessages": "2"}
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "1", "MessageGroupId": "g", "MessageDeduplicationId": "b1"},
        {"Id": "b", "MessageBody": "2", "MessageGroupId": "g", "MessageDeduplicationId": "b1"}])
    ids = {entry["Id"]: entry["MessageId"] for entry in batch["Successful"]}
    assert ids["a"] == ids["b"]


def test_deduplication_scope_message_group(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    one = _send(sqs, url, "x", "g1", dedup="same")
    two = _send(sqs, url, "x", "g2", dedup="same")
    assert one["MessageId"] != two["MessageId"]
    assert _send(sqs, url, "x", "g1", dedup="same")["MessageId"] == one["MessageId"]
    assert attributes(sqs, url, "DeduplicationScope", "FifoThroughputLimit") == {
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    queue = new_queue(fifo=True)
    assert error_of(sqs.set_queue_attributes, QueueUrl=queue, Attributes={"FifoThroughputLimit": "perMessageGroupId"})[0] == (
        "InvalidAttributeValue")


def test_fifo_send_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True)
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageDeduplicationId="d") == (
        "MissingParameter", "The request must contain the parameter MessageGroupId.")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageGroupId="g") == (
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="d",
                    DelaySeconds=2) == (
        "InvalidParameterValue",
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageGroupId="group 123", MessageDeduplicationId="d") == (
        "InvalidParameterValue",
        ("Value group 123 for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric "
         "and punctuation characters. 1 to 128 in length."))
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "m"}]) == (
        "InvalidParameterValue", "The request must contain the parameter MessageGroupId.")
    standard = new_queue()
    assert error_of(sqs.send_message, QueueUrl=standard, MessageBody="m", MessageDeduplicationId="d")[0] == "InvalidParameterValue"


def test_fifo_delete_after_visibility_expired(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true")
    _send(sqs, url, "foobar", "g")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    assert error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle=handle) == (
        "InvalidParameterValue", f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.")


def test_receive_request_attempt_id_repeats_the_same_batch(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true")
    for body in ("1", "2"):
        _send(sqs, url, body, "g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1")["Messages"]
    retried = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["ReceiptHandle"] for m in retried] == [m["ReceiptHandle"] for m in first]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-2")


def test_fifo_order_under_concurrent_consumers(freehold: Any, sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true", VisibilityTimeout="30")
    groups, per_group = 4, 12
    for i in range(per_group):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"g{g}", "MessageBody": f"{g}:{i}", "MessageGroupId": f"g{g}"} for g in range(groups)])
    processed: dict[str, list[int]] = {f"g{g}": [] for g in range(groups)}
    lock = threading.Lock()

    def consume() -> None:
        client = freehold.client("sqs")
        idle = 0
        while idle < 2:
            found = client.receive_message(QueueUrl=url, MaxNumberOfMessages=3, WaitTimeSeconds=1).get("Messages", [])
            if not found:
                idle += 1
                continue
            idle = 0
            for message in found:
                group, index = message["Body"].split(":")
                with lock:  # processed, then deleted: the next of the group cannot be out yet
                    processed[f"g{group}"].append(int(index))
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    consumers = [threading.Thread(target=consume) for _ in range(4)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join(timeout=90)
    assert processed == {f"g{g}": list(range(per_group)) for g in range(groups)}
