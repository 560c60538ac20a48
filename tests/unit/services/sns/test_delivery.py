"""Transports.deliver_sqs_batch: deliveries to one standard queue go in SendMessageBatch calls of
at most 10 entries; entries (or whole batches) SQS refuses are sent again alone with SendMessage,
so their outcome is SendMessage's own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sns.delivery import Transports
from freehold.services.sns.models import Subscription
from freehold.services.sns.store import Delivery, Message

QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:orders"
QUEUE_URL = "http://localhost/000000000000/orders"


class FakeSqs:
    """Records the calls SNS makes to SQS; refuses what `refuse` says."""

    def __init__(self, refuse_bodies: set[str] | None = None, refuse_batches: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_bodies = refuse_bodies or set()
        self.refuse_batches = refuse_batches
        self.settings = SimpleNamespace(endpoint_url="http://localhost")

    def call(self, service: str, ctx: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        assert service == "sqs"
        self.calls.append((operation, params))
        if operation == "GetQueueUrl":
            return {"QueueUrl": QUEUE_URL}
        if operation == "SendMessageBatch":
            if self.refuse_batches:
                raise ServiceError("AWS.SimpleQueueService.BatchRequestTooLong", "too long")
            failed = [{"Id": e["Id"], "Code": "InvalidParameterValue", "Message": "no", "SenderFault": True}
                      for e in params["Entries"] if e["MessageBody"] in self.refuse_bodies]
            ok = [{"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "x"}
                  for e in params["Entries"] if e["MessageBody"] not in self.refuse_bodies]
            return {"Successful": ok, "Failed": failed}
        assert operation == "SendMessage"
        if params["MessageBody"] in self.refuse_bodies:
            raise ServiceError("InvalidParameterValue", "One or more parameters are invalid.")
        return {"MessageId": "m", "MD5OfMessageBody": "x"}


def _sub() -> Subscription:
    return Subscription(arn="arn:aws:sns:us-east-1:000000000000:t:s", topic_arn="arn:aws:sns:us-east-1:000000000000:t",
                        account_id="000000000000", region="us-east-1", protocol="sqs", endpoint=QUEUE_ARN,
                        confirmed=True, token="", attributes={"RawMessageDelivery": "true"})


def _deliveries(count: int) -> list[Delivery]:
    attributes = {"kind": {"DataType": "String", "StringValue": "order"}}
    return [Delivery(i + 1, _sub().arn, 0, Message(f"id-{i}", "Notification", _sub().topic_arn, f"body {i}", None, "",
                                                   attributes, "2026-01-01T00:00:00.000Z")) for i in range(count)]


def _transports(sqs: FakeSqs) -> Transports:
    return Transports(sqs)  # type: ignore[arg-type]


def test_deliveries_to_one_queue_go_in_batches_of_ten() -> None:
    sqs = FakeSqs()
    outcomes = _transports(sqs).deliver_sqs_batch(_deliveries(23), _sub())
    assert all(outcome.delivered for outcome in outcomes.values()) and sorted(outcomes) == list(range(1, 24))
    batches = [params for operation, params in sqs.calls if operation == "SendMessageBatch"]
    assert [len(b["Entries"]) for b in batches] == [10, 10, 3]
    assert [op for op, _ in sqs.calls if op == "SendMessage"] == []
    sent = [entry for batch in batches for entry in batch["Entries"]]
    assert [e["MessageBody"] for e in sent] == [f"body {i}" for i in range(23)]
    assert sent[0]["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "order"}}
    assert all(b["QueueUrl"] == QUEUE_URL for b in batches)


def test_a_refused_entry_is_sent_alone_and_fails_as_send_message_does() -> None:
    sqs = FakeSqs(refuse_bodies={"body 2"})
    outcomes = _transports(sqs).deliver_sqs_batch(_deliveries(4), _sub())
    assert [outcomes[i].delivered for i in range(1, 5)] == [True, True, False, True]
    assert outcomes[3].error == "InvalidParameterValue: One or more parameters are invalid."
    assert not outcomes[3].retryable
    assert [params["MessageBody"] for op, params in sqs.calls if op == "SendMessage"] == ["body 2"]


def test_a_refused_batch_is_sent_message_by_message() -> None:
    sqs = FakeSqs(refuse_batches=True)
    outcomes = _transports(sqs).deliver_sqs_batch(_deliveries(3), _sub())
    assert all(outcome.delivered for outcome in outcomes.values())
    assert [params["MessageBody"] for op, params in sqs.calls if op == "SendMessage"] == ["body 0", "body 1", "body 2"]


def test_large_messages_split_batches_by_size() -> None:
    sqs = FakeSqs()
    deliveries = _deliveries(3)
    big = [Delivery(d.id, d.subscription_arn, 0, Message(d.message.message_id, "Notification", d.message.topic_arn,
                                                         "x" * 150_000 + str(d.id), None, "", {}, d.message.published))
           for d in deliveries]
    outcomes = _transports(sqs).deliver_sqs_batch(big, _sub())
    assert all(outcome.delivered for outcome in outcomes.values())
    # Each 150 KB message alone: two would pass SendMessageBatch's 256 KiB total.
    assert [op for op, _ in sqs.calls if op != "GetQueueUrl"] == ["SendMessage"] * 3
