"""Acknowledged log writes survive a restart and a kill -9 of the server (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from logs_helpers import make_stream, now_ms, put


def test_groups_streams_and_events_survive_kill9(freehold: Any, group_name: str) -> None:
    logs = freehold.client("logs")
    make_stream(logs, group_name)
    logs.put_retention_policy(logGroupName=group_name, retentionInDays=7)
    logs.tag_log_group(logGroupName=group_name, tags={"k": "v"})
    logs.put_metric_filter(logGroupName=group_name, filterName="errors", filterPattern="ERROR",
                           metricTransformations=[{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}])
    start = put(logs, group_name, "s1", [f"line {i}" for i in range(100)], start=now_ms() - 10_000)
    freehold.kill9()
    freehold.start()
    logs = freehold.client("logs")
    events = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == [f"line {i}" for i in range(100)]
    assert events[0]["timestamp"] == start
    group = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    assert group["retentionInDays"] == 7 and group["metricFilterCount"] == 1
    assert logs.list_tags_log_group(logGroupName=group_name)["tags"] == {"k": "v"}
    # Writing goes on after the crash, and ordering by event id continues past the old ones.
    put(logs, group_name, "s1", ["after restart"], start=start)
    events = logs.get_log_events(logGroupName=group_name, logStreamName="s1", startFromHead=True, limit=2)["events"]
    assert [e["message"] for e in events] == ["line 0", "after restart"]


def test_clean_restart_keeps_everything(freehold: Any, group_name: str) -> None:
    logs = freehold.client("logs")
    make_stream(logs, group_name)
    put(logs, group_name, "s1", ["ERROR kept"])
    freehold.restart()
    logs = freehold.client("logs")
    found = logs.filter_log_events(logGroupName=group_name, filterPattern="ERROR")["events"]
    assert [e["message"] for e in found] == ["ERROR kept"]
