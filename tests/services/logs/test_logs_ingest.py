"""CreateLogGroup, CreateLogStream and PutLogEvents against a live server: AWS's rules and errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from logs_helpers import make_stream, now_ms


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_group_twice_is_resource_already_exists(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=group_name)
    assert error(exc) == ("ResourceAlreadyExistsException", "The specified log group already exists", 400)


def test_create_stream_twice_and_in_missing_group(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name, "a")
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group_name, logStreamName="a")
    assert error(exc) == ("ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group_name + "-missing", logStreamName="a")
    assert error(exc) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_bad_names_answer_the_model_patterns(logs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="has space")
    code, message, _ = error(exc)
    assert code == "InvalidParameterException"
    assert message == (
        "1 validation error detected: Value 'has space' at 'logGroupName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    )
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName="g", logStreamName="a:b")
    assert "Member must satisfy regular expression pattern: [^:*]*" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="x" * 513)
    assert "Member must have length less than or equal to 512" in error(exc)[1]


def test_put_and_read_back(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    start = now_ms() - 1000
    answer = logs.put_log_events(
        logGroupName=group_name, logStreamName="s1",
        logEvents=[{"timestamp": start, "message": "one"}, {"timestamp": start + 1, "message": "twó"}],
        sequenceToken="anything: sequence tokens are ignored",
    )
    assert len(answer["nextSequenceToken"]) == 56
    assert "rejectedLogEventsInfo" not in answer
    events = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(start, "one"), (start + 1, "twó")]
    assert all(e["ingestionTime"] >= start for e in events)
    stream = logs.describe_log_streams(logGroupName=group_name)["logStreams"][0]
    assert stream["firstEventTimestamp"] == start and stream["lastEventTimestamp"] == start + 1
    group = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    assert group["storedBytes"] == len("one") + len("twó".encode()) + 2 * 26


def test_put_into_missing_group_or_stream(logs: Any, group_name: str) -> None:
    event = [{"timestamp": now_ms(), "message": "x"}]
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(logGroupName=group_name, logStreamName="s", logEvents=event)
    assert error(exc) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    logs.create_log_group(logGroupName=group_name)
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(logGroupName=group_name, logStreamName="s", logEvents=event)
    assert error(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)


def test_batch_rules(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    now = now_ms()

    def put(events: list[dict[str, Any]]) -> Any:
        return logs.put_log_events(logGroupName=group_name, logStreamName="s1", logEvents=events)

    with pytest.raises(ClientError) as exc:
        put([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert error(exc) == (
        "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.", 400
    )
    with pytest.raises(ClientError) as exc:
        put([{"timestamp": now - 25 * 3_600_000, "message": "a"}, {"timestamp": now, "message": "b"}])
    assert error(exc)[1] == "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    # 1,048,576 bytes = messages + 26 per event: 4 events of 262,118 bytes fit exactly ...
    fits: list[dict[str, Any]] = [{"timestamp": now, "message": "x" * (262_144 - 26)} for _ in range(4)]
    put(fits)
    # ... one byte more does not.
    fits[0]["message"] += "x"
    with pytest.raises(ClientError) as exc:
        put(fits)
    assert error(exc) == ("InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576", 400)
    with pytest.raises(ClientError) as exc:
        put([{"timestamp": now, "message": "x"}] * 10_001)
    assert error(exc)[0] == "InvalidParameterException"
    assert "Member must have length less than or equal to 10000" in error(exc)[1]


def test_too_old_too_new_and_expired_are_rejected_not_failed(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    now = now_ms()
    day = 86_400_000
    answer = logs.put_log_events(logGroupName=group_name, logStreamName="s1", logEvents=[
        {"timestamp": now - 15 * day, "message": "too old"},
        {"timestamp": now - 15 * day + 1, "message": "too old too"},
        {"timestamp": now, "message": "fine"},
        {"timestamp": now + 3 * 3_600_000, "message": "too new"},
    ])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    events = logs.get_log_events(logGroupName=group_name, logStreamName="s1")["events"]
    assert [e["message"] for e in events] == ["fine"]
    # Older than the group's retention: expired.
    logs.put_retention_policy(logGroupName=group_name, retentionInDays=1)
    answer = logs.put_log_events(logGroupName=group_name, logStreamName="s1", logEvents=[
        {"timestamp": now - 2 * day, "message": "expired"}, {"timestamp": now, "message": "kept"},
    ])
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_many_events_in_one_batch(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    start = now_ms() - 100_000
    events = [{"timestamp": start + i, "message": f"event {i}"} for i in range(10_000)]
    logs.put_log_events(logGroupName=group_name, logStreamName="s1", logEvents=events)
    page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True)
    assert len(page["events"]) == 10_000
    assert page["events"][-1]["message"] == "event 9999"


def test_aws_cli_create_put_get(freehold: Any, group_name: str) -> None:
    import json
    import subprocess
    from pathlib import Path

    aws = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "aws")
    env = freehold.env_for_cli()

    def run(*args: str) -> Any:
        done = subprocess.run([aws, "logs", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    run("create-log-group", "--log-group-name", group_name)
    run("create-log-stream", "--log-group-name", group_name, "--log-stream-name", "cli")
    stamp = now_ms()
    run("put-log-events", "--log-group-name", group_name, "--log-stream-name", "cli",
        "--log-events", f"timestamp={stamp},message=hello-from-cli", f"timestamp={stamp + 1},message=ERROR boom")
    got = run("get-log-events", "--log-group-name", group_name, "--log-stream-name", "cli", "--start-from-head")
    assert [e["message"] for e in got["events"]] == ["hello-from-cli", "ERROR boom"]
    found = run("filter-log-events", "--log-group-name", group_name, "--filter-pattern", "ERROR")
    assert [e["message"] for e in found["events"]] == ["ERROR boom"]
    groups = run("describe-log-groups", "--log-group-name-prefix", group_name)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [group_name]
