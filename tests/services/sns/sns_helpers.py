"""Helpers of the SNS tests: unique names, error codes, a local HTTP receiver, an independent
SNS signature verifier, the outbox, and SQS reads."""

from __future__ import annotations

import base64
import http.server
import json
import queue
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(info: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a ClientError caught by pytest.raises."""
    error = info.value if hasattr(info, "value") else info
    assert isinstance(error, ClientError)
    return (error.response["Error"]["Code"], error.response["Error"]["Message"],
            error.response["ResponseMetadata"]["HTTPStatusCode"])


def wait_for(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until check() returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 in a thread: records every POST, answers `status`
    (or the next of `statuses`)."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    received: "queue.Queue[Received]" = field(default_factory=queue.Queue)
    attempts: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                if 200 <= status < 300:
                    receiver.received.put(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def next(self, timeout: float = 15.0) -> Received:
        return self.received.get(timeout=timeout)

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def confirm(receiver: Receiver, path: str) -> dict[str, Any]:
    """Take the SubscriptionConfirmation sent to `path` and visit its SubscribeURL."""
    message = receiver.next()
    assert message.path == path
    envelope = message.json()
    assert envelope["Type"] == "SubscriptionConfirmation"
    with urllib.request.urlopen(envelope["SubscribeURL"], timeout=10) as answer:
        assert answer.status == 200
    return dict(envelope)


_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def verify_signature(envelope: dict[str, Any]) -> None:
    """Verify an SNS envelope's signature the way AWS's docs describe, with the certificate
    fetched from its SigningCertURL; raises InvalidSignature when it does not verify."""
    with urllib.request.urlopen(envelope["SigningCertURL"], timeout=10) as answer:
        certificate = x509.load_pem_x509_certificate(answer.read())
    text = "".join(
        f"{name}\n{envelope[name]}\n" for name in _SIGNED[envelope["Type"]] if envelope.get(name) is not None
    )
    algorithm: hashes.HashAlgorithm = hashes.SHA256() if envelope["SignatureVersion"] == "2" else hashes.SHA1()
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(envelope["Signature"]), text.encode(), padding.PKCS1v15(), algorithm)


def outbox(endpoint_url: str, after: int = 0) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint_url}/_freehold/sns/outbox?after={after}", timeout=10) as answer:
        messages: list[dict[str, Any]] = json.loads(answer.read())["messages"]
        return messages


def outbox_for(endpoint_url: str, endpoint: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the outbox holds `count` messages for `endpoint`; return them."""
    def found() -> list[dict[str, Any]]:
        messages = [m for m in outbox(endpoint_url) if m["endpoint"] == endpoint]
        return messages if len(messages) >= count else []

    result: list[dict[str, Any]] = wait_for(found, timeout)
    return result


def receive_all(sqs: Any, queue_url: str, count: int, timeout: float = 15.0, **kwargs: Any) -> list[dict[str, Any]]:
    """Receive (and delete) until `count` messages arrived; fail after `timeout`."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"received {len(messages)} of {count} messages within {timeout}s")
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for message in answer.get("Messages", []):
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages
