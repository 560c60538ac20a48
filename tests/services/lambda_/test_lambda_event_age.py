"""MaximumEventAgeInSeconds: a queued Event invocation older than its function's maximum event
age is not run; it goes to the on-failure destination with condition EventAgeExceeded, as on
AWS. Age counts from when Invoke accepted the event, across restarts: the test makes a queued
event two minutes old while the node is stopped (AWS's smallest maximum age is 60 s), on both
backends."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from lambda_helpers import create_function, make_zip, unique

APP = make_zip({"app.py": "def handler(event, context):\n    return event\n"})


def _age_queued_events(server: Any, seconds: float) -> int:
    """Move every queued invocation's acceptance time `seconds` back (the node is stopped)."""
    sql = "UPDATE lambda_async_invocations SET enqueued_at = enqueued_at - ?"
    if server.state_url:
        import psycopg

        with psycopg.connect(server.state_url, autocommit=True) as connection:
            return connection.execute(sql.replace("?", "%s"), (seconds,)).rowcount
    with sqlite3.connect(server.data_dir / "state.db") as connection:
        return connection.execute(sql, (seconds,)).rowcount


def _receive(sqs: Any, url: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return list(messages)
    return []


def test_an_event_older_than_the_maximum_age_goes_to_on_failure(freehold: Any, lam: Any, role: str) -> None:
    sqs = freehold.client("sqs")
    url = sqs.create_queue(QueueName=unique("age"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create_function(lam, role, APP)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    config = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": arn}})
    assert config["MaximumEventAgeInSeconds"] == 60
    # Throttled (reserved concurrency 0): the event stays queued, retried until it is too old.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"old": true}')
    assert answer["StatusCode"] == 202
    freehold.stop()
    assert _age_queued_events(freehold, 120) == 1
    freehold.start()
    messages = _receive(freehold.client("sqs"), url)
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["requestId"] == answer["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"old": True}
