"""Two freehold nodes on one PostgreSQL database: a message sent through node A (SendMessage,
SendMessageBatch, a visibility change, an SNS publish) wakes a long poll waiting on node B at
once (LISTEN/NOTIFY), not at B's next timed re-check; and B's listener comes back after its
connection is killed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import FreeholdServer, create_database

pytestmark = pytest.mark.postgres

LISTENING = "sqs: listening for other nodes' sends"


@pytest.fixture(scope="module")
def nodes(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FreeholdServer, ...]]:
    state_url = create_database(postgres_url)
    servers = tuple(FreeholdServer(tmp_path_factory.mktemp(f"sqs-node-{name}"), state_url) for name in "ab")
    started: list[FreeholdServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield servers
    finally:
        for server in started:
            server.stop()


def _wait_listening(server: FreeholdServer) -> None:
    deadline = time.monotonic() + 10
    while LISTENING not in server.log():
        assert time.monotonic() < deadline, f"node never listened:\n{server.log()}"
        time.sleep(0.05)


def _receive_in_thread(sqs: Any, url: str, wait: int) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def receive() -> None:
        started = time.monotonic()
        out["answer"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait, MaxNumberOfMessages=1)
        out["returned"] = time.monotonic()
        out["started"] = started

    thread = threading.Thread(target=receive)
    thread.start()
    return thread, out


def test_a_send_on_one_node_wakes_a_long_poll_on_another_at_once(nodes: tuple[FreeholdServer, ...]) -> None:
    a, b = nodes
    sqs_a, sqs_b = a.client("sqs"), b.client("sqs")
    url = sqs_a.create_queue(QueueName=f"cluster-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    assert sqs_b.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None  # B's SQS is up
    _wait_listening(b)
    for round_number in range(3):
        thread, out = _receive_in_thread(sqs_b, url, 20)
        time.sleep(0.5)  # B is waiting; its next timed re-check would be 5 s after it began
        body = f"from node A, round {round_number}"
        sent = time.monotonic()
        sqs_a.send_message(QueueUrl=url, MessageBody=body)
        thread.join(25)
        assert not thread.is_alive()
        messages = out["answer"].get("Messages") or []
        assert [m["Body"] for m in messages] == [body]
        woken_after = out["returned"] - sent
        assert woken_after < 2.0, f"B took {woken_after:.2f}s to see A's message"
        sqs_b.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_batches_and_visibility_changes_on_one_node_wake_the_other(nodes: tuple[FreeholdServer, ...]) -> None:
    a, b = nodes
    sqs_a, sqs_b = a.client("sqs"), b.client("sqs")
    url = sqs_a.create_queue(QueueName=f"cluster-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    _wait_listening(b)
    thread, out = _receive_in_thread(sqs_b, url, 20)
    time.sleep(0.5)
    sent = time.monotonic()
    sqs_a.send_message_batch(QueueUrl=url, Entries=[{"Id": "one", "MessageBody": "batched"}])
    thread.join(25)
    assert [m["Body"] for m in out["answer"]["Messages"]] == ["batched"]
    assert out["returned"] - sent < 2.0
    # The message is in flight on B's receipt; A makes it visible again, B's next poll wakes.
    handle = out["answer"]["Messages"][0]["ReceiptHandle"]
    thread, out = _receive_in_thread(sqs_b, url, 20)
    time.sleep(0.5)
    sent = time.monotonic()
    sqs_a.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    thread.join(25)
    assert [m["Body"] for m in out["answer"]["Messages"]] == ["batched"]
    assert out["returned"] - sent < 2.0


def test_a_listener_that_lost_its_connection_comes_back(nodes: tuple[FreeholdServer, ...], postgres_url: str) -> None:
    """Kill B's LISTEN backend: B falls back to timed re-checks, reconnects, and is woken again."""
    import psycopg

    a, b = nodes
    sqs_a, sqs_b = a.client("sqs"), b.client("sqs")
    url = sqs_a.create_queue(QueueName=f"cluster-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    _wait_listening(b)
    before = b.log().count(LISTENING)
    database = b.state_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN freehold_sqs%%' "
            "AND datname = %s", (database,),
        ).fetchall()
    assert killed, "no LISTEN connection found"
    deadline = time.monotonic() + 15
    while b.log().count(LISTENING) <= before:
        assert time.monotonic() < deadline, b.log()
        time.sleep(0.05)
    thread, out = _receive_in_thread(sqs_b, url, 20)
    time.sleep(0.5)
    sent = time.monotonic()
    sqs_a.send_message(QueueUrl=url, MessageBody="after reconnecting")
    thread.join(25)
    assert [m["Body"] for m in out["answer"]["Messages"]] == ["after reconnecting"]
    assert out["returned"] - sent < 2.0


def test_an_sns_publish_on_one_node_wakes_a_long_poll_on_another(nodes: tuple[FreeholdServer, ...]) -> None:
    """SNS writes the message into the queue in the publish's transaction, whose NOTIFY wakes B."""
    a, b = nodes
    sns_a, sqs_a, sqs_b = a.client("sns"), a.client("sqs"), b.client("sqs")
    name = f"cluster-fan-{uuid.uuid4().hex[:8]}"
    url = sqs_a.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs_a.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns_a.create_topic(Name=name)["TopicArn"]
    sns_a.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    _wait_listening(b)
    thread, out = _receive_in_thread(sqs_b, url, 20)
    time.sleep(0.5)
    sent = time.monotonic()
    sns_a.publish(TopicArn=topic, Message="published on A")
    thread.join(25)
    assert [m["Body"] for m in out["answer"]["Messages"]] == ["published on A"]
    assert out["returned"] - sent < 2.0
