"""SQS standard-queue messages through boto3: send, receive, delete, visibility, delays,
long polling, attributes and their MD5s, batches, limits and their errors."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Any

from sqs_helpers import attributes, error_of


def _receive_all(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kwargs).get("Messages", []))


def test_send_receive_delete_with_attributes_and_md5s(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="hello wörld",
        MessageAttributes={
            "Foo": {"DataType": "String", "StringValue": "Bar"},
            "Count": {"DataType": "Number", "StringValue": "42"},
            "Raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
            "Kind": {"DataType": "String.custom", "StringValue": "x"},
        },
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}},
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello wörld".encode()).hexdigest()
    # AWS's published example digest for a single String attribute Foo=Bar is checked in the
    # unit tests; here the full-set digest must match what the message returns on receive.
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    message = received["Messages"][0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello wörld"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["Raw"] == {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert system["SenderId"] == "000000000000"
    assert system["AWSTraceHeader"] == "Root=1-abc"
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    assert "MD5OfMessageSystemAttributes" in sent
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Deleting again succeeds: the message is already gone.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _receive_all(sqs, url) == []


def test_attribute_name_filters(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
        "order.id": {"DataType": "String", "StringValue": "1"}, "order.kind": {"DataType": "String", "StringValue": "a"},
        "other": {"DataType": "String", "StringValue": "b"}})
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["order.*"], AttributeNames=["SenderId"],
                                  VisibilityTimeout=0)["Messages"][0]
    assert set(message["MessageAttributes"]) == {"order.id", "order.kind"}
    assert message["Attributes"] == {"SenderId": "000000000000"}
    plain = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "MessageAttributes" not in plain and "Attributes" not in plain


def test_visibility_timeout_hides_then_returns(sqs: Any, new_queue: Any) -> None:
    url = new_queue(VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="v")
    first = _receive_all(sqs, url)
    assert len(first) == 1
    assert _receive_all(sqs, url) == []
    counts = attributes(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again[0]["MessageId"] == first[0]["MessageId"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    # The older receipt handle no longer deletes (AWS: the request succeeds, the message stays).
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert len(_receive_all(sqs, url)) == 1


def test_change_visibility_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    handle = _receive_all(sqs, url, VisibilityTimeout=0)[0]["ReceiptHandle"]
    assert error_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=10) == (
        "AWS.SimpleQueueService.MessageNotInflight",
        "Message does not exist or is not available for visibility timeout change.")
    assert error_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=10) == (
        "ReceiptHandleIsInvalid", 'The input receipt handle "garbage" is not a valid receipt handle.')
    assert error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")[0] == "ReceiptHandleIsInvalid"
    handle = _receive_all(sqs, url)[0]["ReceiptHandle"]
    assert error_of(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43201)[0] == (
        "InvalidParameterValue")


def test_delays_queue_and_message_level(sqs: Any, new_queue: Any) -> None:
    url = new_queue(DelaySeconds="1")
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    counts = attributes(sqs, url, "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages")
    assert counts == {"ApproximateNumberOfMessagesDelayed": "1", "ApproximateNumberOfMessages": "1"}
    assert [m["Body"] for m in _receive_all(sqs, url)] == ["no-delay"]
    started = time.monotonic()
    late = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert late[0]["Body"] == "queue-delay"
    assert time.monotonic() - started < 3
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)[0] == "InvalidParameterValue"


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs: Any, new_queue: Any, freehold: Any) -> None:
    url = new_queue()
    other = freehold.client("sqs")

    def send_later() -> None:
        time.sleep(0.5)
        other.send_message(QueueUrl=url, MessageBody="arrived")

    sender = threading.Thread(target=send_later)
    started = time.monotonic()
    sender.start()
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    elapsed = time.monotonic() - started
    sender.join()
    assert messages[0]["Body"] == "arrived"
    assert 0.4 < elapsed < 3


def test_many_long_polls_wait_at_once(freehold: Any, new_queue: Any, sqs: Any) -> None:
    """More waiting receives than the server has worker threads: none holds a thread."""
    url = new_queue()
    results: list[int] = []
    lock = threading.Lock()

    def poll() -> None:
        client = freehold.client("sqs")
        found = client.receive_message(QueueUrl=url, WaitTimeSeconds=4).get("Messages", [])
        with lock:
            results.append(len(found))

    pollers = [threading.Thread(target=poll) for _ in range(40)]
    for poller in pollers:
        poller.start()
    time.sleep(1.0)
    started = time.monotonic()
    # Ordinary calls still answer promptly while 40 receives wait.
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    assert time.monotonic() - started < 1.0
    for i in range(40):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    for poller in pollers:
        poller.join(timeout=15)
    assert sum(results) == 40


def test_wait_time_default_comes_from_the_queue(sqs: Any, new_queue: Any) -> None:
    url = new_queue(ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    assert _receive_all(sqs, url) == []
    assert 0.9 < time.monotonic() - started < 3


def test_receive_parameter_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    assert error_of(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11) == (
        "InvalidParameterValue", "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    assert error_of(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21) == (
        "InvalidParameterValue", "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")
    assert error_of(sqs.receive_message, QueueUrl=url, ReceiveRequestAttemptId="a")[0] == "InvalidParameterValue"
    assert error_of(sqs.receive_message, QueueUrl=url, AttributeNames=["Nope"]) == ("InvalidAttributeName", "Unknown Attribute Nope.")


def test_max_number_of_messages(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4)["Messages"]) == 4
    assert len(_receive_all(sqs, url)) == 5


def test_body_and_size_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue(MaximumMessageSize="1024")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="") == (
        "MissingParameter", "The request must contain the parameter MessageBody.")
    code, message = error_of(sqs.send_message, QueueUrl=url, MessageBody="bad \x07 char")
    assert code == "InvalidMessageContents" and "#x7" in message
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1025) == (
        "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
    # Attribute names, types and values count towards the size.
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1000,
                    MessageAttributes={"a": {"DataType": "String", "StringValue": "y" * 30}})[0] == "InvalidParameterValue"
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)
    big = new_queue()
    sqs.send_message(QueueUrl=big, MessageBody="z" * 1_048_576)
    assert error_of(sqs.send_message, QueueUrl=big, MessageBody="z" * 1_048_577)[1] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.")


def test_message_attribute_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m",
                    MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}}) == (
        "InvalidParameterValue", "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m",
                    MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}})[0] == "InvalidParameterValue"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m",
                    MessageAttributes={"t": {"DataType": "Date", "StringValue": "x"}})[0] == "InvalidParameterValue"
    too_many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageAttributes=too_many)[0] == "InvalidParameterValue"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m",
                    MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}})[0] == "InvalidParameterValue"


def test_send_batch_reports_each_entry(sqs: Any, new_queue: Any) -> None:
    url = new_queue(MaximumMessageSize="1024")
    answer = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "big", "MessageBody": "x" * 2000},
        {"Id": "delayed", "MessageBody": "later", "DelaySeconds": 30},
    ])
    assert sorted(entry["Id"] for entry in answer["Successful"]) == ["delayed", "ok"]
    ok = next(entry for entry in answer["Successful"] if entry["Id"] == "ok")
    assert ok["MD5OfMessageBody"] == hashlib.md5(b"fine").hexdigest()
    assert "MD5OfMessageAttributes" in ok
    assert answer["Failed"] == [{"Id": "big", "SenderFault": True, "Code": "InvalidParameterValue",
                                 "Message": "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."}]
    counts = attributes(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")
    assert counts == {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesDelayed": "1"}


def test_batch_request_errors(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    entries = [{"Id": str(i), "MessageBody": "m"} for i in range(11)]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=entries) == (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent 11.")
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a:b", "MessageBody": "m"}]) == (
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "m"}] * 2)[0] == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[])[0] == "AWS.SimpleQueueService.EmptyBatchRequest"
    huge = [{"Id": str(i), "MessageBody": "x" * 300_000} for i in range(4)]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=huge) == (
        "AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes.")


def test_delete_and_visibility_batches(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    handles = [m["ReceiptHandle"] for m in _receive_all(sqs, url)]
    assert len(handles) == 3
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": handles[0], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "nope", "VisibilityTimeout": 0}])
    assert changed["Successful"] == [{"Id": "a"}]
    assert changed["Failed"][0]["Id"] == "bad" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": handles[1]}, {"Id": "y", "ReceiptHandle": handles[2]}, {"Id": "z", "ReceiptHandle": "bad"}])
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["x", "y"]
    assert deleted["Failed"][0]["Id"] == "z"
    left = _receive_all(sqs, url)
    assert [m["Body"] for m in left] == ["m0"]


def test_concurrent_consumers_never_share_a_message(freehold: Any, sqs: Any, new_queue: Any) -> None:
    url = new_queue(VisibilityTimeout="60")
    total = 60
    for start in range(0, total, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    seen: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        client = freehold.client("sqs")
        while True:
            found = client.receive_message(QueueUrl=url, MaxNumberOfMessages=5).get("Messages", [])
            if not found:
                return
            with lock:
                seen.extend(m["Body"] for m in found)

    consumers = [threading.Thread(target=consume) for _ in range(4)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join(timeout=60)
    assert sorted(seen, key=int) == [str(i) for i in range(total)]


def test_binary_attribute_md5(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    value = base64.b64decode("AAECAwQ=")
    sent = sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={"bin": {"DataType": "Binary", "BinaryValue": value}})
    # name, type, transport 2, value, each length-prefixed (AWS's algorithm).
    expected = hashlib.md5(
        b"\x00\x00\x00\x03bin" + b"\x00\x00\x00\x06Binary" + b"\x02" + b"\x00\x00\x00\x05" + value
    ).hexdigest()
    assert sent["MD5OfMessageAttributes"] == expected
