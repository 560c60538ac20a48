"""The function URL event builder and response mapping (services/lambda_/url_events.py)."""

from __future__ import annotations

import base64
import json

from freehold.services.lambda_ import url_events


def _event(**overrides: object) -> dict[str, object]:
    arguments: dict[str, object] = dict(
        url_id="a" * 32, domain="a" * 32 + ".lambda-url.us-east-1.localhost", method="GET", raw_path="/p",
        raw_query="", headers=[("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("Cookie", "k=v; j=w")], body=b"",
        source_ip="10.0.0.1", request_id="r", now=1700000000.5)
    arguments.update(overrides)
    return url_events.build_event(**arguments)  # type: ignore[arg-type]


def test_event_headers_cookies_and_context() -> None:
    event = _event()
    assert event["headers"] == {"host": "h", "x-a": "1,2"}
    assert event["cookies"] == ["k=v", "j=w"]
    assert event["isBase64Encoded"] is False and "body" not in event and "queryStringParameters" not in event
    context = event["requestContext"]
    assert isinstance(context, dict)
    assert context["time"] == "14/Nov/2023:22:13:20 +0000" and context["timeEpoch"] == 1700000000500
    assert context["accountId"] == "anonymous" and "authorizer" not in context


def test_event_bodies_and_query() -> None:
    text = _event(body="é".encode(), headers=[("Content-Type", "application/vnd.api+json")], raw_query="a=1&a=2&b")
    assert text["body"] == "é" and text["isBase64Encoded"] is False
    assert text["queryStringParameters"] == {"a": "1,2", "b": ""}
    binary = _event(body=b"\xff\x00", headers=[("Content-Type", "text/plain")])
    assert binary["isBase64Encoded"] is True and base64.b64decode(str(binary["body"])) == b"\xff\x00"
    untyped = _event(body=b"abc", headers=[])
    assert untyped["isBase64Encoded"] is True
    iam = _event(account_id="123456789012", iam={"accountId": "123456789012"})
    assert iam["requestContext"]["authorizer"] == {"iam": {"accountId": "123456789012"}}  # type: ignore[index]


def test_forwarded_headers() -> None:
    headers = url_events.forwarded([("Host", "h"), ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "ftp")],
                                   "10.0.0.1", "8080", "Root=1-x")
    assert headers == [("Host", "h"), ("x-forwarded-for", "1.2.3.4, 10.0.0.1"), ("x-forwarded-proto", "http"),
                       ("x-forwarded-port", "8080"), ("x-amzn-trace-id", "Root=1-x")]


def test_response_mapping() -> None:
    assert url_events.map_response(b'{"a": 1}') == (200, [("Content-Type", "application/json")], b'{"a": 1}')
    assert url_events.map_response(b'"hi"') == (200, [("Content-Type", "application/json")], b"hi")
    status, headers, body = url_events.map_response(json.dumps({
        "statusCode": 404, "headers": {"X-Y": "z"}, "cookies": ["a=b"], "body": {"nested": True}}).encode())
    assert status == 404 and body == b'{"nested": true}'
    assert headers == [("X-Y", "z"), ("Content-Type", "application/json"), ("Set-Cookie", "a=b")]
    status, headers, body = url_events.map_response(json.dumps({
        "statusCode": 200, "headers": {"content-type": "image/png"}, "body": base64.b64encode(b"\x89PNG").decode(),
        "isBase64Encoded": True}).encode())
    assert body == b"\x89PNG" and headers == [("content-type", "image/png")]
    assert url_events.map_response(b'{"statusCode": 204}')[::2] == (204, b"")


def test_responses_that_cannot_be_sent_are_refused() -> None:
    """AWS answers 502 for these; the caller turns the ValueError into that 502. Before, they
    broke the HTTP connection (bad status, CR/LF in a header) or truncated the body."""
    import pytest

    bad = [
        {"statusCode": 0}, {"statusCode": -5}, {"statusCode": 99999}, {"statusCode": True},
        {"statusCode": "abc"}, {"statusCode": 2.5},
        {"statusCode": 200, "headers": {"X-A": "one\r\nInjected: yes"}},
        {"statusCode": 200, "headers": {"bad name": "x"}},
        {"statusCode": 200, "headers": ["not", "an", "object"]},
        {"statusCode": 200, "cookies": ["a=b\r\nX: y"]},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
    ]
    for response in bad:
        with pytest.raises(ValueError):
            url_events.map_response(json.dumps(response).encode())


def test_framing_headers_of_the_function_are_dropped() -> None:
    status, headers, body = url_events.map_response(json.dumps({
        "statusCode": "201", "body": "hello world",
        "headers": {"Content-Length": "5", "Transfer-Encoding": "chunked", "Connection": "close", "X-Ok": "1"},
    }).encode())
    assert (status, body) == (201, b"hello world")
    assert [name for name, _ in headers] == ["X-Ok", "Content-Type"]
