"""GetLogEvents (time ranges, startFromHead, forward/backward tokens) and FilterLogEvents
(filter patterns, stream selection, pagination) against a live server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from logs_helpers import make_stream, now_ms, put


def test_get_log_events_time_range_and_direction(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    start = put(logs, group_name, "s1", [f"m{i}" for i in range(10)], step=10)

    def messages(**kwargs: Any) -> list[str]:
        return [e["message"] for e in logs.get_log_events(logGroupName=group_name, logStreamName="s1", **kwargs)["events"]]

    assert messages(startFromHead=True) == [f"m{i}" for i in range(10)]
    # startTime inclusive, endTime exclusive.
    assert messages(startTime=start + 20, endTime=start + 50, startFromHead=True) == ["m2", "m3", "m4"]
    # From the tail (the default): the newest `limit`, still in ascending order.
    assert messages(limit=3) == ["m7", "m8", "m9"]
    assert messages(limit=3, startFromHead=True) == ["m0", "m1", "m2"]


def test_forward_tokens_walk_the_stream_and_end_with_the_same_token(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    put(logs, group_name, "s1", [f"m{i}" for i in range(7)])
    seen: list[str] = []
    page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True, limit=3)
    seen += [e["message"] for e in page["events"]]
    token = page["nextForwardToken"]
    assert token.startswith("f/") and page["nextBackwardToken"].startswith("b/")
    for _ in range(10):
        page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True, limit=3,
                                   nextToken=token)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(7)]
    assert page["events"] == []
    # New events appear behind the end token (tailing a stream).
    put(logs, group_name, "s1", ["late"], start=now_ms())
    page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True, nextToken=token)
    assert [e["message"] for e in page["events"]] == ["late"]


def test_backward_tokens(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    put(logs, group_name, "s1", [f"m{i}" for i in range(7)])
    page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", limit=3)
    assert [e["message"] for e in page["events"]] == ["m4", "m5", "m6"]
    pages = []
    token = page["nextBackwardToken"]
    for _ in range(10):
        page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", limit=3, nextToken=token)
        if page["nextBackwardToken"] == token:
            break
        pages.append([e["message"] for e in page["events"]])
        token = page["nextBackwardToken"]
    assert pages == [["m1", "m2", "m3"], ["m0"]]
    # The forward token of a backward page continues right after it.
    middle = logs.get_log_events(logGroupName=group_name, logStreamName="s1", limit=3)["nextBackwardToken"]
    back = logs.get_log_events(logGroupName=group_name, logStreamName="s1", limit=2, nextToken=middle)
    assert [e["message"] for e in back["events"]] == ["m2", "m3"]
    ahead = logs.get_log_events(logGroupName=group_name, logStreamName="s1", limit=2, startFromHead=True,
                                nextToken=back["nextForwardToken"])
    assert [e["message"] for e in ahead["events"]] == ["m4", "m5"]


def test_bad_tokens_and_missing_stream(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    put(logs, group_name, "s1", [f"m{i}" for i in range(5)])
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group_name, logStreamName="s1", nextToken="f/123")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group_name, logStreamName="missing")
    assert exc.value.response["Error"]["Message"] == "The specified log stream does not exist."


def test_equal_timestamps_keep_arrival_order(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    stamp = now_ms() - 1000
    put(logs, group_name, "s1", ["a", "b"], start=stamp, step=0)
    put(logs, group_name, "s1", ["c"], start=stamp)
    page = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True, limit=2)
    assert [e["message"] for e in page["events"]] == ["a", "b"]
    rest = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True,
                               nextToken=page["nextForwardToken"])
    assert [e["message"] for e in rest["events"]] == ["c"]


@pytest.fixture
def filled(logs: Any, group_name: str) -> tuple[str, int]:
    """A group with two streams of mixed plain-text, JSON and access-log lines."""
    logs.create_log_group(logGroupName=group_name)
    for stream in ("web-1", "web-2", "worker"):
        logs.create_log_stream(logGroupName=group_name, logStreamName=stream)
    start = now_ms() - 60_000
    put(logs, group_name, "web-1", [
        "ERROR failed to connect to db",
        "INFO request served",
        '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 200 1534',
        '10.0.0.2 - - [10/Oct/2000:13:25:16 -0700] "POST /api HTTP/1.0" 500 12',
    ], start=start, step=10)
    put(logs, group_name, "web-2", [
        "WARN slow response",
        "ERROR Retrying request",
        json.dumps({"level": "error", "latency": 1200, "user": {"id": "u-1"}, "ok": False}),
        json.dumps({"level": "info", "latency": 80, "user": {"id": "u-2"}, "ok": True, "tags": ["a", "b"]}),
    ], start=start + 5, step=10)
    put(logs, group_name, "worker", ["job done"], start=start + 100)
    return group_name, start


def _filter(logs: Any, group: str, pattern: str, **kwargs: Any) -> list[str]:
    return [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern, **kwargs)["events"]]


def test_filter_terms_phrases_exclusions_and_or(logs: Any, filled: tuple[str, int]) -> None:
    group, _ = filled
    assert _filter(logs, group, "ERROR") == ["ERROR failed to connect to db", "ERROR Retrying request"]
    assert _filter(logs, group, "ERROR -Retrying") == ["ERROR failed to connect to db"]
    assert _filter(logs, group, '"failed to connect"') == ["ERROR failed to connect to db"]
    assert _filter(logs, group, "?WARN ?INFO") == ["WARN slow response", "INFO request served"]
    assert _filter(logs, group, "ERROR request") == ["ERROR Retrying request"]
    assert _filter(logs, group, "Error") == []  # case-sensitive
    assert _filter(logs, group, "%Retry[a-z]+%") == ["ERROR Retrying request"]
    assert len(_filter(logs, group, "")) == 9


def test_filter_json_patterns(logs: Any, filled: tuple[str, int]) -> None:
    group, _ = filled
    assert [json.loads(m)["user"]["id"] for m in _filter(logs, group, '{ $.level = "error" && $.latency > 1000 }')] == ["u-1"]
    assert len(_filter(logs, group, "{ $.latency >= 80 }")) == 2
    assert [json.loads(m)["user"]["id"] for m in _filter(logs, group, "{ $.user.id = u-* && $.ok IS TRUE }")] == ["u-2"]
    assert len(_filter(logs, group, '{ ($.level = "info") || ($.latency < 100) }')) == 1
    assert len(_filter(logs, group, "{ $.tags[1] = b }")) == 1
    assert len(_filter(logs, group, "{ $.tags NOT EXISTS }")) == 1
    assert len(_filter(logs, group, "{ $.level != info }")) == 1
    with pytest.raises(ClientError) as exc:
        _filter(logs, group, "{ $.latency > }")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


def test_filter_space_delimited_patterns(logs: Any, filled: tuple[str, int]) -> None:
    group, _ = filled
    fields = "[ip, identity, user, timestamp, request, status, bytes]"
    assert len(_filter(logs, group, fields)) == 2
    assert _filter(logs, group, "[ip, identity, user, timestamp, request, status = 5*, bytes]") == [
        '10.0.0.2 - - [10/Oct/2000:13:25:16 -0700] "POST /api HTTP/1.0" 500 12'
    ]
    assert len(_filter(logs, group, '[..., request = "*GET*", status, bytes > 1000]')) == 1
    assert len(_filter(logs, group, "[ip, ..., status = 200 || status = 500, bytes]")) == 2


def test_filter_stream_selection_time_range_and_pagination(logs: Any, filled: tuple[str, int]) -> None:
    group, start = filled
    only = logs.filter_log_events(logGroupName=group, logStreamNames=["web-2"])["events"]
    assert {e["logStreamName"] for e in only} == {"web-2"} and len(only) == 4
    assert {e["logStreamName"] for e in logs.filter_log_events(logGroupName=group, logStreamNamePrefix="web")["events"]} == {"web-1", "web-2"}
    assert logs.filter_log_events(logGroupName=group, logStreamNames=["nope"])["events"] == []
    # Interleaved by timestamp; startTime and endTime both inclusive.
    ranged = logs.filter_log_events(logGroupName=group, startTime=start + 5, endTime=start + 20)["events"]
    assert [e["timestamp"] - start for e in ranged] == [5, 10, 15, 20]
    everything = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    assert len({e["eventId"] for e in everything}) == 9
    paged: list[str] = []
    token = None
    for _ in range(20):
        extra: dict[str, str] = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, limit=2, **extra)
        paged += [e["eventId"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert paged == [e["eventId"] for e in everything]
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="a")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group + "-missing")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    via_paginator = [e for p in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 4}) for e in p["events"]]
    assert len(via_paginator) == 9
