"""Retry schedules from delivery policies (AWS's four phases) and their validation."""

from __future__ import annotations

import json

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.sns.delivery_policy import (
    MANAGED_POLICY,
    RetryPolicy,
    effective_topic_policy,
    retry_policy_for,
    validate_subscription_policy,
)
from freehold.services.sns.models import Subscription


def schedule(policy: RetryPolicy) -> list[float]:
    delays = []
    retry = 1
    while (delay := policy.delay_before_retry(retry)) is not None:
        delays.append(round(delay, 3))
        retry += 1
    return delays


def http_sub(policy: dict[str, object] | None = None) -> Subscription:
    attributes = {"DeliveryPolicy": json.dumps({"healthyRetryPolicy": policy})} if policy else {}
    return Subscription("arn", "topic", "000000000000", "us-east-1", "http", "http://x", True, "t", attributes)


def test_default_http_policy_is_three_retries_20s_apart() -> None:
    assert schedule(retry_policy_for(http_sub(), {})) == [20.0, 20.0, 20.0]


def test_four_phases() -> None:
    policy = retry_policy_for(http_sub({
        "minDelayTarget": 1, "maxDelayTarget": 10, "numRetries": 8, "numNoDelayRetries": 1,
        "numMinDelayRetries": 2, "numMaxDelayRetries": 2, "backoffFunction": "linear",
    }), {})
    assert schedule(policy) == [0.0, 1.0, 1.0, 1.0, 5.5, 10.0, 10.0, 10.0]


def test_topic_policy_applies_unless_the_subscription_overrides() -> None:
    topic = {"DeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 1,
                                                                                  "minDelayTarget": 2,
                                                                                  "maxDelayTarget": 2}}})}
    assert schedule(retry_policy_for(http_sub(), topic)) == [2.0]
    assert schedule(retry_policy_for(http_sub({"numRetries": 2}), topic)) == [2.0, 2.0]
    effective = json.loads(effective_topic_policy(topic))
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 1


def test_managed_endpoints_retry_for_days() -> None:
    sqs = Subscription("arn", "topic", "000000000000", "us-east-1", "sqs", "arn:aws:sqs:::q", True, "t")
    assert retry_policy_for(sqs, {}) is MANAGED_POLICY
    first = [MANAGED_POLICY.delay_before_retry(n) for n in range(1, 7)]
    assert first[:5] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert MANAGED_POLICY.delay_before_retry(100_015) == 20.0
    assert MANAGED_POLICY.delay_before_retry(100_016) is None


@pytest.mark.parametrize("document", [
    "not json",
    json.dumps({"healthyRetryPolicy": {"numRetries": 101}}),
    json.dumps({"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}}),
    json.dumps({"healthyRetryPolicy": {"backoffFunction": "random"}}),
    json.dumps({"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 3}}),
    json.dumps({"healthyRetryPolicy": {"retries": 1}}),
])
def test_refused_policies(document: str) -> None:
    with pytest.raises(ServiceError) as info:
        validate_subscription_policy(document)
    assert info.value.code == "InvalidParameter"
    assert info.value.message.startswith("Invalid parameter: DeliveryPolicy")
