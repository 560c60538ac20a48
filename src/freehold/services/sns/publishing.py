"""Publishing: a message's checks (size, subject, structure, attributes, FIFO group and
deduplication), the subscriptions whose filter policies accept it, and the one transaction
that records the message with all its deliveries before Publish returns.

https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sns import filter_policy
from freehold.services.sns.models import (
    DEDUP_WINDOW_SECONDS,
    MAX_MESSAGE_BYTES,
    MAX_SUBJECT,
    Subscription,
    Topic,
    invalid,
    invalid_value,
    topic_not_found,
)
from freehold.services.sns.store import Message, PendingDelivery, SnsStore

# https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_GROUP_OR_DEDUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


def timestamp(now: float) -> str:
    """An envelope Timestamp: ISO 8601 UTC with milliseconds, e.g. 2012-04-25T21:49:25.719Z."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(now * 1000) % 1000:03d}Z"


def check_attributes(attributes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Message attributes as stored: DataType and StringValue, or BinaryValue in base64."""
    out: dict[str, dict[str, Any]] = {}
    for name, attribute in (attributes or {}).items():
        if not _ATTRIBUTE_NAME.match(name) or name.startswith((".", "AWS.", "Amazon.")) or name.endswith(".") \
                or ".." in name:
            raise invalid_value(f"The message attribute name '{name}' is invalid.")
        data_type = str(attribute.get("DataType", ""))
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise invalid_value(
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String."
            )
        if base == "Binary":
            value = attribute.get("BinaryValue")
            if value is None:
                raise invalid_value(f"The message attribute '{name}' with type 'Binary' must use field 'Binary'.")
            raw = value if isinstance(value, bytes) else str(value).encode()
            out[name] = {"DataType": data_type, "BinaryValue": base64.b64encode(raw).decode()}
            continue
        value = attribute.get("StringValue")
        if value is None or value == "":
            raise invalid_value(
                f"The message attribute '{name}' must contain non-empty message attribute value for message "
                f"attribute type '{base}'."
            )
        if base == "Number":
            try:
                float(value)
            except ValueError:
                raise invalid_value(f"Could not cast message attribute '{name}' value to number.") from None
        if data_type.startswith("String.Array"):
            try:
                items = json.loads(value)
            except ValueError:
                items = None
            if not isinstance(items, list):
                raise invalid_value(
                    f"The message attribute '{name}' with type 'String.Array' has an invalid value: {value}"
                )
        out[name] = {"DataType": data_type, "StringValue": value}
    return out


def _attributes_size(attributes: dict[str, dict[str, Any]]) -> int:
    size = 0
    for name, attribute in attributes.items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or ""
        size += len(name.encode()) + len(attribute["DataType"].encode()) + len(str(value).encode())
    return size


def check_message(message: str, structure: str | None, subject: str | None) -> None:
    if message == "":
        raise invalid("Empty message")
    if structure is not None and structure != "json":
        raise invalid("Invalid parameter: MessageStructure")
    if structure == "json":
        try:
            document = json.loads(message)
        except ValueError:
            raise invalid("Invalid parameter: Message Structure - JSON message body failed to parse") from None
        if not isinstance(document, dict) or "default" not in document:
            raise invalid("Invalid parameter: Message Structure - No default entry in JSON message body")
    if subject is not None:
        # Subjects are ASCII text without line breaks, at most 100 characters, not empty.
        if not subject or len(subject) > MAX_SUBJECT or not subject.isascii() or "\n" in subject or "\r" in subject:
            raise invalid("Invalid parameter: Subject")


@lru_cache(maxsize=4096)
def _policy(text: str, scope: str) -> filter_policy.FilterPolicy:
    return filter_policy.parse(text, scope)


def accepts(sub: Subscription, message: str, attributes: dict[str, dict[str, Any]]) -> bool:
    text = sub.attributes.get("FilterPolicy")
    if not text:
        return True
    return _policy(text, sub.filter_scope).matches(attributes, message)


@dataclass(frozen=True)
class Published:
    message_id: str
    sequence_number: str | None = None
    queued: bool = False  # deliveries were recorded for the worker
    # Much work in the publish itself: many subscriptions, or envelopes signed (an RSA
    # signature costs about a millisecond) for SQS deliveries made in its transaction.
    heavy: bool = False


HEAVY_FAN_OUT = 16  # subscriptions beyond which a publish counts as heavy (see Published)

# Delivers a message to a subscription inside the publish's transaction; False when it did
# not (the publisher then records a delivery for the worker).
DirectDelivery = Callable[[Message, Subscription], bool]


class Publisher:
    def __init__(self, store: SnsStore, direct: DirectDelivery | None = None) -> None:
        self.store = store
        self.direct = direct

    def publish(self, topic_arn: str, entry: dict[str, Any]) -> Published:
        """Check and record one message (Publish, or one PublishBatch entry). Durable on return."""
        message = entry["Message"]
        structure = entry.get("MessageStructure")
        subject = entry.get("Subject")
        check_message(message, structure, subject)
        attributes = check_attributes(entry.get("MessageAttributes"))
        if len(message.encode()) + _attributes_size(attributes) > MAX_MESSAGE_BYTES:
            raise invalid("Invalid parameter: Message too long")
        group_id = entry.get("MessageGroupId")
        dedup_id = entry.get("MessageDeduplicationId")
        if group_id is not None and not _GROUP_OR_DEDUP_ID.match(group_id):
            raise invalid("Invalid parameter: MessageGroupId Reason: The MessageGroupId may contain up to 128 "
                          "alphanumeric and punctuation characters")
        if dedup_id is not None and not _GROUP_OR_DEDUP_ID.match(dedup_id):
            raise invalid("Invalid parameter: MessageDeduplicationId Reason: The MessageDeduplicationId may contain "
                          "up to 128 alphanumeric and punctuation characters")
        now = time.time()
        with self.store.db.transaction():
            topic = self.store.topic(topic_arn)
            if topic is not None and topic.fifo:
                topic = self.store.topic(topic_arn, lock=True)  # FIFO: one sequence, one dedup window
            if topic is None:
                raise topic_not_found()
            if topic.fifo:
                if group_id is None:
                    raise invalid("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
                if dedup_id is None:
                    if not topic.content_based_deduplication:
                        raise invalid("Invalid parameter: The topic should either have ContentBasedDeduplication "
                                      "enabled or MessageDeduplicationId provided explicitly")
                    dedup_id = hashlib.sha256(message.encode()).hexdigest()
                scope = dedup_id if topic.attributes.get("FifoThroughputScope") != "MessageGroup" \
                    else f"{group_id}\n{dedup_id}"
                seen = self.store.deduplicated(topic.arn, scope, now)
                if seen is not None:
                    # A duplicate inside the 5-minute window is accepted and not delivered again.
                    return Published(seen[0], seen[1])
            elif dedup_id is not None:
                raise invalid("Invalid parameter: MessageDeduplicationId Reason: The request includes "
                              "MessageDeduplicationId parameter that is not valid for this topic type")
            published = self._record(topic, message, structure, subject, attributes, group_id, dedup_id, now)
            if topic.fifo and dedup_id is not None:
                self.store.remember_dedup(topic.arn, scope, published.message_id,
                                          published.sequence_number or "", now + DEDUP_WINDOW_SECONDS)
        return published

    def _record(self, topic: Topic, text: str, structure: str | None, subject: str | None,
                attributes: dict[str, dict[str, Any]], group_id: str | None, dedup_id: str | None,
                now: float) -> Published:
        sequence: str | None = None
        if topic.fifo:
            topic.sequence += 1
            sequence = str(10**19 + topic.sequence)
            self.store.db.execute("UPDATE sns_topics SET sequence = ? WHERE arn = ?", (topic.sequence, topic.arn))
        message = Message(
            message_id=str(uuid.uuid4()), kind="Notification", topic_arn=topic.arn, body=text, subject=subject,
            structure=structure or "", attributes=attributes, published=timestamp(now), group_id=group_id,
            dedup_id=dedup_id, sequence_number=sequence, signature_version=topic.signature_version,
        )
        deliveries: list[PendingDelivery] = []
        subscriptions = self.store.subscriptions_of_topic(topic.arn)
        heavy = len(subscriptions) > HEAVY_FAN_OUT
        for sub in subscriptions:
            if not sub.confirmed:
                continue
            matched_text = text if structure != "json" else _protocol_text(text, sub.protocol)
            if not accepts(sub, matched_text, attributes):
                continue
            order_key = f"{sub.arn}\n{group_id}" if topic.fifo else None
            # SQS subscriptions get the message in this transaction - but a FIFO group's
            # message only when no earlier message of its group still waits for the worker.
            if self.direct is not None and sub.protocol == "sqs" \
                    and (order_key is None or not self.store.has_pending(order_key)) \
                    and self.direct(message, sub):
                heavy = heavy or not sub.raw
                continue
            deliveries.append(PendingDelivery(sub.arn, order_key))
        self.store.enqueue(message, deliveries, now)
        return Published(message.message_id, sequence, queued=bool(deliveries), heavy=heavy)

    def confirmation(self, topic: Topic, token: str, now: float, sub_arn: str) -> None:
        """Record the SubscriptionConfirmation an http/https/email subscription is sent."""
        message = Message(
            message_id=str(uuid.uuid4()), kind="SubscriptionConfirmation", topic_arn=topic.arn,
            body=(f"You have chosen to subscribe to the topic {topic.arn}.\n"
                  "To confirm the subscription, visit the SubscribeURL included in this message."),
            subject=None, structure="", attributes={}, published=timestamp(now),
            signature_version=topic.signature_version, token=token,
        )
        self.store.enqueue(message, [PendingDelivery(sub_arn, None)], now)

    def unsubscribe_confirmation(self, topic: Topic, token: str, now: float, sub_arn: str) -> None:
        """Record the UnsubscribeConfirmation an unsubscribed http/https endpoint is sent; its
        token (and SubscribeURL) restores the subscription.
        https://docs.aws.amazon.com/sns/latest/dg/http-unsubscribe-confirmation-json.html"""
        message = Message(
            message_id=str(uuid.uuid4()), kind="UnsubscribeConfirmation", topic_arn=topic.arn,
            body=(f"You have chosen to deactivate subscription {sub_arn}.\n"
                  "To cancel this operation and restore the subscription, visit the SubscribeURL included in "
                  "this message."),
            subject=None, structure="", attributes={}, published=timestamp(now),
            signature_version=topic.signature_version, token=token,
        )
        self.store.enqueue(message, [PendingDelivery(sub_arn, None)], now)


def _protocol_text(text: str, protocol: str) -> str:
    document = json.loads(text)
    chosen = document.get(protocol, document.get("default"))
    return chosen if isinstance(chosen, str) else json.dumps(chosen)


def batch_error(entry_id: str, error: ServiceError) -> dict[str, Any]:
    return {"Id": entry_id, "Code": error.code, "Message": error.message, "SenderFault": error.sender_fault}
