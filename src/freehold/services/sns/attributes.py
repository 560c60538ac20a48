"""Checks of the attributes topics and subscriptions accept, with AWS's InvalidParameter errors,
and the attribute maps GetTopicAttributes answers with.
"""

from __future__ import annotations

import json
from typing import Any

from freehold.services.sns import delivery_policy, filter_policy
from freehold.services.sns.models import (
    CREATE_ONLY_TOPIC_ATTRIBUTES,
    RAW_PROTOCOLS,
    SETTABLE_TOPIC_ATTRIBUTES,
    SUBSCRIPTION_ATTRIBUTES,
    Subscription,
    Topic,
    default_topic_policy,
    invalid,
    parse_arn,
)

MAX_DISPLAY_NAME = 100


def check_topic_attribute(name: str, value: str, fifo: bool, creating: bool) -> None:
    if name not in SETTABLE_TOPIC_ATTRIBUTES and not (creating and name in CREATE_ONLY_TOPIC_ATTRIBUTES):
        raise invalid("Invalid parameter: AttributeName")
    if name == "DisplayName" and len(value) > MAX_DISPLAY_NAME:
        raise invalid("Invalid parameter: DisplayName")
    elif name == "Policy":
        try:
            document = json.loads(value)
        except ValueError:
            raise invalid("Invalid parameter: Policy Error: null") from None
        if not isinstance(document, dict) or not document.get("Statement"):
            raise invalid("Invalid parameter: Policy Error: null")
    elif name == "DeliveryPolicy":
        if value:
            delivery_policy.validate_topic_policy(value)
    elif name == "SignatureVersion":
        if value not in ("1", "2"):
            raise invalid("Invalid parameter: SignatureVersion")
    elif name == "TracingConfig":
        if value not in ("PassThrough", "Active"):
            raise invalid("Invalid parameter: TracingConfig")
    elif name == "ContentBasedDeduplication":
        if not fifo:
            raise invalid("Invalid parameter: ContentBasedDeduplication Reason: Content based deduplication can "
                          "only be set for FIFO topics")
        if value.lower() not in ("true", "false"):
            raise invalid("Invalid parameter: ContentBasedDeduplication")
    elif name == "FifoThroughputScope":
        if not fifo:
            raise invalid("Invalid parameter: FifoThroughputScope Reason: FifoThroughputScope can only be set "
                          "for FIFO topics")
        if value not in ("Topic", "MessageGroup"):
            raise invalid("Invalid parameter: FifoThroughputScope")
    elif name == "ArchivePolicy":
        if not fifo:
            raise invalid("Invalid parameter: ArchivePolicy Reason: ArchivePolicy can only be set for FIFO topics")
        if value:
            try:
                json.loads(value)
            except ValueError:
                raise invalid("Invalid parameter: ArchivePolicy") from None
    elif name.endswith("SampleRate"):
        if not value.isdigit() or not 0 <= int(value) <= 100:
            raise invalid(f"Invalid parameter: {name}")


def topic_attributes(topic: Topic, counts: tuple[int, int, int]) -> dict[str, str]:
    """GetTopicAttributes: what was set, and what SNS derives."""
    confirmed, pending, deleted = counts
    out: dict[str, str] = {
        "Policy": topic.attributes.get("Policy") or default_topic_policy(topic.arn, topic.account_id),
        "Owner": topic.account_id,
        "SubscriptionsPending": str(pending),
        "TopicArn": topic.arn,
        "EffectiveDeliveryPolicy": delivery_policy.effective_topic_policy(topic.attributes),
        "SubscriptionsConfirmed": str(confirmed),
        "DisplayName": topic.attributes.get("DisplayName", ""),
        "SubscriptionsDeleted": str(deleted),
    }
    for name, value in topic.attributes.items():
        if name not in out or name == "DisplayName":
            out[name] = value
    if topic.fifo:
        out["FifoTopic"] = "true"
        out.setdefault("ContentBasedDeduplication", "false")
        out.setdefault("FifoThroughputScope", "Topic")
    return out


def check_subscription_attribute(name: str, value: str, protocol: str) -> str:
    """A subscription attribute's value as stored (booleans normalized)."""
    if name not in SUBSCRIPTION_ATTRIBUTES:
        raise invalid("Invalid parameter: AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise invalid("Invalid parameter: RawMessageDelivery")
        if protocol not in RAW_PROTOCOLS and value.lower() == "true":
            raise invalid(f"Invalid parameter: Delivery protocol [{protocol}] does not support raw message delivery.")
        return value.lower()
    if name == "FilterPolicyScope":
        if value not in ("MessageAttributes", "MessageBody"):
            raise invalid(f"Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [{value}]. "
                          "Please use either MessageBody or MessageAttributes")
    elif name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise invalid("Invalid parameter: DeliveryPolicy: Delivery policy is only supported for HTTP/S "
                          "subscriptions")
        if value:
            delivery_policy.validate_subscription_policy(value)
    elif name == "RedrivePolicy":
        if value:
            check_redrive_policy(value)
    elif name == "SubscriptionRoleArn":
        if value and (parse_arn(value) is None or ":iam:" not in value):
            raise invalid("Invalid parameter: SubscriptionRoleArn")
    return value


def check_redrive_policy(value: str) -> None:
    try:
        document = json.loads(value)
    except ValueError:
        raise invalid("Invalid parameter: RedrivePolicy: failed to parse JSON.") from None
    if not isinstance(document, dict):
        raise invalid("Invalid parameter: RedrivePolicy: failed to parse JSON.")
    target = document.get("deadLetterTargetArn")
    if not isinstance(target, str) or not target:
        raise invalid("Invalid parameter: RedrivePolicy: deadLetterTargetArn is missing")
    arn = parse_arn(target)
    if arn is None or arn.service != "sqs" or not arn.resource:
        raise invalid("Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn")
    unknown = set(document) - {"deadLetterTargetArn"}
    if unknown:
        raise invalid(f"Invalid parameter: RedrivePolicy: Unknown field {sorted(unknown)[0]}")


def check_subscription_filter(sub: Subscription, changed: dict[str, Any]) -> None:
    """Validate the filter policy against the scope it will have after the change."""
    attributes = {**sub.attributes, **changed}
    text = attributes.get("FilterPolicy")
    if text:
        filter_policy.parse(text, attributes.get("FilterPolicyScope") or "MessageAttributes")
