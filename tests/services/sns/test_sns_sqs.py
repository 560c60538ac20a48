"""SNS → SQS: fan-out with filter policies (attribute and body scope) and raw delivery, FIFO
topics to FIFO queues (ordering, deduplication), PublishBatch, subscription dead-letter
queues, and deliveries that survive kill -9."""

from __future__ import annotations

import json
import time
from typing import Any

from sns_helpers import receive_all, unique, verify_signature


def _queue(sqs: Any, fifo: bool = False) -> tuple[str, str]:
    name = unique("q") + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_fan_out_with_filters_and_raw_delivery(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique("fan"))["TopicArn"]
    everything_url, everything_arn = _queue(sqs)
    raw_url, raw_arn = _queue(sqs)
    body_url, body_arn = _queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=everything_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps({"$or": [{"level": ["error"]}, {"score": [{"numeric": [">", 90]}]}]}),
    })
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=body_arn, Attributes={
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"status": [{"anything-but": ["cancelled"]}], "id": [{"exists": True}]}}),
    })
    published = [
        ("plain text", {}),
        ('{"order": {"id": 1, "status": "paid"}}', {"level": {"DataType": "String", "StringValue": "error"}}),
        ('{"order": {"id": 2, "status": "cancelled"}}', {"score": {"DataType": "Number", "StringValue": "95"}}),
        ('{"order": {"status": "paid"}}', {"level": {"DataType": "String", "StringValue": "info"}}),
    ]
    ids = [sns.publish(TopicArn=topic, Message=text, MessageAttributes=attrs)["MessageId"]
           for text, attrs in published]
    # The unfiltered queue gets every message, in SNS's signed JSON envelope.
    envelopes = [json.loads(m["Body"]) for m in receive_all(sqs, everything_url, 4)]
    assert sorted(e["MessageId"] for e in envelopes) == sorted(ids)
    for envelope in envelopes:
        assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
        verify_signature(envelope)
    by_id = {e["MessageId"]: e for e in envelopes}
    assert by_id[ids[1]]["MessageAttributes"] == {"level": {"Type": "String", "Value": "error"}}
    # The raw queue: bodies as published, attributes as SQS message attributes.
    raw = receive_all(sqs, raw_url, 2, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in raw) == sorted([published[1][0], published[2][0]])
    for message in raw:
        (name,) = message["MessageAttributes"]
        assert name in ("level", "score")
    # Body scope: an order with an id whose status is not cancelled.
    (body_message,) = receive_all(sqs, body_url, 1)
    assert json.loads(body_message["Body"])["MessageId"] == ids[1]
    for url in (everything_url, raw_url, body_url):
        assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_fifo_topic_to_fifo_queue(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique("order") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = _queue(sqs, fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sequence = []
    for i in range(12):
        group = "a" if i % 2 == 0 else "b"
        answer = sns.publish(TopicArn=topic, Message=f"{group}{i}", MessageGroupId=group, MessageDeduplicationId=f"d{i}")
        sequence.append(int(answer["SequenceNumber"]))
    # Duplicates inside the window are accepted but not delivered again.
    sns.publish(TopicArn=topic, Message="a0", MessageGroupId="a", MessageDeduplicationId="d0")
    assert sequence == sorted(sequence)
    messages = receive_all(sqs, url, 12, AttributeNames=["MessageGroupId"])
    bodies = [m["Body"] for m in messages]
    assert [b for b in bodies if b.startswith("a")] == [f"a{i}" for i in range(0, 12, 2)]
    assert [b for b in bodies if b.startswith("b")] == [f"b{i}" for i in range(1, 12, 2)]
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"a", "b"}
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_publish_batch_fans_out(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique("batch"))["TopicArn"]
    url, arn = _queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": f"e{i}", "Message": f"batch {i}"} for i in range(10)])
    assert len(answer["Successful"]) == 10 and answer["Failed"] == []
    assert sorted(m["Body"] for m in receive_all(sqs, url, 10)) == sorted(f"batch {i}" for i in range(10))


def test_undeliverable_messages_go_to_the_dead_letter_queue(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
    dlq_url, dlq_arn = _queue(sqs)
    missing = dlq_arn.rsplit(":", 1)[0] + ":" + unique("missing")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=missing,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    message_id = sns.publish(TopicArn=topic, Message="nowhere to go")["MessageId"]
    (dead,) = receive_all(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    envelope = json.loads(dead["Body"])
    assert (envelope["MessageId"], envelope["Message"]) == (message_id, "nowhere to go")
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"]


def test_fan_out_survives_kill9(freehold: Any) -> None:
    sns, sqs = freehold.client("sns"), freehold.client("sqs")
    topic = sns.create_topic(Name=unique("crash"))["TopicArn"]
    queues = [_queue(sqs) for _ in range(3)]
    for _, arn in queues:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    bodies = [f"m{i}" for i in range(20)]
    for body in bodies:
        sns.publish(TopicArn=topic, Message=body)
    freehold.kill9()
    freehold.start()
    sqs = freehold.client("sqs")
    for url, _ in queues:
        # At least once: every acknowledged publish arrives (one in flight at the kill maybe twice).
        seen: set[str] = set()
        deadline = time.monotonic() + 45
        while seen != set(bodies) and time.monotonic() < deadline:
            seen.update(m["Body"] for m in receive_all(sqs, url, 1, timeout=45))
        assert seen == set(bodies)


def test_a_burst_to_one_queue_arrives_once_and_a_refused_message_is_dead_lettered(sns: Any, sqs: Any) -> None:
    # Each message goes into the queue in its publish's transaction; the one the queue refuses
    # (too large for its MaximumMessageSize) becomes a delivery for the worker, which fails it
    # alone, to the DLQ; nothing else is delivered twice.
    topic = sns.create_topic(Name=unique("burst"))["TopicArn"]
    dlq_url, dlq_arn = _queue(sqs)
    name = unique("small")
    url = sqs.create_queue(QueueName=name, Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
        "RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    bodies = [f"burst {i}" for i in range(19)] + ["x" * 2000]
    for start in (0, 10):
        answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": f"e{i}", "Message": bodies[i],
             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i)}}}
            for i in range(start, start + 10)])
        assert len(answer["Successful"]) == 10
    received = receive_all(sqs, url, 19, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in received) == sorted(bodies[:19])
    assert all(m["MessageAttributes"]["n"]["StringValue"] == m["Body"].split()[1] for m in received)
    (dead,) = receive_all(sqs, dlq_url, 1, MessageAttributeNames=["All"])
    assert dead["Body"] == bodies[19]
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "InvalidParameterValue"
    # Nothing arrives twice.
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_sqs_deliveries_are_in_the_queues_when_publish_returns(sns: Any, sqs: Any) -> None:
    """Local queues get the message in the publish's own transaction: no wait for a worker.
    A subscription whose queue refuses it still goes through the worker (retry policy, DLQ)."""
    topic = sns.create_topic(Name=unique("direct"))["TopicArn"]
    queues = [_queue(sqs) for _ in range(3)]
    for index, (_, arn) in enumerate(queues):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true" if index else "false"})
    dlq_url, dlq_arn = _queue(sqs)
    missing = dlq_arn.rsplit(":", 1)[0] + ":" + unique("missing")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=missing,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    for round_number in range(3):
        body = f"at once {round_number}"
        message_id = sns.publish(TopicArn=topic, Message=body)["MessageId"]
        for index, (url, _) in enumerate(queues):
            (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
            if index:
                assert message["Body"] == body
            else:
                envelope = json.loads(message["Body"])
                assert (envelope["MessageId"], envelope["Message"]) == (message_id, body)
                verify_signature(envelope)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    dead = receive_all(sqs, dlq_url, 3)
    assert sorted(json.loads(m["Body"])["Message"] for m in dead) == [f"at once {i}" for i in range(3)]
