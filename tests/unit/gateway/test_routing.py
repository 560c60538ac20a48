"""Routing every operation of the 23 services, as botocore itself sends them.

For each operation a real boto3 client (fake endpoint, a before-send hook that captures the
prepared request) builds the request: signed, unsigned, and for S3 also virtual-host style and
presigned. `route` must name the operation's service, and rewrite S3 virtual hosts to the very
path botocore uses for path-style addressing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.model import Shape

from freehold.gateway import routing, sigv4
from freehold.gateway.context import SignatureInfo
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.specs import SERVICES, service_model

ENDPOINT = "http://localhost:4566"


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    raise Captured(request)


def to_http_request(prepared: Any) -> HttpRequest:
    """A botocore AWSPreparedRequest as freehold's gateway would receive it."""
    parts = urlsplit(prepared.url)
    headers = Headers()
    for name, value in prepared.headers.items():
        headers.add(name, value.decode() if isinstance(value, bytes) else str(value))
    if "host" not in headers:  # what the HTTP client adds, and what botocore signed
        headers.add("Host", parts.netloc)
    body = prepared.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, parts.path or "/", parts.query, headers, body or b"")


_SESSION = botocore.session.get_session()


def make_client(service: str, *, signed: bool = True, endpoint: str = ENDPOINT, **config: Any) -> Any:
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0},
            signature_version=None if signed else UNSIGNED,
            **config,
        ),
    )
    client.meta.events.register_first("before-send", _capture)
    return client


def sample_value(shape: Shape, service: str, name: str, depth: int = 0) -> Any:
    """A minimal value for a shape: every required member, plausible scalars."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        members = shape.members
        return {m: sample_value(members[m], service, m, depth + 1) for m in shape.required_members}
    if kind == "list":
        return [sample_value(shape.member, service, name, depth + 1)]
    if kind == "map":
        return {"k1": sample_value(shape.value, service, name, depth + 1)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        if name == "Bucket":
            return "my-bucket"
        if name.lower().endswith("arn"):
            signing = service_model(service).signing_name
            return f"arn:aws:{signing}:us-east-1:000000000000:thing/x1"
        if name == "QueueUrl":
            return f"{ENDPOINT}/000000000000/q1"
        return "x1"
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 1700000000
    if kind == "blob":
        return b"blob"
    return {}


def capture(client: Any, operation: str, service: str) -> HttpRequest:
    model = service_model(service).operation_model(operation)
    params = sample_value(model.input_shape, service, "") if model.input_shape is not None else {}
    method = getattr(client, _python_name(client, operation))
    try:
        method(**params)
    except Captured as captured:
        return to_http_request(captured.request)
    raise AssertionError(f"{service}.{operation} sent nothing")


def _python_name(client: Any, operation: str) -> str:
    for py_name, api_name in client.meta.method_to_api_mapping.items():
        if api_name == operation:
            return str(py_name)
    raise KeyError(operation)


def signature_of(request: HttpRequest) -> SignatureInfo | None:
    return sigv4.parse_signature(request)


@pytest.fixture(autouse=True, scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("routing-cache")
    routing.set_cache_dir(path)
    yield path
    routing.set_cache_dir(None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_signed_operation_routes_to_its_service(service: str) -> None:
    client = make_client(service)
    wrong = []
    for operation in service_model(service).operation_names:
        request = capture(client, operation, service)
        info = signature_of(request)
        # Operations modelled as unauthenticated (sts AssumeRoleWithWebIdentity, cognito-idp
        # InitiateAuth, ...) go unsigned even from a client that has credentials.
        unauthenticated = service_model(service).operation_model(operation).auth_type == "none"
        assert (info is None) == unauthenticated, f"{service}.{operation}"
        found = routing.route(request, info)
        if found is None or found.service != service:
            wrong.append((operation, found.service if found else None, info.service if info else None))
    assert wrong == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_unsigned_operation_routes_to_its_service(service: str) -> None:
    client = make_client(service, signed=False)
    wrong = []
    for operation in service_model(service).operation_names:
        request = capture(client, operation, service)
        assert request.headers.get("authorization") is None
        assert signature_of(request) is None
        found = routing.route(request, None)
        if found is None or found.service != service:
            wrong.append((operation, found.service if found else None, request.method, request.path))
    assert wrong == []


@pytest.mark.parametrize("signed", [True, False])
def test_s3_virtual_host_requests_become_the_path_style_request(signed: bool) -> None:
    virtual = make_client("s3", signed=signed, s3={"addressing_style": "virtual"})
    path_style = make_client("s3", signed=signed, s3={"addressing_style": "path"})
    checked = 0
    for operation in service_model("s3").operation_names:
        vreq = capture(virtual, operation, "s3")
        preq = capture(path_style, operation, "s3")
        found = routing.route(vreq, signature_of(vreq))
        assert found is not None and found.service == "s3", operation
        if vreq.host.startswith("my-bucket."):
            checked += 1
            assert found.request.path == preq.path, operation
            assert found.request.query_string == vreq.query_string
        else:
            assert found.request.path == vreq.path, operation
    assert checked > 80


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("my-bucket.s3.amazonaws.com", "/key", "/my-bucket/key"),
        ("my-bucket.s3.us-west-2.amazonaws.com", "/", "/my-bucket"),
        ("my.dotted.bucket.s3.amazonaws.com", "/a/b", "/my.dotted.bucket/a/b"),
        ("my-bucket.s3-website-us-east-1.amazonaws.com", "/index.html", "/my-bucket/index.html"),
        ("my-bucket.s3-website.eu-west-1.amazonaws.com", "/", "/my-bucket"),
        ("my-bucket.s3-us-west-2.amazonaws.com", "/k", "/my-bucket/k"),
        ("my-bucket.localhost:4566", "/k%20x", "/my-bucket/k%20x"),
        ("my-bucket.s3.localhost.localstack.cloud:4566", "//k", "/my-bucket//k"),
        ("s3.amazonaws.com", "/my-bucket/k", "/my-bucket/k"),
        ("s3.us-east-1.amazonaws.com", "/my-bucket/k", "/my-bucket/k"),
        ("localhost:4566", "/my-bucket/k", "/my-bucket/k"),
        ("127.0.0.1:4566", "/my-bucket/k", "/my-bucket/k"),
        ("s3-bucket-name.localhost:4566", "/k", "/s3-bucket-name/k"),
    ],
)
def test_s3_hosts(host: str, path: str, expected: str) -> None:
    request = HttpRequest("GET", path, "", Headers([("Host", host)]))
    found = routing.route(request, None)
    assert found is not None and found.service == "s3"
    assert found.request.path == expected
    assert request.path == path  # the received request stays as it was, for signatures


def test_service_names_under_localhost_are_not_buckets() -> None:
    form = (
        b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=a&RoleSessionName=s&WebIdentityToken=t"
    )
    request = HttpRequest(
        "POST",
        "/",
        "",
        Headers([("Host", "sts.localhost:4566"), ("Content-Type", "application/x-www-form-urlencoded")]),
        form,
    )
    found = routing.route(request, None)
    assert found is not None and found.service == "sts"


def test_presigned_urls_route_by_their_credential_scope() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        config=Config(signature_version="s3v4"),
    )
    for url in (
        s3.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "a b/c"}),
        s3.generate_presigned_url("put_object", Params={"Bucket": "my-bucket", "Key": "k"}),
        s3.generate_presigned_url("list_objects_v2", Params={"Bucket": "my-bucket"}),
    ):
        parts = urlsplit(url)
        request = HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))
        info = sigv4.parse_signature(request)
        assert info is not None and info.presigned and info.service == "s3"
        found = routing.route(request, info)
        assert found is not None and found.service == "s3"
    sts = boto3.client(
        "sts",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
    )
    parts = urlsplit(sts.generate_presigned_url("get_caller_identity"))
    request = HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))
    found = routing.route(request, sigv4.parse_signature(request))
    assert found is not None and found.service == "sts"


def test_sigv2_presigned_urls_and_browser_posts_go_to_s3() -> None:
    # boto3's default presigner for S3 in us-east-1 still emits Signature Version 2.
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
    )
    parts = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "account", "Key": "k"}))
    assert "AWSAccessKeyId=" in parts.query
    request = HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))
    found = routing.route(request, None)
    assert found is not None and found.service == "s3"
    post = HttpRequest(
        "POST",
        "/restapis",
        "",
        Headers([("Host", "localhost:4566"), ("Content-Type", "multipart/form-data; boundary=xyz")]),
        b"--xyz--",
    )
    found = routing.route(post, None)
    assert found is not None and found.service == "s3"


def test_query_actions_without_version_follow_the_quirk_table() -> None:
    for action, winner in routing.QUIRKS.action_winners.items():
        request = HttpRequest(
            "POST",
            "/",
            "",
            Headers([("Host", "localhost"), ("Content-Type", "application/x-www-form-urlencoded")]),
            f"Action={action}".encode(),
        )
        found = routing.route(request, None)
        assert found is not None and found.service == winner
    # With a Version the API is named exactly.
    request = HttpRequest(
        "GET", "/", "Action=TagResource&Version=2010-08-01", Headers([("Host", "localhost")])
    )
    found = routing.route(request, None)
    assert found is not None and found.service == "cloudwatch"
    # SQS's query protocol, still sent by older SDKs, to a queue URL.
    request = HttpRequest(
        "POST",
        "/000000000000/q1",
        "",
        Headers([("Host", "localhost"), ("Content-Type", "application/x-www-form-urlencoded")]),
        b"Action=SendMessage&Version=2012-11-05&MessageBody=hi",
    )
    found = routing.route(request, None)
    assert found is not None and found.service == "sqs"


def test_shared_signing_names_are_told_apart_by_request_shape() -> None:
    def info(service: str) -> SignatureInfo:
        return SignatureInfo(
            "AKID", "20240101", "us-east-1", service, ("host",), "0" * 64, "20240101T000000Z"
        )

    cases = [
        (HttpRequest("GET", "/v2/email/identities", "", Headers([("Host", "localhost")])), "ses", "sesv2"),
        (
            HttpRequest(
                "POST",
                "/",
                "",
                Headers([("Host", "localhost"), ("Content-Type", "application/x-www-form-urlencoded")]),
                b"Action=SendEmail&Version=2010-12-01",
            ),
            "ses",
            "ses",
        ),
        (HttpRequest("GET", "/v2/apis", "", Headers([("Host", "localhost")])), "apigateway", "apigatewayv2"),
        (HttpRequest("GET", "/restapis", "", Headers([("Host", "localhost")])), "apigateway", "apigateway"),
        (
            HttpRequest(
                "POST",
                "/",
                "",
                Headers([("Host", "localhost"), ("X-Amz-Target", "DynamoDBStreams_20120810.ListStreams")]),
            ),
            "dynamodb",
            "dynamodbstreams",
        ),
        (
            HttpRequest(
                "POST",
                "/",
                "",
                Headers([("Host", "localhost"), ("X-Amz-Target", "DynamoDB_20120810.ListTables")]),
            ),
            "dynamodb",
            "dynamodb",
        ),
        (HttpRequest("PUT", "/my-bucket/k", "", Headers([("Host", "localhost")])), "s3-object-lambda", "s3"),
    ]
    for request, signing, expected in cases:
        found = routing.route(request, info(signing))
        assert found is not None and found.service == expected, (request.path, signing)


def test_unknown_services_are_not_routed() -> None:
    signed = SignatureInfo("AKID", "20240101", "us-east-1", "ec2", ("host",), "0" * 64, "20240101T000000Z")
    request = HttpRequest("POST", "/", "", Headers([("Host", "localhost")]), b"Action=DescribeInstances")
    assert routing.route(request, signed) is None
    target = HttpRequest(
        "POST", "/", "", Headers([("Host", "localhost"), ("X-Amz-Target", "Kinesis_20131202.ListStreams")])
    )
    assert routing.route(target, None) is None


def test_cbor_rpc_requests_route_by_path() -> None:
    request = HttpRequest(
        "POST",
        "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        "",
        Headers([("Host", "localhost"), ("Smithy-Protocol", "rpc-v2-cbor")]),
        b"\xa0",
    )
    found = routing.route(request, None)
    assert found is not None and found.service == "cloudwatch"


def test_shipped_index_is_used_without_a_cache(tmp_path: Path, module_cache: Path) -> None:
    routing.set_cache_dir(tmp_path)
    try:
        routing.index()
        assert not routing.cache_file().exists()
    finally:
        routing.set_cache_dir(module_cache)


def test_index_is_cached_on_disk_and_loads_fast(
    tmp_path: Path, module_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a matching shipped index (another botocore), the index is built and cached.
    monkeypatch.setattr(routing, "shipped_index", lambda: None)
    routing.set_cache_dir(tmp_path)
    try:
        routing.index()
        cached = routing.cache_file()
        assert cached.parent == tmp_path and cached.is_file()
        assert json.loads(cached.read_text())["format"] == routing.INDEX_FORMAT
        routing.set_cache_dir(tmp_path)  # forget the in-memory index
        started = time.perf_counter()
        routing.index()
        elapsed = time.perf_counter() - started
        assert elapsed < 0.05, elapsed
        # A torn or foreign file is rebuilt, not trusted.
        cached.write_text("{not json")
        routing.set_cache_dir(tmp_path)
        assert routing.route(HttpRequest("GET", "/", "", Headers([("Host", "localhost")])), None) is not None
        assert json.loads(cached.read_text())["format"] == routing.INDEX_FORMAT
    finally:
        routing.set_cache_dir(module_cache)


def test_index_matches_a_fresh_build(
    tmp_path: Path, module_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "shipped_index", lambda: None)
    routing.set_cache_dir(tmp_path)
    try:
        routing.index()
        assert json.loads(routing.cache_file().read_text()) == routing.build_index()
    finally:
        routing.set_cache_dir(module_cache)


def test_shipped_index_is_current() -> None:
    """The index shipped in the package is exactly what the pinned models give."""
    from freehold.gateway.routing import SHIPPED_INDEX, render_shipped_index, shipped_index

    assert shipped_index() is not None, "regenerate: python -m freehold.gateway.routing > src/freehold/gateway/" + SHIPPED_INDEX
    path = Path(routing.__file__).with_name(SHIPPED_INDEX)
    assert path.read_text() == render_shipped_index()


def test_website_hosts() -> None:
    from freehold.gateway.routing import is_website_host

    def request(host: str) -> HttpRequest:
        return HttpRequest("GET", "/", headers=Headers({"host": host}))

    assert is_website_host(request("site.s3-website-us-east-1.amazonaws.com"))
    assert is_website_host(request("site.s3-website.eu-west-1.localhost:4566"))
    assert not is_website_host(request("site.s3.localhost:4566"))
    assert not is_website_host(request("s3-website-us-east-1.amazonaws.com"))


def test_routing_memos_keep_no_long_request_lines() -> None:
    """Unsigned requests each with a path of its own (up to ~64 KB a request line) would fill
    the memos with 4096 of them (hundreds of MB, measured live): long ones are answered
    but not kept; short ones still are."""
    routing._templates.clear()
    routing._s3_hosts.clear()
    long_name = "f" * (routing.MEMO_KEY_MAX + 1)
    for host, path in (("127.0.0.1:4566", f"/2015-03-31/functions/{long_name}/invocations"),
                       ("b" * 60 + "." + "c" * (routing.MEMO_KEY_MAX) + ".localhost", "/k")):
        request = HttpRequest("POST", path, "", Headers([("Host", host)]))
        routing.route(request, None)
    assert all(len(path) <= routing.MEMO_KEY_MAX for _, path in routing._templates)
    assert all(len(host) <= routing.MEMO_KEY_MAX for host in routing._s3_hosts)
    request = HttpRequest("POST", "/2015-03-31/functions/short/invocations", "", Headers([("Host", "127.0.0.1")]))
    found = routing.route(request, None)
    assert found is not None and found.service == "lambda"
    assert ("POST", "/2015-03-31/functions/short/invocations") in routing._templates
    long_request = HttpRequest("POST", f"/2015-03-31/functions/{long_name}/invocations", "",
                               Headers([("Host", "127.0.0.1")]))
    found = routing.route(long_request, None)
    assert found is not None and found.service == "lambda"  # the same answer, not kept
