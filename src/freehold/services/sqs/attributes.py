"""Queue attributes: which exist, their defaults and ranges, and how AWS validates and shows them.

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
Values travel as strings. Stored attributes are the settable ones, already normalized (the
redrive policies re-serialized compactly with maxReceiveCount as a number, as AWS shows
them); the read-only ones (counts, timestamps, QueueArn) are computed when asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.models import invalid_value


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    default: int


# Integer attributes, their valid ranges and defaults (current AWS defaults: 1 MiB messages).
INTEGER_ATTRIBUTES: dict[str, IntRange] = {
    "DelaySeconds": IntRange(0, 900, 0),
    "MaximumMessageSize": IntRange(1024, 1_048_576, 1_048_576),
    "MessageRetentionPeriod": IntRange(60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": IntRange(0, 20, 0),
    "VisibilityTimeout": IntRange(0, 43_200, 30),
    "KmsDataKeyReusePeriodSeconds": IntRange(60, 86_400, 300),
}
BOOLEAN_ATTRIBUTES = ("SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue")
FIFO_ONLY = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
STRING_ATTRIBUTES = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId")
MAX_POLICY_BYTES = 8192
MAX_POLICY_ACTIONS = 7
READ_ONLY = (
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
)
SETTABLE = (*INTEGER_ATTRIBUTES, *BOOLEAN_ATTRIBUTES, *STRING_ATTRIBUTES, "DeduplicationScope", "FifoThroughputLimit")
# The order GetQueueAttributes(All) lists them in (clients see a map; order only aids reading).
ALL_NAMES = (
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout",
    "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "Policy",
    "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)


def unknown_attribute(name: str) -> ServiceError:
    return ServiceError("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_attribute(name: str, reason: str = "") -> ServiceError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message = f"Invalid value for the parameter {name}. Reason: {reason}"
    return ServiceError("InvalidAttributeValue", message)


def defaults(fifo: bool) -> dict[str, str]:
    """The settable attributes of a new queue before the caller's are applied."""
    values = {
        name: str(spec.default) for name, spec in INTEGER_ATTRIBUTES.items() if name != "KmsDataKeyReusePeriodSeconds"
    }
    # New queues get SSE-SQS unless they ask otherwise (AWS's default since 2022).
    values["SqsManagedSseEnabled"] = "true"
    if fifo:
        values.update(
            FifoQueue="true", ContentBasedDeduplication="false", DeduplicationScope="queue",
            FifoThroughputLimit="perQueue",
        )
    return values


def _integer(name: str, value: str) -> str:
    spec = INTEGER_ATTRIBUTES[name]
    try:
        number = int(value.strip())
    except ValueError:
        raise invalid_attribute(name) from None
    if not spec.low <= number <= spec.high:
        raise invalid_attribute(name)
    return str(number)


def _boolean(name: str, value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise invalid_attribute(name)
    return lowered


def _policy(value: str) -> str:
    """A queue policy: stored as given once it parses as a policy document.
    Enforcement belongs to the authorization step (the IAM policy evaluator)."""
    try:
        document = json.loads(value)
    except ValueError:
        raise invalid_attribute("Policy") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise invalid_attribute("Policy")
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise invalid_attribute("Policy")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise invalid_attribute("Policy")
        if not any(key in statement for key in ("Action", "NotAction")):
            raise invalid_attribute("Policy")
    check_policy_limits(value, statements)
    return value


def check_policy_limits(text: str, statements: list[Any]) -> None:
    """SQS's policy quotas (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
    quotas-policies.html): at most 8,192 bytes, and 7 actions per statement. AWS answers
    OverLimit (HTTP 403) for both, with these messages."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise ServiceError("OverLimit", "Submitted policy is over max allowed size.", 403)
    for statement in statements:
        actions = statement.get("Action", statement.get("NotAction"))
        count = len(actions) if isinstance(actions, list) else 1
        if count > MAX_POLICY_ACTIONS:
            raise ServiceError(
                "OverLimit",
                f"{count} actions were found in a statement from the submitted policy, max allowed is "
                f"{MAX_POLICY_ACTIONS}",
                403,
            )


def parse_redrive_policy(value: str) -> dict[str, Any]:
    """{deadLetterTargetArn, maxReceiveCount:int}, checked as AWS checks it (the target's
    existence and type are the caller's to check: they need the store)."""
    def bad(reason: str) -> ServiceError:
        return invalid_value(value, "RedrivePolicy", reason)

    try:
        policy = json.loads(value)
    except ValueError:
        raise invalid_attribute("RedrivePolicy", "Redrive policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise invalid_attribute("RedrivePolicy", "Redrive policy is not a valid JSON map.")
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in policy:
            raise bad(f"Redrive policy does not contain mandatory attribute: {key}.")
    extra = sorted(set(policy) - {"deadLetterTargetArn", "maxReceiveCount"})
    if extra:
        raise bad("Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].")
    count = policy["maxReceiveCount"]
    try:
        number = int(count)
    except (TypeError, ValueError):
        number = 0
    if isinstance(count, bool) or not 1 <= number <= 1000:
        raise bad(f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive.")
    return {"deadLetterTargetArn": str(policy["deadLetterTargetArn"]), "maxReceiveCount": number}


def parse_redrive_allow_policy(value: str) -> dict[str, Any]:
    def bad(reason: str) -> ServiceError:
        return invalid_value(value, "RedriveAllowPolicy", reason)

    try:
        policy = json.loads(value)
    except ValueError:
        raise bad("Redrive allow policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise bad("Redrive allow policy is not a valid JSON map.")
    permission = policy.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise bad("Invalid value for redrivePermission. Valid values are allowAll, denyAll, byQueue.")
    sources = policy.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
            raise bad("At least one source queue ARN must be specified when redrivePermission is byQueue.")
        if len(sources) > 10:
            raise bad("Up to 10 sourceQueueArns can be specified. To allow more than 10 source queues to "
                      "specify dead-letter queues, set redrivePermission to allowAll.")
        return {"redrivePermission": permission, "sourceQueueArns": sources}
    if sources is not None:
        raise bad("sourceQueueArns can be specified only when redrivePermission is byQueue.")
    return {"redrivePermission": permission}


def compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def normalize(name: str, value: str, fifo: bool, creating: bool) -> str:
    """One caller-given attribute checked and in its stored form; raises AWS's error."""
    if name not in SETTABLE:
        raise unknown_attribute(name)
    if name in FIFO_ONLY and not fifo:
        if name in ("DeduplicationScope", "FifoThroughputLimit"):
            raise ServiceError("InvalidAttributeName", f"You can specify the {name} only when FifoQueue is set to true.")
        if not (creating and name == "FifoQueue" and value.strip().lower() == "false"):
            raise unknown_attribute(name)
    if name == "FifoQueue":
        normalized = _boolean(name, value)
        if not creating and normalized != "true":
            raise invalid_attribute(name, "Modifying queue type is not supported.")
        return normalized
    if name in INTEGER_ATTRIBUTES:
        return _integer(name, value)
    if name in BOOLEAN_ATTRIBUTES:
        return _boolean(name, value)
    if name == "DeduplicationScope":
        if value not in ("messageGroup", "queue"):
            raise invalid_attribute(name)
        return value
    if name == "FifoThroughputLimit":
        if value not in ("perQueue", "perMessageGroupId"):
            raise invalid_attribute(name)
        return value
    if value == "":
        return ""  # clears the attribute (SetQueueAttributes Policy="" removes the policy)
    if name == "Policy":
        return _policy(value)
    if name == "RedrivePolicy":
        return compact(parse_redrive_policy(value))
    if name == "RedriveAllowPolicy":
        return compact(parse_redrive_allow_policy(value))
    return value  # KmsMasterKeyId: an id or alias, used by the KMS integration when it lands


def check_combination(attributes: dict[str, str]) -> None:
    """Rules across attributes, on the queue's resulting set."""
    if attributes.get("FifoThroughputLimit") == "perMessageGroupId" and attributes.get("DeduplicationScope") != "messageGroup":
        raise invalid_attribute(
            "FifoThroughputLimit",
            "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.",
        )


def requested_names(names: Iterable[str] | None) -> list[str]:
    """The attribute names a GetQueueAttributes asks for ('All' expands); unknown ones fail."""
    wanted: list[str] = []
    for name in names or ():
        if name == "All":
            return list(ALL_NAMES)
        if name not in ALL_NAMES:
            raise unknown_attribute(name)
        if name not in wanted:
            wanted.append(name)
    return wanted
