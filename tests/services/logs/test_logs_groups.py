"""Log groups and streams: describe with prefixes, patterns, ordering and pagination; retention,
KMS key, class, deletion protection and tags."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from logs_helpers import make_stream, now_ms, put


def code_and_message(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_describe_groups_prefix_pattern_and_pagination(logs: Any) -> None:
    base = f"/pg/{uuid.uuid4().hex[:8]}"
    names = [f"{base}/app-{i:02d}" for i in range(7)]
    for name in reversed(names):
        logs.create_log_group(logGroupName=name)
    first = logs.describe_log_groups(logGroupNamePrefix=base, limit=3)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:3]
    seen = [g["logGroupName"] for g in first["logGroups"]]
    token = first["nextToken"]
    while token:
        page = logs.describe_log_groups(logGroupNamePrefix=base, limit=3, nextToken=token)
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
    assert seen == names
    # boto3's paginator drives the same tokens.
    paginated = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=base, PaginationConfig={"PageSize": 2}) for g in p["logGroups"]]
    assert paginated == names
    group = first["logGroups"][0]
    assert group["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{names[0]}:*"
    assert group["logGroupArn"] == group["arn"][:-2]
    assert group["storedBytes"] == 0 and group["metricFilterCount"] == 0
    assert group["logGroupClass"] == "STANDARD" and "retentionInDays" not in group
    # A pattern is a case-sensitive substring; only three fields come back with it.
    matched = logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1] + "/app-0")["logGroups"]
    assert len(matched) == 7 and set(matched[0]) == {"logGroupName", "creationTime", "arn"}
    assert logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1].upper() + "/APP")["logGroups"] == []
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="app")
    assert code_and_message(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(nextToken="not-a-token")
    assert code_and_message(exc) == ("InvalidParameterException", "The specified nextToken is invalid.")


def test_groups_are_per_region(freehold: Any, logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    other = freehold.client("logs", region="eu-west-1")
    assert other.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"] == []
    other.create_log_group(logGroupName=group_name)  # no clash in another region


def test_delete_group_removes_streams_and_events(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    put(logs, group_name, "s1", ["a", "b"])
    logs.delete_log_group(logGroupName=group_name)
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group_name)
    assert code_and_message(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=group_name)
    assert code_and_message(exc)[0] == "ResourceNotFoundException"
    make_stream(logs, group_name)  # the name is free again, and the new group is empty
    assert logs.get_log_events(logGroupName=group_name, logStreamName="s1")["events"] == []


def test_retention_policy_values(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    logs.put_retention_policy(logGroupName=group_name, retentionInDays=30)
    assert logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["retentionInDays"] == 30
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group_name, retentionInDays=2)
    code, message = code_and_message(exc)
    assert code == "InvalidParameterException"
    assert message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: "
        "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90,"
    )
    logs.delete_retention_policy(logGroupName=group_name)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group_name + "x", retentionInDays=1)
    assert code_and_message(exc)[0] == "ResourceNotFoundException"


def test_retention_worker_expires_old_events(logs: Any, group_name: str) -> None:
    import time

    make_stream(logs, group_name)
    day = 86_400_000
    old = now_ms() - 3 * day
    put(logs, group_name, "s1", ["old-1", "old-2"], start=old)
    put(logs, group_name, "s1", ["new"], start=now_ms() - 1000)
    logs.put_retention_policy(logGroupName=group_name, retentionInDays=1)  # wakes the worker
    deadline = time.monotonic() + 15
    messages: list[str] = []
    while time.monotonic() < deadline:
        messages = [e["message"] for e in logs.get_log_events(
            logGroupName=group_name, logStreamName="s1", startFromHead=True)["events"]]
        if messages == ["new"]:
            break
        time.sleep(0.1)
    assert messages == ["new"]
    group = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    assert group["storedBytes"] == len("new") + 26
    stream = logs.describe_log_streams(logGroupName=group_name)["logStreams"][0]
    assert stream["firstEventTimestamp"] > old + day


def test_kms_key_class_and_deletion_protection(logs: Any, group_name: str) -> None:
    key = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
    logs.create_log_group(logGroupName=group_name, logGroupClass="INFREQUENT_ACCESS", kmsKeyId=key)
    group = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    assert group["kmsKeyId"] == key and group["logGroupClass"] == "INFREQUENT_ACCESS"
    assert logs.describe_log_groups(logGroupNamePrefix=group_name, logGroupClass="STANDARD")["logGroups"] == []
    logs.disassociate_kms_key(logGroupName=group_name)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    logs.associate_kms_key(logGroupName=group_name, kmsKeyId=key)
    assert logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["kmsKeyId"] == key
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=group_name + "-c", logGroupClass="COLD")
    assert code_and_message(exc)[0] == "InvalidParameterException"
    logs.put_log_group_deletion_protection(logGroupIdentifier=group_name, deletionProtectionEnabled=True)
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=group_name)
    assert code_and_message(exc)[0] == "ValidationException"
    logs.put_log_group_deletion_protection(logGroupIdentifier=group_name, deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName=group_name)


def test_tags_new_and_legacy_operations(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name, tags={"team": "core"})
    arn = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["logGroupArn"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "core"}
    logs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "platform"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "platform", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=group_name)["tags"] == {"env": "dev"}
    logs.tag_log_group(logGroupName=group_name, tags={"a": "1"})
    logs.untag_log_group(logGroupName=group_name, tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1"}
    with pytest.raises(ClientError) as exc:
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert code_and_message(exc)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as exc:
        logs.list_tags_for_resource(resourceArn=arn + "-missing")
    assert code_and_message(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as exc:
        logs.tag_resource(resourceArn=arn, tags={"bad!key": "v"})
    assert code_and_message(exc)[0] == "InvalidParameterException"


def test_describe_streams_order_and_pagination(logs: Any, group_name: str) -> None:
    logs.create_log_group(logGroupName=group_name)
    base = now_ms() - 100_000
    # Names in one order, last event times in the reverse order.
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        logs.create_log_stream(logGroupName=group_name, logStreamName=name)
        put(logs, group_name, name, [f"m{i}"], start=base + (10 - i) * 1000)
    logs.create_log_stream(logGroupName=group_name, logStreamName="f-empty")

    def names(**kwargs: Any) -> list[str]:
        out, token = [], None
        while True:
            extra: dict[str, str] = {"nextToken": token} if token else {}
            page = logs.describe_log_streams(logGroupName=group_name, limit=2, **kwargs, **extra)
            out += [s["logStreamName"] for s in page["logStreams"]]
            token = page.get("nextToken")
            if not token:
                return out

    assert names() == ["a", "b", "c", "d", "e", "f-empty"]
    assert names(descending=True) == ["f-empty", "e", "d", "c", "b", "a"]
    assert names(orderBy="LastEventTime") == ["f-empty", "e", "d", "c", "b", "a"]
    assert names(orderBy="LastEventTime", descending=True) == ["a", "b", "c", "d", "e", "f-empty"]
    assert names(logStreamNamePrefix="f") == ["f-empty"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group_name, orderBy="LastEventTime", logStreamNamePrefix="a")
    assert code_and_message(exc) == (
        "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix."
    )
    streams = logs.describe_log_streams(logGroupName=group_name, logStreamNamePrefix="a")["logStreams"]
    stream = streams[0]
    assert stream["firstEventTimestamp"] == stream["lastEventTimestamp"] == base + 10_000
    assert stream["storedBytes"] == 0  # deprecated for streams: AWS reports zero
    assert stream["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group_name}:log-stream:a"
    empty = logs.describe_log_streams(logGroupName=group_name, logStreamNamePrefix="f")["logStreams"][0]
    assert "firstEventTimestamp" not in empty and "lastEventTimestamp" not in empty
    # logGroupIdentifier: the name or the ARN; never both with logGroupName.
    arn = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["logGroupArn"]
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn, logStreamNamePrefix="a")["logStreams"]
    assert [s["logStreamName"] for s in by_arn] == ["a"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group_name, logGroupIdentifier=arn)
    assert code_and_message(exc) == (
        "ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters."
    )


def test_delete_stream(logs: Any, group_name: str) -> None:
    make_stream(logs, group_name)
    put(logs, group_name, "s1", ["x"])
    logs.delete_log_stream(logGroupName=group_name, logStreamName="s1")
    with pytest.raises(ClientError) as exc:
        logs.delete_log_stream(logGroupName=group_name, logStreamName="s1")
    assert code_and_message(exc) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    assert logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]["storedBytes"] == 0
