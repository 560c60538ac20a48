"""Envelopes: per-protocol messages, attribute rendering, the Lambda event, and signatures
that verify with the certificate (string to sign per AWS's documentation)."""

from __future__ import annotations

import base64
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from freehold.services.sns import envelope as envelopes
from freehold.services.sns.signing import Signer, generate, string_to_sign
from freehold.services.sns.store import Message

SIGNER = Signer(generate())


def message(**changes: object) -> Message:
    values: dict[str, object] = dict(
        message_id="m-1", kind="Notification", topic_arn="arn:aws:sns:us-east-1:000000000000:t", body="hi",
        subject=None, structure="", attributes={}, published="2024-01-02T03:04:05.678Z",
    )
    values.update(changes)
    return Message(**values)  # type: ignore[arg-type]


def verify(envelope: dict[str, object]) -> None:
    cert = x509.load_pem_x509_certificate(SIGNER.material.cert_pem.encode())
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    algorithm = hashes.SHA256() if envelope["SignatureVersion"] == "2" else hashes.SHA1()
    key.verify(base64.b64decode(str(envelope["Signature"])), string_to_sign(envelope).encode(),
               padding.PKCS1v15(), algorithm)


def test_string_to_sign_follows_the_documented_order() -> None:
    text = string_to_sign({"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "m",
                           "Timestamp": "ts", "Subject": "s", "UnsubscribeURL": "ignored"})
    assert text == "Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n"
    without_subject = string_to_sign({"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "m",
                                      "Timestamp": "ts"})
    assert "Subject" not in without_subject


def test_notification_is_signed_v1_and_v2() -> None:
    for version in ("1", "2"):
        env = envelopes.notification(message(signature_version=version, subject="s"), "hi", "arn:sub",
                                     "http://127.0.0.1:4566", SIGNER)
        assert env["SignatureVersion"] == version
        verify(env)
        assert env["SigningCertURL"] == "http://127.0.0.1:4566/_freehold/sns/SimpleNotificationService-freehold.pem"
        assert env["UnsubscribeURL"] == "http://127.0.0.1:4566/?Action=Unsubscribe&SubscriptionArn=arn:sub"


def test_a_fanned_out_message_is_signed_once_and_every_copy_verifies() -> None:
    signer = Signer(SIGNER.material)
    calls = 0
    real_sign = signer._key.sign

    class CountingKey:
        def sign(self, *args: object) -> bytes:
            nonlocal calls
            calls += 1
            return real_sign(*args)  # type: ignore[arg-type]

    signer._key = CountingKey()  # type: ignore[assignment]
    copies = [envelopes.notification(message(), "hi", f"arn:sub:{i}", "http://h", signer) for i in range(3)]
    assert calls == 1
    for copy in copies:
        verify(copy)
    assert len({copy["UnsubscribeURL"] for copy in copies}) == 3
    # Another message, or another signature version, is signed anew; old entries are let go.
    envelopes.notification(message(message_id="m-2"), "hi", "arn:sub:0", "http://h", signer)
    envelopes.notification(message(signature_version="2"), "hi", "arn:sub:0", "http://h", signer)
    assert calls == 3
    for i in range(300):
        envelopes.notification(message(message_id=f"n-{i}"), "hi", "arn:sub", "http://h", signer)
    assert len(signer._recent) <= 256


def test_confirmation_carries_token_and_subscribe_url() -> None:
    env = envelopes.confirmation(message(kind="SubscriptionConfirmation", token="tok/en", body="confirm"),
                                 "http://h", SIGNER)
    assert env["SubscribeURL"] == ("http://h/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:"
                                   "000000000000:t&Token=tok%2Fen")
    verify(env)


def test_message_structure_picks_the_protocol() -> None:
    structured = message(structure="json", body=json.dumps({"default": "d", "sqs": "q", "email": {"x": 1}}))
    assert envelopes.message_for(structured, "sqs") == "q"
    assert envelopes.message_for(structured, "http") == "d"
    assert envelopes.message_for(structured, "email") == '{"x": 1}'


def test_lambda_event_shape() -> None:
    env = envelopes.notification(message(attributes={"a": {"DataType": "String", "StringValue": "v"}}), "hi",
                                 "arn:sub", "http://h", SIGNER)
    event = envelopes.lambda_event(env, "arn:sub")
    (record,) = event["Records"]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns", "1.0", "arn:sub")
    sns = record["Sns"]
    assert sns["Subject"] is None and sns["Message"] == "hi"
    assert sns["SigningCertUrl"] == env["SigningCertURL"] and sns["UnsubscribeUrl"] == env["UnsubscribeURL"]
    assert sns["MessageAttributes"] == {"a": {"Type": "String", "Value": "v"}}


def test_rendering_uses_aws_layout() -> None:
    assert envelopes.render({"Type": "Notification", "Message": "é"}) == (
        '{\n  "Type" : "Notification",\n  "Message" : "é"\n}')
