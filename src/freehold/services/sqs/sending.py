"""Turning SendMessage parameters (or one SendMessageBatch entry) into a message to store,
with AWS's checks in AWS's order; and the answer's shape for a stored message."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.message_store import NewMessage, SendResult
from freehold.services.sqs.messages import (
    check_body,
    check_message_attributes,
    check_system_attributes,
    md5_of_attributes,
    md5_of_body,
    message_size,
)
from freehold.services.sqs.models import GROUP_OR_DEDUP_ID, invalid_parameter, invalid_value
from freehold.services.sqs.queues import Queue

NOT_FOR_THIS_QUEUE_TYPE = "The request include parameter that is not valid for this queue type."


class FifoParameterError(ServiceError):
    """A FIFO rule broken by a batch entry: AWS fails the whole batch for these, not the entry."""


def build_message(queue: Queue, params: dict[str, Any], sender_id: str, batch: bool = False) -> NewMessage:
    body = check_body(params.get("MessageBody"))
    attributes = check_message_attributes(params.get("MessageAttributes"))
    system = check_system_attributes(params.get("MessageSystemAttributes"))
    size = message_size(body, attributes)
    if size > queue.maximum_message_size:
        # AWS words the batch entry failure differently from the single send.
        lead = "One or more parameters cannot be validated." if batch else "One or more parameters are invalid."
        raise invalid_parameter(f"{lead} Reason: Message must be shorter than {queue.maximum_message_size} bytes.")
    delay = params.get("DelaySeconds")
    group_id = params.get("MessageGroupId")
    dedup_id = params.get("MessageDeduplicationId")
    if delay is not None:
        if not 0 <= delay <= 900:
            raise invalid_value(delay, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900")
        if queue.fifo and delay != 0:
            raise invalid_value(delay, "DelaySeconds", NOT_FOR_THIS_QUEUE_TYPE)
    if group_id is not None and not GROUP_OR_DEDUP_ID.fullmatch(group_id):
        raise invalid_value(
            group_id, "MessageGroupId",
            "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
        )
    if dedup_id is not None:
        if not GROUP_OR_DEDUP_ID.fullmatch(dedup_id):
            raise invalid_value(
                dedup_id, "MessageDeduplicationId",
                "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
            )
        if not queue.fifo:
            raise invalid_value(dedup_id, "MessageDeduplicationId", NOT_FOR_THIS_QUEUE_TYPE)
    if queue.fifo:
        if group_id is None:
            code = "InvalidParameterValue" if batch else "MissingParameter"
            raise FifoParameterError(code, "The request must contain the parameter MessageGroupId.")
        if dedup_id is None:
            if not queue.content_based_deduplication:
                raise FifoParameterError(
                    "InvalidParameterValue",
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                    "provided explicitly",
                )
            # Content-based deduplication: SHA-256 of the body (not the attributes).
            dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return NewMessage(
        message_id=str(uuid.uuid4()), body=body, md5_body=md5_of_body(body), attributes=attributes,
        md5_attributes=md5_of_attributes(attributes), system_attributes=system,
        md5_system_attributes=md5_of_attributes(system), sender_id=sender_id,
        delay_seconds=queue.delay_seconds if delay is None else int(delay), group_id=group_id, dedup_id=dedup_id,
    )


def send_answer(message: NewMessage, result: SendResult) -> dict[str, Any]:
    answer: dict[str, Any] = {"MD5OfMessageBody": message.md5_body, "MessageId": result.message_id}
    if message.md5_attributes:
        answer["MD5OfMessageAttributes"] = message.md5_attributes
    if message.md5_system_attributes:
        answer["MD5OfMessageSystemAttributes"] = message.md5_system_attributes
    if result.sequence_number is not None:
        answer["SequenceNumber"] = result.sequence_number
    return answer


def batch_size(entries: list[dict[str, Any]]) -> int:
    """The payload size AWS sums over a SendMessageBatch (bodies and attributes)."""
    total = 0
    for entry in entries:
        body = entry.get("MessageBody") or ""
        attributes = entry.get("MessageAttributes") or {}
        try:
            total += message_size(body, attributes)
        except (KeyError, TypeError):
            total += len(body.encode("utf-8"))
    return total
