"""Publish in process: SQS subscriptions get the message in the publish's own transaction,
except a FIFO group's message while an earlier one of its group still waits for the worker
(order first), and a send the queue refuses (then the worker's retry policy and DLQ apply)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from freehold.config import Settings
from freehold.services.base import ServiceRuntime
from freehold.services.registry import Services
from freehold.services.sns.delivery import service_context
from freehold.services.sns.provider import SnsProvider
from freehold.state.blobs import BlobStore
from freehold.state.database import open_database

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture
def services(tmp_path: Any) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings)
    services = Services(ServiceRuntime(settings, db, BlobStore(settings.data_dir / "blobs")))
    sns = services.get("sns")
    assert isinstance(sns, SnsProvider)
    sns.worker.stop()  # what is left for the worker stays in sns_deliveries, to be looked at
    try:
        yield services
    finally:
        services.stop()
        db.close()


def _call(services: Services, service: str, operation: str, **params: Any) -> dict[str, Any]:
    return services.call(service, service_context(ACCOUNT, REGION), operation, params)


def _queue(services: Services, name: str, **attributes: str) -> str:
    url = str(_call(services, "sqs", "CreateQueue", QueueName=name, Attributes=attributes)["QueueUrl"])
    return url


def _bodies(services: Services, url: str) -> list[str]:
    """Receive and delete what is there now (a FIFO group stays blocked while in flight)."""
    answer = _call(services, "sqs", "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10)
    messages = answer.get("Messages", [])
    for message in messages:
        _call(services, "sqs", "DeleteMessage", QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [str(message["Body"]) for message in messages]


def _pending(services: Services) -> list[tuple[Any, ...]]:
    sns = services.get("sns")
    assert isinstance(sns, SnsProvider)
    return sns.db.query("SELECT subscription_arn, order_key FROM sns_deliveries ORDER BY id")


def test_standard_topic_delivers_to_its_queues_before_publish_returns(services: Services) -> None:
    topic = _call(services, "sns", "CreateTopic", Name="orders")["TopicArn"]
    urls = [_queue(services, f"orders-{i}") for i in range(3)]
    for i in range(3):
        _call(services, "sns", "Subscribe", TopicArn=topic, Protocol="sqs",
              Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-{i}", Attributes={"RawMessageDelivery": "true"})
    refused = _call(services, "sns", "Subscribe", TopicArn=topic, Protocol="sqs",
                    Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue")["SubscriptionArn"]
    _call(services, "sns", "Publish", TopicArn=topic, Message="paid")
    assert [_bodies(services, url) for url in urls] == [["paid"]] * 3
    # The queue that does not exist refused it: one delivery left for the worker, nothing else.
    assert _pending(services) == [(refused, None)]


def test_a_fifo_group_waiting_for_the_worker_keeps_its_order(services: Services) -> None:
    topic = _call(services, "sns", "CreateTopic", Name="steps.fifo",
                  Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url = _queue(services, "steps.fifo", FifoQueue="true")
    sub = _call(services, "sns", "Subscribe", TopicArn=topic, Protocol="sqs",
                Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:steps.fifo",
                Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    _call(services, "sns", "Publish", TopicArn=topic, Message="a1", MessageGroupId="a")
    assert _bodies(services, url) == ["a1"]
    # An earlier message of group "a" now waits for the worker (as after a refused send):
    # the next ones of that group must queue up behind it, not overtake it.
    sns = services.get("sns")
    assert isinstance(sns, SnsProvider)
    sns.db.execute(
        "INSERT INTO sns_messages (message_id, kind, topic_arn, body, subject, structure, attributes, published, "
        "group_id, dedup_id, sequence_number, signature_version, token) "
        "VALUES ('m-a2', 'Notification', ?, 'a2', NULL, '', '{}', '2024-01-01T00:00:00.000Z', 'a', 'd-a2', "
        "'10000000000000000099', '1', NULL)", (topic,))
    sns.db.execute(
        "INSERT INTO sns_deliveries (message_id, subscription_arn, order_key, due, attempts) VALUES (?, ?, ?, 0, 0)",
        ("m-a2", sub, f"{sub}\na"),
    )
    _call(services, "sns", "Publish", TopicArn=topic, Message="a3", MessageGroupId="a")
    _call(services, "sns", "Publish", TopicArn=topic, Message="b1", MessageGroupId="b")
    # Group "b" has nothing waiting: delivered at once. Group "a" waits its turn.
    assert _bodies(services, url) == ["b1"]
    assert _pending(services) == [(sub, f"{sub}\na"), (sub, f"{sub}\na")]
    # The worker delivers the group in order once it runs.
    sns.worker.start()
    try:
        received: list[str] = []
        deadline = time.monotonic() + 15
        while len(received) < 2 and time.monotonic() < deadline:
            received += _bodies(services, url)
            time.sleep(0.02)
    finally:
        sns.worker.stop()
    assert received == ["a2", "a3"]
    assert _pending(services) == []
