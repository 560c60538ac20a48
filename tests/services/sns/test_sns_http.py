"""SNS → HTTP against a local receiver: the confirmation handshake, signed envelopes verified
with the certificate freehold serves (SignatureVersion 1 and 2), raw delivery, filter
policies, MessageStructure=json, retries per the delivery policy, the UnsubscribeConfirmation
(and restoring a subscription with its token), and deliveries that survive kill -9."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from sns_helpers import Receiver, confirm, unique, verify_signature, wait_for

FAST_RETRIES = json.dumps({"healthyRetryPolicy": {
    "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 40, "numNoDelayRetries": 0,
}})


def _subscribed(sns: Any, receiver: Receiver, path: str, **attributes: str) -> tuple[str, str]:
    topic = sns.create_topic(Name=unique("http"))["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url + path, Attributes=attributes)
    assert answer["SubscriptionArn"] == "pending confirmation"
    envelope = confirm(receiver, path)
    verify_signature(envelope)
    assert envelope["TopicArn"] == topic
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic + ":")
    return topic, sub["SubscriptionArn"]


def test_confirmation_and_signed_notification(freehold: Any, sns: Any, receiver: Receiver) -> None:
    topic, sub = _subscribed(sns, receiver, "/hook")
    published = sns.publish(TopicArn=topic, Message="hello, endpoint", Subject="Greeting", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "blue"},
        "price": {"DataType": "Number", "StringValue": "12.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    })
    message = receiver.next()
    assert message.headers["x-amz-sns-message-type"] == "Notification"
    assert message.headers["x-amz-sns-message-id"] == published["MessageId"]
    assert message.headers["x-amz-sns-topic-arn"] == topic
    assert message.headers["x-amz-sns-subscription-arn"] == sub
    assert message.headers["content-type"] == "text/plain; charset=UTF-8"
    assert message.headers["user-agent"] == "Amazon Simple Notification Service Agent"
    envelope = message.json()
    assert list(envelope) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                              "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert (envelope["Message"], envelope["Subject"], envelope["SignatureVersion"]) == (
        "hello, endpoint", "Greeting", "1")
    assert envelope["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "blue"},
        "price": {"Type": "Number", "Value": "12.5"},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }
    verify_signature(envelope)
    tampered = {**envelope, "Message": "hello, attacker"}
    with pytest.raises(InvalidSignature):
        verify_signature(tampered)
    # The UnsubscribeURL works like the Unsubscribe action (and the endpoint is told so).
    with urllib.request.urlopen(envelope["UnsubscribeURL"], timeout=10) as answer:
        assert answer.status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert receiver.next().headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"


def test_unsubscribing_posts_an_unsubscribe_confirmation_whose_token_restores(sns: Any, receiver: Receiver) -> None:
    topic, sub = _subscribed(sns, receiver, "/leaving")
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    message = receiver.next()
    assert message.path == "/leaving"
    assert message.headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert message.headers["x-amz-sns-topic-arn"] == topic
    assert message.headers["x-amz-sns-subscription-arn"] == sub
    assert message.headers["user-agent"] == "Amazon Simple Notification Service Agent"
    envelope = message.json()
    assert list(envelope) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                              "SignatureVersion", "Signature", "SigningCertURL"]
    assert envelope["Type"] == "UnsubscribeConfirmation"
    assert envelope["Message"] == (
        f"You have chosen to deactivate subscription {sub}.\nTo cancel this operation and restore the "
        "subscription, visit the SubscribeURL included in this message.")
    verify_signature(envelope)
    assert message.headers["x-amz-sns-message-id"] == envelope["MessageId"]
    # Unsubscribing again is a no-op: no second confirmation.
    sns.unsubscribe(SubscriptionArn=sub)
    assert receiver.nothing_within(0.5)
    # The token restores the subscription, confirmed, under its old ARN; deliveries resume.
    assert sns.confirm_subscription(TopicArn=topic, Token=envelope["Token"])["SubscriptionArn"] == sub
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"] == sub
    sns.publish(TopicArn=topic, Message="welcome back")
    assert receiver.next().json()["Message"] == "welcome back"
    # The token was used up; a confirmed subscription keeps its own token working (idempotent).
    with pytest.raises(ClientError) as raised:
        sns.confirm_subscription(TopicArn=topic, Token=envelope["Token"][::-1])
    assert raised.value.response["Error"]["Code"] == "InvalidParameter"
    # Unsubscribed again, this time through its SubscribeURL.
    sns.unsubscribe(SubscriptionArn=sub)
    again = receiver.next().json()
    assert again["Type"] == "UnsubscribeConfirmation" and again["Token"] != envelope["Token"]
    with urllib.request.urlopen(again["SubscribeURL"], timeout=10) as answer:
        assert answer.status == 200
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [sub]


def test_non_http_subscriptions_get_no_unsubscribe_confirmation(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique("quiet"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("quiet"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    sns.unsubscribe(SubscriptionArn=sub)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_signature_version_2(sns: Any, receiver: Receiver) -> None:
    topic, _ = _subscribed(sns, receiver, "/v2")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="sha256 please")
    envelope = receiver.next().json()
    assert envelope["SignatureVersion"] == "2"
    verify_signature(envelope)


def test_raw_delivery(sns: Any, receiver: Receiver) -> None:
    topic, sub = _subscribed(sns, receiver, "/raw", RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message='{"just": "the body"}', Subject="ignored")
    message = receiver.next()
    assert message.body == b'{"just": "the body"}'
    assert message.headers["x-amz-sns-rawdelivery"] == "true"
    assert message.headers["x-amz-sns-subscription-arn"] == sub


def test_filter_policy_and_message_structure(sns: Any, receiver: Receiver) -> None:
    topic, sub = _subscribed(sns, receiver, "/filtered")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=json.dumps({
        "kind": ["order", {"prefix": "refund-"}], "amount": [{"numeric": [">=", 100]}],
    }))

    def attrs(kind: str, amount: str) -> dict[str, Any]:
        return {"kind": {"DataType": "String", "StringValue": kind},
                "amount": {"DataType": "Number", "StringValue": amount}}

    sns.publish(TopicArn=topic, Message="small order", MessageAttributes=attrs("order", "5"))
    sns.publish(TopicArn=topic, Message="not an order", MessageAttributes=attrs("invoice", "500"))
    sns.publish(TopicArn=topic, Message="no attributes")
    sns.publish(TopicArn=topic, Message="big order", MessageAttributes=attrs("order", "100"))
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "fallback", "http": "for http"}),
                MessageStructure="json", MessageAttributes=attrs("refund-partial", "1e3"))
    assert receiver.next().json()["Message"] == "big order"
    assert receiver.next().json()["Message"] == "for http"
    assert receiver.nothing_within(0.5)


def test_retries_follow_the_delivery_policy(sns: Any, receiver: Receiver) -> None:
    topic, sub = _subscribed(sns, receiver, "/flaky")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=json.dumps({
        "healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2}}))
    effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["EffectiveDeliveryPolicy"])
    assert effective["healthyRetryPolicy"]["numRetries"] == 2
    receiver.statuses = [500, 503]
    sns.publish(TopicArn=topic, Message="third time lucky")
    assert receiver.next(timeout=15).json()["Message"] == "third time lucky"
    assert receiver.attempts == 3 + 1  # the confirmation, then two failures and a success
    # Out of retries: the message is dropped (no DLQ here) after 1 + numRetries attempts.
    receiver.statuses = [500, 500, 500, 200]
    sns.publish(TopicArn=topic, Message="never arrives")
    wait_for(lambda: receiver.attempts == 4 + 3)
    assert receiver.nothing_within(1.5)
    assert receiver.attempts == 4 + 3 and receiver.statuses == [200]


def test_pending_deliveries_survive_kill9(freehold: Any, receiver: Receiver) -> None:
    sns = freehold.client("sns")
    topic, sub = _subscribed(sns, receiver, "/durable")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=FAST_RETRIES)
    receiver.status = 503  # the endpoint is down: deliveries stay pending
    ids = {sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(5)}
    wait_for(lambda: receiver.attempts >= 1 + 5)  # each tried once and waiting for its retry
    freehold.kill9()
    receiver.status = 200
    freehold.start()
    delivered = set()
    while len(delivered) < len(ids):
        # A retry in flight at the kill is leased for 20 s before it is tried again.
        envelope = receiver.next(timeout=45).json()
        verify_signature(envelope)
        delivered.add(envelope["MessageId"])
    assert delivered == ids
