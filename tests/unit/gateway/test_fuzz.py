"""Fuzzing the gateway: malformed requests never get a 5xx (bar 501 for unimplemented operations).

The requests go through the real ASGI application in process (the same code uvicorn
serves), so that >= 10,000 of them take seconds. They mix pure garbage with real requests,
serialized by botocore for random operations of the 23 services and then damaged: bodies
truncated or corrupted, headers dropped or garbled, signatures mangled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold.config import Settings
from freehold.gateway.asgi import App
from freehold.gateway.node import Node
from freehold.protocol.specs import SERVICES, service_model

EXAMPLES_GARBAGE = 6000
EXAMPLES_DAMAGED = 5000
SIGNED = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/{svc}/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


class Harness:
    def __init__(self, data_dir: Path) -> None:
        self.node = Node(Settings(data_dir=data_dir))
        self.app = App(self.node)
        self.loop = asyncio.new_event_loop()
        self.node.open()
        self.statuses: dict[int, int] = {}

    def request(self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
                body: bytes) -> tuple[int, bytes]:
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode("latin-1", "replace"),
                 "query_string": query, "headers": headers, "http_version": "1.1"}
        sent: list[dict[str, Any]] = []
        chunks = [body[: len(body) // 2], body[len(body) // 2:]]

        async def receive() -> dict[str, Any]:
            if chunks:
                chunk = chunks.pop(0)
                return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        status = int(sent[0]["status"])
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status, b"".join(m.get("body", b"") for m in sent[1:])

    def close(self) -> None:
        self.node.close()
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    print(f"\nfuzz statuses: {dict(sorted(h.statuses.items()))}")
    h.close()


def _check(status: int, body: bytes) -> None:
    assert status < 500 or status == 501, f"status {status}: {body[:500]!r}"
    assert b"Traceback" not in body


_targets = st.sampled_from([
    "DynamoDB_20120810.PutItem", "DynamoDBStreams_20120810.GetRecords", "AmazonSQS.SendMessage",
    "AWSCognitoIdentityProviderService.InitiateAuth", "AWSStepFunctions.StartExecution",
    "AmazonSSM.GetParameter", "secretsmanager.GetSecretValue", "TrentService.Decrypt",
    "AWSEvents.PutEvents", "Logs_20140328.PutLogEvents", "Nope.Nothing", ".", "", "DynamoDB_20120810.",
])
_paths = st.one_of(
    st.sampled_from(["/", "/bucket", "/bucket/key", "/bucket/a/b/c?uploads", "/2015-03-31/functions",
                     "/2015-03-31/functions/f/invocations", "/restapis", "/v2/apis", "/v2/email/identities",
                     "/%ZZ", "//", "/bucket/%00", "/_freehold/../x", "/2015-03-31/functions/%2F/code"]),
    st.text(min_size=1, max_size=40).map(lambda s: "/" + s),
)
_content_types = st.sampled_from([
    "application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json",
    "application/x-www-form-urlencoded; charset=utf-8", "text/xml", "application/xml",
    "application/cbor", "multipart/form-data; boundary=xx", "", "garbage/\x00",
])
_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"{", b"[]", b"null", b'{"TableName": 5}', b'{"Item": {"a": {"Q": 1}}}',
                     b"<x>", b"<?xml version='1.0'?><CreateBucketConfiguration><Location",
                     b"Action=CreateUser&UserName=", b"Action=GetCallerIdentity&Version=2011-06-15",
                     b"Action=AssumeRole&RoleArn=x&RoleSessionName=%ZZ", b"Action=&&&==",
                     b'{"QueueUrl": "http://x/000000000000/q", "MessageBody": null}',
                     json.dumps({"a": [1] * 50}).encode()]),
)
_header = st.tuples(
    st.sampled_from(["x-amz-target", "content-type", "authorization", "x-amz-date", "host", "range",
                     "x-amz-content-sha256", "x-amz-security-token", "content-md5", "if-match",
                     "x-amz-meta-a", "x-amz-copy-source", "x-amz-server-side-encryption-customer-key-md5"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
)


@settings(max_examples=EXAMPLES_GARBAGE, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "FOO"]),
    path=_paths,
    query=st.one_of(st.binary(max_size=60), st.sampled_from([
        b"Action=GetCallerIdentity", b"Action=ListUsers&MaxItems=abc", b"Action=CreateUser",
        b"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Signature=x",
        b"uploads", b"list-type=2&max-keys=-1", b"versionId=&partNumber=x"])),
    target=st.one_of(st.none(), _targets),
    content_type=_content_types,
    signing=st.one_of(st.none(), st.sampled_from(["sts", "iam", "s3", "dynamodb", "lambda", "x", ""]),
                      st.text(max_size=30)),
    headers=st.lists(_header, max_size=4),
    body=_bodies,
)
def test_garbage_requests_never_5xx(harness: Harness, method: str, path: str, query: bytes,
                                    target: str | None, content_type: str, signing: str | None,
                                    headers: list[tuple[str, str]], body: bytes) -> None:
    raw: list[tuple[bytes, bytes]] = [(b"host", b"127.0.0.1:4566")]
    if target is not None:
        raw.append((b"x-amz-target", target.encode()))
    if content_type:
        raw.append((b"content-type", content_type.encode("latin-1")))
    if signing is not None:
        auth = SIGNED.format(svc=signing) if signing.isalnum() or not signing else signing
        raw.append((b"authorization", auth.encode("utf-8", "replace")))
    raw += [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers]
    _check(*harness.request(method, path, query, raw, body))


def _operations() -> list[tuple[str, str]]:
    return [(s, op) for s in SERVICES for op in service_model(s).operation_names]


@settings(max_examples=EXAMPLES_DAMAGED, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(
    which=st.sampled_from(_operations()),
    damage=st.sampled_from(["truncate", "flip", "drop-header", "garble-header", "bad-signature",
                            "swap-method", "none"]),
    position=st.floats(min_value=0, max_value=1),
    junk=st.binary(min_size=1, max_size=8),
    data=st.data(),
)
def test_damaged_real_requests_never_5xx(harness: Harness, which: tuple[str, str], damage: str,
                                         position: float, junk: bytes, data: st.DataObject) -> None:
    from botocore.awsrequest import create_request_object, prepare_request_dict
    from botocore.serialize import create_serializer

    from unit.protocol.strategies import operation_input

    service, name = which
    model = service_model(service)
    operation = model.operation_model(name)
    params = data.draw(operation_input(operation))
    serializer = create_serializer(model.resolve_protocol(["json", "query", "rest-json", "rest-xml",
                                                           "smithy-rpc-v2-cbor"])
                                   if hasattr(model, "resolve_protocol") else model.protocol,
                                   include_validation=False)
    try:
        request_dict = serializer.serialize_to_request(params, operation)
    except Exception:
        return  # botocore itself cannot send these parameters
    prepare_request_dict(request_dict, endpoint_url="http://127.0.0.1:4566")
    prepared = create_request_object(request_dict).prepare()
    url = prepared.url.split("://", 1)[1]
    path_and_query = "/" + url.split("/", 1)[1] if "/" in url else "/"
    path, _, query = path_and_query.partition("?")
    headers = [(k.lower().encode(), str(v).encode("latin-1", "replace")) for k, v in prepared.headers.items()]
    headers.append((b"authorization", SIGNED.format(svc=model.signing_name).encode()))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read() if hasattr(body, "read") else b""
    method = prepared.method
    cut = int(len(body) * position)
    if damage == "truncate":
        body = body[:cut]
    elif damage == "flip":
        body = body[:cut] + junk + body[cut + len(junk):]
    elif damage == "drop-header" and len(headers) > 1:
        headers.pop(int(position * (len(headers) - 1)))
    elif damage == "garble-header" and headers:
        index = int(position * (len(headers) - 1))
        headers[index] = (headers[index][0], junk)
    elif damage == "bad-signature":
        headers[-1] = (b"authorization", b"AWS4-HMAC-SHA256 Credential=" + junk)
    elif damage == "swap-method":
        method = {"GET": "POST", "POST": "PUT", "PUT": "DELETE", "DELETE": "GET"}.get(method, "GET")
    _check(*harness.request(method, path, query.encode(), headers, body))
