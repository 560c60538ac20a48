"""Which endpoints each protocol accepts, and which subscriptions confirm themselves.

https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html
HTTP/S and email subscriptions wait for their owner to confirm (the SubscriptionConfirmation
message carries the token for ConfirmSubscription); AWS-managed endpoints in the same
account (SQS, Lambda, Firehose) and SMS numbers are confirmed at once.
FIFO topics deliver to SQS queues only; FIFO queues subscribe to FIFO topics only.
"""

from __future__ import annotations

import re

from freehold.services.sns.models import Topic, invalid, parse_arn

# E.164: a '+' and up to 15 digits (the '+' is optional in the API).
_PHONE = re.compile(r"^\+?[1-9][0-9]{4,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SELF_CONFIRMING = ("sqs", "lambda", "firehose", "sms", "application")


def confirms_itself(protocol: str) -> bool:
    return protocol in SELF_CONFIRMING


def check_phone_number(number: str, parameter: str) -> None:
    if not _PHONE.match(number):
        raise invalid(f"Invalid parameter: {parameter} Reason: {number} is not valid to publish to")


def check_endpoint(topic: Topic, protocol: str, endpoint: str) -> None:
    if topic.fifo and protocol != "sqs":
        raise invalid(f"Invalid parameter: Invalid protocol type: {protocol}")
    if protocol in ("http", "https"):
        if not endpoint.lower().startswith(f"{protocol}://") or len(endpoint) <= len(protocol) + 3:
            raise invalid("Invalid parameter: Endpoint must match the specified protocol")
        return
    if protocol in ("email", "email-json"):
        if not _EMAIL.match(endpoint):
            raise invalid("Invalid parameter: Email address")
        return
    if protocol == "sms":
        check_phone_number(endpoint, "Endpoint")
        return
    arn = parse_arn(endpoint)
    if protocol == "sqs":
        if arn is None or arn.service != "sqs" or not arn.resource or ":" in arn.resource:
            raise invalid("Invalid parameter: SQS endpoint ARN")
        if arn.resource.endswith(".fifo") and not topic.fifo:
            raise invalid("Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
                          "subscribed to standard SNS topics")
        return
    if protocol == "lambda":
        if arn is None or arn.service != "lambda" or not arn.resource.startswith("function:"):
            raise invalid("Invalid parameter: Lambda endpoint ARN")
        return
    if protocol == "firehose":
        if arn is None or arn.service != "firehose" or not arn.resource.startswith("deliverystream/"):
            raise invalid("Invalid parameter: Firehose endpoint ARN")
        return
    if protocol == "application":
        if arn is None or arn.service != "sns" or not arn.resource.startswith("endpoint/"):
            raise invalid("Invalid parameter: Application endpoint ARN")
