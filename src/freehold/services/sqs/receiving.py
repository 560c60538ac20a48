"""ReceiveMessage's parameters and the shape of each message it returns.

System attributes are returned only when asked for, through MessageSystemAttributeNames or
the older AttributeNames (both are honoured, as AWS does); message attributes through
MessageAttributeNames ('All', '.*', 'prefix.*' or names). MD5OfMessageAttributes is that of
the attributes returned, as the SDKs verify it against what they received.
"""

from __future__ import annotations

from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.message_store import StoredMessage
from freehold.services.sqs.messages import md5_of_attributes, select_attributes
from freehold.services.sqs.models import invalid_value
from freehold.services.sqs.queues import Queue

SYSTEM_ATTRIBUTE_NAMES = (
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SequenceNumber",
    "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
)


def receive_limits(queue: Queue, params: dict[str, Any]) -> tuple[int, int, int]:
    """(MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds) checked, defaults applied."""
    limit = params.get("MaxNumberOfMessages")
    if limit is not None and not 1 <= limit <= 10:
        raise invalid_value(limit, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
    visibility = params.get("VisibilityTimeout")
    if visibility is not None and not 0 <= visibility <= 43_200:
        raise invalid_value(visibility, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided.")
    wait = params.get("WaitTimeSeconds")
    if wait is not None and not 0 <= wait <= 20:
        raise invalid_value(wait, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
    attempt = params.get("ReceiveRequestAttemptId")
    if attempt is not None and not queue.fifo:
        raise invalid_value(attempt, "ReceiveRequestAttemptId", "The request include parameter that is not valid for this queue type.")
    if attempt is not None and not 1 <= len(attempt) <= 128:
        raise invalid_value(attempt, "ReceiveRequestAttemptId", "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
    return (
        1 if limit is None else int(limit),
        queue.visibility_timeout if visibility is None else int(visibility),
        queue.receive_wait_seconds if wait is None else int(wait),
    )


def wanted_system_attributes(params: dict[str, Any]) -> set[str]:
    names = list(params.get("MessageSystemAttributeNames") or []) + list(params.get("AttributeNames") or [])
    if "All" in names:
        return set(SYSTEM_ATTRIBUTE_NAMES)
    for name in names:
        if name not in SYSTEM_ATTRIBUTE_NAMES:
            raise ServiceError("InvalidAttributeName", f"Unknown Attribute {name}.")
    return set(names)


def message_answer(message: StoredMessage, queue: Queue, system: set[str], attribute_names: list[str] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt.encode(),
        "MD5OfBody": message.md5_body,
        "Body": message.body,
    }
    values: dict[str, str | None] = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_at),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.first_receive_at) if message.first_receive_at else None,
        "SequenceNumber": message.sequence_number if queue.fifo else None,
        "MessageDeduplicationId": message.dedup_id if queue.fifo else None,
        "MessageGroupId": message.group_id,
        "AWSTraceHeader": (message.system_attributes.get("AWSTraceHeader") or {}).get("StringValue"),
        "DeadLetterQueueSourceArn": message.dead_letter_source,
    }
    attributes = {name: value for name, value in values.items() if name in system and value is not None}
    if attributes:
        answer["Attributes"] = attributes
    selected = select_attributes(message.attributes, attribute_names)
    if selected:
        answer["MessageAttributes"] = selected
        answer["MD5OfMessageAttributes"] = md5_of_attributes(selected)
    return answer
