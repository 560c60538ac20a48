"""Delivery retry policies: when SNS tries a delivery again, and when it gives up.

HTTP/S endpoints follow the topic's or the subscription's `DeliveryPolicy`
(https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html): after the
first attempt, `numNoDelayRetries` immediate retries, `numMinDelayRetries` at
`minDelayTarget`, then `numRetries - (those) - numMaxDelayRetries` retries whose delays grow
from min to max by `backoffFunction` (linear, arithmetic, geometric, exponential), then
`numMaxDelayRetries` at `maxDelayTarget`. Endpoints AWS manages itself (SQS, Lambda, Firehose)
get AWS's fixed policy: 3 immediate retries, 2 after 1 s, 10 backing off from 1 s to 20 s,
then 100,000 more 20 s apart (about 23 days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freehold.services.sns.models import invalid

if TYPE_CHECKING:
    from freehold.services.sns.models import Subscription

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")

DEFAULT_HTTP_RETRY: dict[str, Any] = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}


@dataclass(frozen=True)
class RetryPolicy:
    min_delay: float
    max_delay: float
    num_retries: int
    num_no_delay: int
    num_min_delay: int
    num_max_delay: int
    backoff: str

    def delay_before_retry(self, retry: int) -> float | None:
        """Seconds to wait before retry number `retry` (1-based); None when retries ran out."""
        if retry > self.num_retries:
            return None
        if retry <= self.num_no_delay:
            return 0.0
        retry -= self.num_no_delay
        if retry <= self.num_min_delay:
            return self.min_delay
        retry -= self.num_min_delay
        backoff_steps = self.num_retries - self.num_no_delay - self.num_min_delay - self.num_max_delay
        if retry > backoff_steps:
            return self.max_delay
        if backoff_steps <= 1:
            return self.min_delay if backoff_steps == 1 and retry == 1 else self.max_delay
        fraction = (retry - 1) / (backoff_steps - 1)
        span = self.max_delay - self.min_delay
        if self.backoff == "exponential":
            shaped = fraction ** 3
        elif self.backoff == "geometric":
            shaped = fraction ** 2
        elif self.backoff == "arithmetic":
            shaped = fraction ** 1.5
        else:
            shaped = fraction
        return self.min_delay + span * shaped


# AWS's policy for the endpoints it manages (SQS, Lambda, Firehose).
MANAGED_POLICY = RetryPolicy(
    min_delay=1, max_delay=20, num_retries=3 + 2 + 10 + 100_000, num_no_delay=3, num_min_delay=2,
    num_max_delay=100_000, backoff="exponential",
)


def _retry_policy(document: dict[str, Any]) -> RetryPolicy:
    values = {**DEFAULT_HTTP_RETRY, **document}
    return RetryPolicy(
        min_delay=float(values["minDelayTarget"]), max_delay=float(values["maxDelayTarget"]),
        num_retries=int(values["numRetries"]), num_no_delay=int(values["numNoDelayRetries"]),
        num_min_delay=int(values["numMinDelayRetries"]), num_max_delay=int(values["numMaxDelayRetries"]),
        backoff=str(values["backoffFunction"]),
    )


def _check_retry_document(document: Any, parameter: str) -> None:
    if not isinstance(document, dict):
        raise invalid(f"Invalid parameter: {parameter}: healthyRetryPolicy must be an object")
    for key, value in document.items():
        if key not in DEFAULT_HTTP_RETRY:
            raise invalid(f"Invalid parameter: {parameter}: Unknown field {key}")
        if key == "backoffFunction":
            if value not in BACKOFF_FUNCTIONS:
                raise invalid(f"Invalid parameter: {parameter}: backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid(f"Invalid parameter: {parameter}: {key} must be a non-negative integer")
    merged = {**DEFAULT_HTTP_RETRY, **document}
    # Documented bounds: delays 1..3600 s, min <= max, at most 100 retries (AWS's console
    # and API reject anything else with InvalidParameter).
    if not 1 <= merged["minDelayTarget"] <= merged["maxDelayTarget"] <= 3600:
        raise invalid(f"Invalid parameter: {parameter}: minDelayTarget must be between 1 and maxDelayTarget, "
                      "and maxDelayTarget at most 3600")
    if merged["numRetries"] > 100:
        raise invalid(f"Invalid parameter: {parameter}: numRetries must be at most 100")
    if merged["numNoDelayRetries"] + merged["numMinDelayRetries"] + merged["numMaxDelayRetries"] > merged["numRetries"]:
        raise invalid(f"Invalid parameter: {parameter}: numNoDelayRetries + numMinDelayRetries + "
                      "numMaxDelayRetries must not exceed numRetries")


def validate_topic_policy(text: str) -> None:
    """A topic's DeliveryPolicy: {"http": {"defaultHealthyRetryPolicy": {...}, ...}}."""
    document = _load(text, "DeliveryPolicy")
    http = document.get("http", {})
    if not isinstance(http, dict):
        raise invalid("Invalid parameter: DeliveryPolicy: http must be an object")
    if "defaultHealthyRetryPolicy" in http:
        _check_retry_document(http["defaultHealthyRetryPolicy"], "DeliveryPolicy")


def validate_subscription_policy(text: str) -> None:
    """A subscription's DeliveryPolicy: {"healthyRetryPolicy": {...}, ...}."""
    document = _load(text, "DeliveryPolicy")
    if "healthyRetryPolicy" in document:
        _check_retry_document(document["healthyRetryPolicy"], "DeliveryPolicy")


def _load(text: str, parameter: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise invalid(f"Invalid parameter: {parameter}: Invalid json") from None
    if not isinstance(document, dict):
        raise invalid(f"Invalid parameter: {parameter}: Invalid json")
    return document


def effective_topic_policy(attributes: dict[str, str]) -> str:
    """The topic's EffectiveDeliveryPolicy attribute."""
    http: dict[str, Any] = {
        "defaultHealthyRetryPolicy": dict(DEFAULT_HTTP_RETRY),
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
    own = attributes.get("DeliveryPolicy")
    if own:
        document = json.loads(own).get("http", {})
        http["defaultHealthyRetryPolicy"].update(document.get("defaultHealthyRetryPolicy", {}))
        for key in ("disableSubscriptionOverrides", "defaultThrottlePolicy", "defaultRequestPolicy"):
            if key in document:
                http[key] = document[key]
    return json.dumps({"http": http}, separators=(",", ":"))


def effective_subscription_policy(subscription: "Subscription", topic_attributes: dict[str, str]) -> str:
    topic_http = json.loads(effective_topic_policy(topic_attributes))["http"]
    healthy = dict(topic_http["defaultHealthyRetryPolicy"])
    document: dict[str, Any] = {"healthyRetryPolicy": healthy}
    own = subscription.attributes.get("DeliveryPolicy")
    if own and not topic_http.get("disableSubscriptionOverrides"):
        mine = json.loads(own)
        healthy.update(mine.get("healthyRetryPolicy", {}))
        for key in ("throttlePolicy", "requestPolicy"):
            if key in mine:
                document[key] = mine[key]
    if "requestPolicy" not in document and "defaultRequestPolicy" in topic_http:
        document["requestPolicy"] = topic_http["defaultRequestPolicy"]
    return json.dumps(document, separators=(",", ":"))


def retry_policy_for(subscription: "Subscription", topic_attributes: dict[str, str]) -> RetryPolicy:
    """The retry policy a delivery to this subscription follows."""
    if subscription.protocol not in ("http", "https"):
        return MANAGED_POLICY
    document = json.loads(effective_subscription_policy(subscription, topic_attributes))
    return _retry_policy(document["healthyRetryPolicy"])


def content_type_for(subscription: "Subscription", topic_attributes: dict[str, str]) -> str:
    document = json.loads(effective_subscription_policy(subscription, topic_attributes))
    request = document.get("requestPolicy") or {}
    return str(request.get("headerContentType") or "text/plain; charset=UTF-8")
