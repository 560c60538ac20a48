"""A queue as stored: identity, settable attributes, tags, and the settings read from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from freehold.services.sqs.attributes import INTEGER_ATTRIBUTES
from freehold.services.sqs.models import QueueRef


@dataclass
class Queue:
    """One queue. `queue_id` names this incarnation (a deleted and re-created queue is new)."""

    queue_id: str
    account_id: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    last_modified: float = 0.0

    @property
    def ref(self) -> QueueRef:
        return QueueRef(self.account_id, self.region, self.name)

    @property
    def arn(self) -> str:
        return self.ref.arn

    def integer(self, name: str) -> int:
        value = self.attributes.get(name)
        return int(value) if value not in (None, "") else INTEGER_ATTRIBUTES[name].default

    @property
    def visibility_timeout(self) -> int:
        return self.integer("VisibilityTimeout")

    @property
    def delay_seconds(self) -> int:
        return self.integer("DelaySeconds")

    @property
    def retention_seconds(self) -> int:
        return self.integer("MessageRetentionPeriod")

    @property
    def maximum_message_size(self) -> int:
        return self.integer("MaximumMessageSize")

    @property
    def receive_wait_seconds(self) -> int:
        return self.integer("ReceiveMessageWaitTimeSeconds")

    @property
    def content_based_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def dedup_per_group(self) -> bool:
        return self.attributes.get("DeduplicationScope") == "messageGroup"

    @property
    def redrive_policy(self) -> dict[str, Any] | None:
        value = self.attributes.get("RedrivePolicy")
        return json.loads(value) if value else None

    @property
    def redrive_allow_policy(self) -> dict[str, Any] | None:
        value = self.attributes.get("RedriveAllowPolicy")
        return json.loads(value) if value else None

    @property
    def dead_letter_target(self) -> str | None:
        policy = self.redrive_policy
        return str(policy["deadLetterTargetArn"]) if policy else None

    def allows_as_dead_letter_source(self, source_arn: str) -> bool:
        """RedriveAllowPolicy: may the queue `source_arn` name this one as its DLQ?"""
        policy = self.redrive_allow_policy
        if policy is None or policy["redrivePermission"] == "allowAll":
            return True
        if policy["redrivePermission"] == "denyAll":
            return False
        return source_arn in policy.get("sourceQueueArns", [])
