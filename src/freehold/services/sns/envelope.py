"""What SNS delivers: the JSON envelopes (Notification, SubscriptionConfirmation), their HTTP
headers, the Lambda event, and the per-protocol message of a MessageStructure=json publish.

Formats: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
Field order and the `"Key" : "value"` spacing follow what AWS sends; SubscribeURL and
UnsubscribeURL point at freehold's own endpoint, SigningCertURL at the certificate freehold
serves (see signing.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from freehold.services.sns.signing import CERT_PATH, Signer
from freehold.services.sns.store import Message

USER_AGENT = "Amazon Simple Notification Service Agent"


def message_for(message: Message, protocol: str) -> str:
    """The text a subscription of `protocol` gets (MessageStructure=json picks its key)."""
    if message.structure != "json":
        return message.body
    document = json.loads(message.body)
    chosen = document.get(protocol, document.get("default"))
    return chosen if isinstance(chosen, str) else json.dumps(chosen)


def envelope_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Message attributes the way envelopes carry them: {"Type": ..., "Value": ...}."""
    out: dict[str, dict[str, str]] = {}
    for name, attribute in attributes.items():
        value = attribute.get("StringValue")
        if value is None:
            value = attribute.get("BinaryValue", "")
        out[name] = {"Type": str(attribute["DataType"]), "Value": str(value)}
    return out


def cert_url(endpoint_url: str) -> str:
    return endpoint_url + CERT_PATH


def unsubscribe_url(endpoint_url: str, subscription_arn: str) -> str:
    return f"{endpoint_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe=':')}"


def subscribe_url(endpoint_url: str, topic_arn: str, token: str) -> str:
    return (f"{endpoint_url}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe=':')}"
            f"&Token={quote(token, safe='')}")


def notification(message: Message, text: str, subscription_arn: str, endpoint_url: str,
                 signer: Signer) -> dict[str, Any]:
    """A Notification envelope, signed."""
    envelope: dict[str, Any] = {"Type": "Notification", "MessageId": message.message_id}
    if message.sequence_number is not None:
        envelope["SequenceNumber"] = message.sequence_number
    envelope["TopicArn"] = message.topic_arn
    if message.subject is not None:
        envelope["Subject"] = message.subject
    envelope["Message"] = text
    envelope["Timestamp"] = message.published
    envelope["SignatureVersion"] = message.signature_version
    envelope["Signature"] = signer.sign(envelope, message.signature_version)
    envelope["SigningCertURL"] = cert_url(endpoint_url)
    envelope["UnsubscribeURL"] = unsubscribe_url(endpoint_url, subscription_arn)
    if message.attributes:
        envelope["MessageAttributes"] = envelope_attributes(message.attributes)
    return envelope


def confirmation(message: Message, endpoint_url: str, signer: Signer) -> dict[str, Any]:
    """A SubscriptionConfirmation (or UnsubscribeConfirmation) envelope, signed."""
    assert message.token is not None
    envelope: dict[str, Any] = {
        "Type": message.kind,
        "MessageId": message.message_id,
        "Token": message.token,
        "TopicArn": message.topic_arn,
        "Message": message.body,
        "SubscribeURL": subscribe_url(endpoint_url, message.topic_arn, message.token),
        "Timestamp": message.published,
        "SignatureVersion": message.signature_version,
    }
    envelope["Signature"] = signer.sign(envelope, message.signature_version)
    envelope["SigningCertURL"] = cert_url(endpoint_url)
    return envelope


def render(envelope: dict[str, Any]) -> str:
    """The envelope as text, in AWS's layout (two-space indent, "Key" : "value")."""
    return json.dumps(envelope, indent=2, separators=(",", " : "), ensure_ascii=False)


def lambda_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event a Lambda function subscribed to a topic is invoked with."""
    sns: dict[str, Any] = {
        "Type": envelope["Type"],
        "MessageId": envelope["MessageId"],
        "TopicArn": envelope["TopicArn"],
        "Subject": envelope.get("Subject"),
        "Message": envelope["Message"],
        "Timestamp": envelope["Timestamp"],
        "SignatureVersion": envelope["SignatureVersion"],
        "Signature": envelope["Signature"],
        # Lambda's event spells these two 'Url', unlike the HTTP/SQS envelope's 'URL'.
        "SigningCertUrl": envelope["SigningCertURL"],
        "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
        "MessageAttributes": envelope.get("MessageAttributes", {}),
    }
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }]}


def http_headers(envelope: dict[str, Any], subscription_arn: str | None, raw: bool,
                 content_type: str) -> dict[str, str]:
    headers = {
        "x-amz-sns-message-type": envelope["Type"],
        "x-amz-sns-message-id": envelope["MessageId"],
        "x-amz-sns-topic-arn": envelope["TopicArn"],
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
    }
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    return headers


def sqs_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as SQS SendMessage takes them (raw delivery passes them through)."""
    out: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        if "BinaryValue" in attribute:
            out[name] = {"DataType": attribute["DataType"], "BinaryValue": base64.b64decode(attribute["BinaryValue"])}
        else:
            out[name] = {"DataType": attribute["DataType"], "StringValue": attribute.get("StringValue", "")}
    return out
