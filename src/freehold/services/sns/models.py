"""SNS's domain rules: ARNs, topic names, the attributes topics and subscriptions accept,
and the documents SNS derives for them (default access policy, effective delivery policy).

The persisted shapes are plain dataclasses (`Topic`, `Subscription`); store.py reads and
writes them, the provider validates requests against the rules here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from freehold.protocol.errors import ServiceError

# https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html: up to 256 characters,
# ASCII letters, digits, hyphens and underscores; FIFO names end in ".fifo".
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")

PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")
# Protocols whose deliveries go to the outbox (no real transport in freehold yet).
OUTBOX_PROTOCOLS = ("email", "email-json", "sms", "application")
# Protocols that may receive raw messages (RawMessageDelivery=true).
RAW_PROTOCOLS = ("http", "https", "sqs", "firehose")

# Topic attributes a caller may set (CreateTopic / SetTopicAttributes).
SETTABLE_TOPIC_ATTRIBUTES = frozenset({
    "DeliveryPolicy", "DisplayName", "Policy", "KmsMasterKeyId", "SignatureVersion",
    "TracingConfig", "ContentBasedDeduplication", "ArchivePolicy", "FifoThroughputScope",
    # Delivery status logging (stored, not acted on: freehold writes no CloudWatch logs).
    *(f"{proto}{kind}" for proto in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
      for kind in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")),
})
CREATE_ONLY_TOPIC_ATTRIBUTES = frozenset({"FifoTopic"})

SUBSCRIPTION_ATTRIBUTES = frozenset({
    "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
    "SubscriptionRoleArn", "ReplayPolicy",
})

MAX_MESSAGE_BYTES = 262144  # 256 KiB, message and attributes together
MAX_SUBJECT = 100
DEDUP_WINDOW_SECONDS = 300.0


def invalid(message: str) -> ServiceError:
    """SNS's InvalidParameter error (HTTP 400); messages start with 'Invalid parameter: '."""
    return ServiceError("InvalidParameter", message)


def invalid_value(message: str) -> ServiceError:
    """SNS's InvalidParameterValue (wire code ParameterValueInvalid), used for message attributes."""
    return ServiceError("ParameterValueInvalid", message)


def topic_not_found() -> ServiceError:
    return ServiceError("NotFound", "Topic does not exist")


def subscription_not_found() -> ServiceError:
    return ServiceError("NotFound", "Subscription does not exist")


def topic_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account_id}:{name}"


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN SNS cares about."""

    service: str
    region: str
    account_id: str
    resource: str


def parse_arn(value: str) -> Arn | None:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1]:
        return None
    return Arn(parts[2], parts[3], parts[4], parts[5])


def parse_topic_arn(value: str, parameter: str = "TopicArn") -> Arn:
    """A topic ARN's parts, or AWS's InvalidParameter naming the parameter."""
    arn = parse_arn(value)
    if arn is None or arn.service != "sns" or not arn.resource or ":" in arn.resource \
            or not (_TOPIC_NAME.match(arn.resource) or _FIFO_TOPIC_NAME.match(arn.resource)):
        raise invalid(f"Invalid parameter: {parameter}")
    return arn


def parse_subscription_arn(value: str) -> Arn:
    """A subscription ARN (topic ARN + ':' + uuid), or AWS's InvalidParameter."""
    parts = value.split(":")
    if len(parts) < 6:
        raise invalid(f"Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not {len(parts)}")
    arn = parse_arn(value)
    if arn is None or arn.service != "sns" or len(parts) != 7:
        raise invalid("Invalid parameter: SubscriptionArn")
    return arn


def check_topic_name(name: str, fifo: bool) -> None:
    if fifo:
        if not _FIFO_TOPIC_NAME.match(name):
            raise invalid(
                "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase "
                "and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 "
                "characters long."
            )
    elif not _TOPIC_NAME.match(name):
        raise invalid("Invalid parameter: Topic Name")


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def default_topic_policy(arn: str, account_id: str) -> str:
    """The access policy AWS attaches to a new topic: its owner may do everything."""
    return json.dumps({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish",
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
        }],
    }, separators=(",", ":"))


@dataclass
class Topic:
    arn: str
    account_id: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    data_protection_policy: str = ""
    sequence: int = 0

    @property
    def content_based_deduplication(self) -> bool:
        return is_true(self.attributes.get("ContentBasedDeduplication"))

    @property
    def signature_version(self) -> str:
        return self.attributes.get("SignatureVersion") or "1"


@dataclass
class Subscription:
    arn: str
    topic_arn: str
    account_id: str  # the subscriber's account (the Owner attribute)
    region: str
    protocol: str
    endpoint: str
    confirmed: bool
    token: str
    attributes: dict[str, str] = field(default_factory=dict)
    authenticated: bool = False

    @property
    def raw(self) -> bool:
        return is_true(self.attributes.get("RawMessageDelivery"))

    @property
    def filter_scope(self) -> str:
        return self.attributes.get("FilterPolicyScope") or "MessageAttributes"

    def public_attributes(self, topic_attributes: dict[str, str]) -> dict[str, Any]:
        """GetSubscriptionAttributes' answer."""
        from freehold.services.sns.delivery_policy import effective_subscription_policy

        out: dict[str, Any] = {
            "Owner": self.account_id,
            "RawMessageDelivery": "true" if self.raw else "false",
            "TopicArn": self.topic_arn,
            "Endpoint": self.endpoint,
            "Protocol": self.protocol,
            "PendingConfirmation": "false" if self.confirmed else "true",
            "ConfirmationWasAuthenticated": "true" if self.authenticated else "false",
            "SubscriptionArn": self.arn,
            "SubscriptionPrincipal": f"arn:aws:iam::{self.account_id}:root",
        }
        for name, value in self.attributes.items():
            if name != "RawMessageDelivery":
                out[name] = value
        if "FilterPolicy" in self.attributes and "FilterPolicyScope" not in self.attributes:
            out["FilterPolicyScope"] = "MessageAttributes"
        if self.protocol in ("http", "https"):
            out["EffectiveDeliveryPolicy"] = effective_subscription_policy(self, topic_attributes)
        return out
