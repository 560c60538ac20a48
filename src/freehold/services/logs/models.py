"""CloudWatch Logs' domain rules: quotas, ARNs, retention values, name checks and the
PutLogEvents batch rules, with the exact errors AWS answers.

The batch rules come from the PutLogEvents API reference
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
a batch is at most 10,000 events and 1,048,576 bytes (UTF-8 message bytes + 26 per event),
in chronological order; events more than 2 hours in the future or more than 14 days in the
past (or older than the group's retention) are *rejected* - the call succeeds and says so in
rejectedLogEventsInfo - and the accepted ones may not span more than 24 hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel

from freehold.protocol.errors import ServiceError

EVENT_OVERHEAD = 26
MAX_BATCH_BYTES = 1_048_576
# The quota was 256 KB per event until 2025; the API reference now says 1 MB.
MAX_EVENT_BYTES = 1_048_576
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TOO_NEW_MS = 2 * HOUR_MS
TOO_OLD_MS = 14 * DAY_MS
MAX_SPAN_MS = DAY_MS
MAX_TAGS = 50

# PutRetentionPolicy's accepted values (the API reference lists them; 0 is not one).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)

LOG_GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY")


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message)


def constraint_error(value: Any, path: str, constraint: str) -> ServiceError:
    """The coral front end's message for one failed constraint, as Logs answers it."""
    return invalid(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
    )


def group_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")


# -- ARNs --------------------------------------------------------------------------------
def group_arn(region: str, account_id: str, name: str) -> str:
    """The log group's ARN without the trailing ':*' (logGroupArn, tagging, identifiers)."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def stream_arn(region: str, account_id: str, group: str, stream: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{group}:log-stream:{stream}"


_GROUP_ARN = re.compile(r"arn:aws[\w-]*:logs:([\w-]*):(\d{12}):log-group:([^:]+)(?::\*)?")


def parse_group_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, group name) of a log group ARN (with or without ':*'), else None."""
    match = _GROUP_ARN.fullmatch(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


# -- input checks the pipeline does not make --------------------------------------------------
def check_patterns(operation: OperationModel, params: dict[str, Any]) -> None:
    """Check the model's regex patterns of the top-level string members (and lists of strings).

    The generic validation leaves patterns off because many services' patterns are
    informal; Logs' name patterns are exact and AWS enforces them, e.g. for a log group
    name `[\\.\\-_/#A-Za-z0-9]+`."""
    shape = operation.input_shape
    if shape is None:
        return
    for name, value in params.items():
        member = shape.members.get(name)
        if member is None or value is None:
            continue
        path = name[:1].lower() + name[1:]
        if member.type_name == "string" and isinstance(value, str):
            _check_one(member.metadata.get("pattern"), value, path)
        elif member.type_name == "list" and isinstance(value, list):
            pattern = member.member.metadata.get("pattern")
            for index, item in enumerate(value, 1):
                if isinstance(item, str):
                    _check_one(pattern, item, f"{path}.{index}.member")


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _check_one(pattern: str | None, value: str, path: str) -> None:
    if not pattern:
        return
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern, re.DOTALL)
        except re.error:
            return
        _PATTERNS[pattern] = compiled
    if compiled.fullmatch(value) is None:
        raise constraint_error(value, path, f"Member must satisfy regular expression pattern: {pattern}")


def check_retention(days: int) -> None:
    if days not in RETENTION_DAYS:
        raise constraint_error(
            days, "retentionInDays",
            "Member must satisfy enum value set: [" + ", ".join(str(d) for d in RETENTION_DAYS) + "]",
        )


_TAG_KEY_PATTERN = "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$"
_TAG_VALUE_PATTERN = "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"
# Java's \p{L}\p{Z}\p{N} (letters, separators, numbers) as Python sees them.
_TAG_CHARS = re.compile(r"[^\W_]|[\s_.:/=+\-@]")


def _tag_text_ok(text: str) -> bool:
    return all(_TAG_CHARS.fullmatch(char) for char in text)


def check_tags(tags: dict[str, str], path: str = "tags") -> None:
    """Tag keys and values against the model's patterns (enforced by AWS), count <= 50."""
    for key, value in tags.items():
        if not key or not _tag_text_ok(key):
            raise constraint_error(key, f"{path}.{key}.key", f"Member must satisfy regular expression pattern: {_TAG_KEY_PATTERN}")
        if not _tag_text_ok(value):
            raise constraint_error(
                value, f"{path}.{key}.member", f"Member must satisfy regular expression pattern: {_TAG_VALUE_PATTERN}"
            )


# -- domain objects ----------------------------------------------------------------------------
@dataclass
class LogGroup:
    group_id: int
    account_id: str
    region: str
    name: str
    creation_time: int
    retention_days: int | None = None
    kms_key_id: str | None = None
    log_group_class: str = "STANDARD"
    deletion_protection: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return group_arn(self.region, self.account_id, self.name)

    def describe(self, stored_bytes: int, metric_filter_count: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logGroupName": self.name,
            "creationTime": self.creation_time,
            "metricFilterCount": metric_filter_count,
            # DescribeLogGroups' `arn` ends with ':*'; `logGroupArn` does not.
            "arn": self.arn + ":*",
            "storedBytes": stored_bytes,
            "logGroupClass": self.log_group_class,
            "logGroupArn": self.arn,
            "deletionProtectionEnabled": self.deletion_protection,
        }
        if self.retention_days is not None:
            out["retentionInDays"] = self.retention_days
        if self.kms_key_id:
            out["kmsKeyId"] = self.kms_key_id
        return out


@dataclass
class LogStream:
    stream_id: int
    group_id: int
    name: str
    creation_time: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int

    def describe(self, region: str, account_id: str, group_name: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logStreamName": self.name,
            "creationTime": self.creation_time,
            "arn": stream_arn(region, account_id, group_name, self.name),
            # Deprecated for streams on 2019-06-17 and always reported as zero by AWS.
            "storedBytes": 0,
        }
        if self.first_event is not None:
            out["firstEventTimestamp"] = self.first_event
        if self.last_event is not None:
            out["lastEventTimestamp"] = self.last_event
        if self.last_ingestion is not None:
            out["lastIngestionTime"] = self.last_ingestion
            out["uploadSequenceToken"] = sequence_token(self.last_ingestion)
        return out


def sequence_token(value: int) -> str:
    """A sequence token in AWS's shape (56 digits). AWS now ignores tokens it is sent."""
    return f"{value:056d}"


# -- PutLogEvents ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """The events of one PutLogEvents call that are stored, and what was rejected."""

    accepted: list[tuple[int, str, int]]  # (timestamp, message, size in bytes incl. overhead)
    rejected: dict[str, int]


def check_batch(events: list[dict[str, Any]], now_ms: int, retention_days: int | None) -> Batch:
    """Apply AWS's batch rules (see the module docstring); raise for a batch that fails."""
    sizes = []
    total = 0
    previous = -1
    for event in events:
        size = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if size > MAX_EVENT_BYTES:
            raise invalid(f"Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}")
        sizes.append(size)
        total += size
        timestamp = event["timestamp"]
        if timestamp < previous:
            raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
        previous = timestamp
    if total > MAX_BATCH_BYTES:
        raise invalid(f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}")
    too_new_at = now_ms + TOO_NEW_MS
    too_old_before = now_ms - TOO_OLD_MS
    expired_before = now_ms - retention_days * DAY_MS if retention_days is not None else None
    rejected: dict[str, int] = {}
    accepted: list[tuple[int, str, int]] = []
    too_old_end = expired_end = 0
    for index, event in enumerate(events):
        timestamp = event["timestamp"]
        # Events are in order, so each kind of rejection covers a contiguous run of indexes.
        if timestamp > too_new_at:
            rejected.setdefault("tooNewLogEventStartIndex", index)
        elif timestamp < too_old_before:
            too_old_end = index + 1
        elif expired_before is not None and timestamp < expired_before:
            expired_end = index + 1
        else:
            accepted.append((timestamp, event["message"], sizes[index]))
    if too_old_end:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end:
        rejected["expiredLogEventEndIndex"] = expired_end
    if accepted and accepted[-1][0] - accepted[0][0] > MAX_SPAN_MS:
        raise invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    return Batch(accepted, rejected)
