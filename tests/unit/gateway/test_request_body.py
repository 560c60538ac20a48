"""Request bodies from the ASGI receive channel: read whole (capped) or streamed once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from freehold.gateway import request_body
from freehold.gateway.request_body import (
    BODY_CAPS, DEFAULT_CAP, BodyStream, ClientDisconnected, body_cap, check_declared, declared_length, has_body,
    read_whole,
)
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers
from freehold.protocol.specs import SERVICES
from freehold.services.lambda_ import limits as lambda_limits
from support.server import FreeholdServer


def receiver(messages: list[dict[str, Any]]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_stream_yields_chunks_and_ends() -> None:
    async def run() -> list[bytes]:
        stream = BodyStream(receiver([
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        ]))
        chunks = [chunk async for chunk in stream]
        assert stream.done and stream.received == 4
        return chunks

    assert asyncio.run(run()) == [b"ab", b"cd"]


def test_disconnect_is_an_incomplete_body() -> None:
    stream = BodyStream(receiver([{"type": "http.request", "body": b"ab", "more_body": True},
                                  {"type": "http.disconnect"}]))

    async def run() -> None:
        async for _ in stream:
            pass

    with pytest.raises(ClientDisconnected):
        asyncio.run(run())
    stream = BodyStream(receiver([{"type": "http.request", "body": b"ab", "more_body": True},
                                  {"type": "http.disconnect"}]))
    with pytest.raises(ServiceError) as excinfo:
        asyncio.run(read_whole(stream))
    assert excinfo.value.code == "IncompleteBody"


def test_read_whole_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    big = [{"type": "http.request", "body": b"x" * 10, "more_body": True} for _ in range(3)]
    with pytest.raises(ServiceError) as excinfo:
        asyncio.run(read_whole(BodyStream(receiver(big)), limit=25))
    assert (excinfo.value.code, excinfo.value.status) == ("RequestEntityTooLarge", 413)
    assert request_body.MAX_BODY_BYTES == 256 * 1024 * 1024


def test_has_body() -> None:
    assert not has_body(Headers())
    assert not has_body(Headers({"content-length": "0"}))
    assert has_body(Headers({"content-length": "12"}))
    assert has_body(Headers({"transfer-encoding": "chunked"}))
    stream = BodyStream(receiver([]), has_body=False)
    assert stream.done
    assert asyncio.run(read_whole(stream)) == b""


MiB = 1024 * 1024


def test_caps_cover_each_service_above_its_documented_maximum() -> None:
    assert set(BODY_CAPS) <= set(SERVICES)
    assert body_cap("dynamodb", "BatchWriteItem") > 16 * MiB  # "total request size exceeds 16 MB"
    assert body_cap("sqs", "SendMessage") > 1 * MiB  # MaximumMessageSize up to 1 MiB
    assert body_cap("sns", "Publish") > 256 * 1024
    assert body_cap("logs", "PutLogEvents") > 1 * MiB
    # Lambda answers 6 MB / 256 KB payloads and 50 MB zips itself: the gateway stays above.
    assert body_cap("lambda", "Invoke") > lambda_limits.SYNC_PAYLOAD_MAX
    for operation in ("CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"):
        assert body_cap("lambda", operation) > lambda_limits.REQUEST_MAX
    assert body_cap("lambda", "Invoke") < body_cap("lambda", "CreateFunction")
    # S3 keeps the former cap for bodies read whole (its uploads stream), others the default.
    assert body_cap("s3", "DeleteObjects") == request_body.MAX_BODY_BYTES
    assert body_cap("iam", "CreatePolicy") == body_cap("sts") == body_cap(None) == DEFAULT_CAP
    assert all(cap < request_body.MAX_BODY_BYTES for service, cap in BODY_CAPS.items() if service != "s3")


def test_declared_length_refused_before_reading() -> None:
    assert declared_length(Headers({"content-length": " 42 "})) == 42
    assert declared_length(Headers({"content-length": "-1"})) is None
    assert declared_length(Headers()) is None
    check_declared(Headers({"content-length": "100"}), 100)
    check_declared(Headers({"transfer-encoding": "chunked"}), 100)
    with pytest.raises(ServiceError) as excinfo:
        check_declared(Headers({"content-length": "101"}), 100)
    error = excinfo.value
    assert (error.code, error.status, error.message) == (
        "RequestEntityTooLarge", 413, "Request bodies are limited to 100 bytes.")


# Live: a Content-Length of 1 GiB with a few bytes behind it. Were the server to wait for the
# body, no answer would come before the socket's timeout; refused from the header, it comes at
# once (and the connection is closed, the rest of the body never read).

GIB = 1024 * MiB
SIGNED = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{}/aws4_request, " \
         "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64


def _send_raw(server: FreeholdServer, head: str, body: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    import socket
    import time
    from urllib.parse import urlsplit

    url = urlsplit(server.endpoint_url)
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, "connection closed without an answer"
            received += chunk
        header_block, _, rest = received.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
    assert time.monotonic() - started < timeout
    return int(lines[0].split()[1]), headers, rest


def test_live_dynamodb_refuses_huge_content_length_at_once(freehold_sqlite: FreeholdServer) -> None:
    head = (f"POST / HTTP/1.1\nHost: localhost\nX-Amz-Target: DynamoDB_20120810.PutItem\n"
            f"Content-Type: application/x-amz-json-1.0\nX-Amz-Date: 20260101T000000Z\n"
            f"Authorization: {SIGNED.format('dynamodb')}\nContent-Length: {GIB}\n")
    status, headers, body = _send_raw(freehold_sqlite, head, b'{"TableName": "t", "Item": {')
    assert status == 413
    assert headers.get("connection") == "close"
    error = json.loads(body)
    assert error["__type"].endswith("RequestEntityTooLarge")
    assert error["message"] == f"Request bodies are limited to {body_cap('dynamodb')} bytes."


def test_live_sqs_refuses_huge_content_length_at_once(freehold_sqlite: FreeholdServer) -> None:
    head = (f"POST / HTTP/1.1\nHost: localhost\nX-Amz-Target: AmazonSQS.SendMessage\n"
            f"Content-Type: application/x-amz-json-1.0\nX-Amz-Date: 20260101T000000Z\n"
            f"Authorization: {SIGNED.format('sqs')}\nContent-Length: {GIB}\n")
    status, headers, body = _send_raw(freehold_sqlite, head, b'{"QueueUrl": "')
    assert status == 413
    assert headers.get("connection") == "close"
    assert json.loads(body)["__type"].endswith("RequestEntityTooLarge")


def test_live_lambda_invoke_refuses_huge_content_length_at_once(freehold_sqlite: FreeholdServer) -> None:
    head = (f"POST /2015-03-31/functions/f/invocations HTTP/1.1\nHost: localhost\n"
            f"X-Amz-Date: 20260101T000000Z\nAuthorization: {SIGNED.format('lambda')}\n"
            f"Content-Length: {GIB}\n")
    status, headers, body = _send_raw(freehold_sqlite, head, b'{"key": "')
    assert status == 413
    assert headers.get("connection") == "close"
    assert headers.get("x-amzn-errortype", "").startswith("RequestEntityTooLarge")
    assert json.loads(body)["message"] == f"Request bodies are limited to {body_cap('lambda', 'Invoke')} bytes."


def test_live_sns_form_over_its_cap_is_refused_in_its_own_shape(freehold_sqlite: FreeholdServer) -> None:
    # Read whole under the pre-routing cap, then refused once known to be SNS (1 MiB).
    form = b"Action=Publish&Version=2010-03-31&TopicArn=arn&Message=" + b"x" * (body_cap("sns") + 1)
    head = (f"POST / HTTP/1.1\nHost: localhost\nContent-Type: application/x-www-form-urlencoded\n"
            f"X-Amz-Date: 20260101T000000Z\nAuthorization: {SIGNED.format('sns')}\n"
            f"Content-Length: {len(form)}\n")
    status, _, body = _send_raw(freehold_sqlite, head, form, timeout=20.0)
    assert status == 413
    assert b"<Code>RequestEntityTooLarge</Code>" in body and b"ErrorResponse" in body
