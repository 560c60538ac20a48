"""SigV4 parsing and verification against botocore's own signers.

Requests are signed by real boto3 clients (SigV4Auth, S3SigV4Auth, the presigners) and by
botocore's signer classes directly; correct signatures must verify, and any tampering with
path, query, headers, body or key must fail with the service's own error.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_routing import ENDPOINT, capture, make_client, to_http_request

from freehold.gateway import routing, sigv4
from freehold.gateway.context import SignatureInfo
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.specs import SERVICES, service_model

SECRET = "secret"  # what make_client signs with


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    routing.set_cache_dir(tmp_path_factory.mktemp("routing-cache"))
    yield
    routing.set_cache_dir(None)


def signed_at(info: SignatureInfo) -> datetime:
    return datetime.strptime(info.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def parse(request: HttpRequest) -> SignatureInfo:
    info = sigv4.parse_signature(request)
    assert info is not None
    return info


def verify(
    request: HttpRequest, secret: str = SECRET, now: datetime | None = None, service: str | None = None
) -> None:
    info = parse(request)
    sigv4.verify_signature(request, info, secret, now or signed_at(info), service=service)


def rejects(
    request: HttpRequest,
    code: str,
    status: int,
    secret: str = SECRET,
    now: datetime | None = None,
    service: str | None = None,
) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        verify(request, secret, now, service)
    assert (raised.value.code, raised.value.status) == (code, status), raised.value.message
    return raised.value


def client_request(service: str, operation: str, **config: Any) -> HttpRequest:
    return capture(make_client(service, **config), operation, service)


def with_(request: HttpRequest, **changes: Any) -> HttpRequest:
    headers = Headers(request.headers.items())
    for name, value in changes.pop("headers", {}).items():
        headers.set(name, value)
    fields = {
        "method": request.method,
        "path": request.path,
        "query_string": request.query_string,
        "headers": headers,
        "body": request.body,
    }
    fields.update(changes)
    return HttpRequest(**fields)


MISMATCH = {
    "query": ("SignatureDoesNotMatch", 403),
    "json": ("InvalidSignatureException", 400),
    "rest": ("InvalidSignatureException", 403),
    "s3": ("SignatureDoesNotMatch", 403),
}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_verifies_and_a_wrong_key_does_not(service: str) -> None:
    client = make_client(service)
    for operation in service_model(service).operation_names:
        request = capture(client, operation, service)
        if request.headers.get("authorization") is None:
            continue  # modelled as unauthenticated
        found = routing.route(request, parse(request))
        assert found is not None
        verify(request, service=found.service)
        flavor = sigv4.error_flavor(request, parse(request).service, found.service)
        rejects(request, *MISMATCH[flavor], secret="wrong", service=found.service)


def test_error_flavors_follow_the_protocol_family() -> None:
    assert sigv4.error_flavor(client_request("sts", "GetCallerIdentity")) == "query"
    assert sigv4.error_flavor(client_request("dynamodb", "ListTables")) == "json"
    assert sigv4.error_flavor(client_request("lambda", "ListFunctions")) == "rest"
    assert sigv4.error_flavor(client_request("s3", "ListBuckets")) == "s3"
    assert sigv4.error_flavor(client_request("sesv2", "GetAccount"), "ses") == "rest"
    assert sigv4.error_flavor(client_request("ses", "GetSendQuota"), "ses") == "query"


@pytest.mark.parametrize(
    ("service", "operation", "tamper"),
    [
        ("sts", "GetCallerIdentity", {"body": b"Action=GetCallerIdentity&Version=2011-06-16"}),
        ("sts", "GetCallerIdentity", {"path": "/x"}),
        ("sts", "GetCallerIdentity", {"query_string": "a=b"}),
        ("sts", "GetCallerIdentity", {"headers": {"Content-Type": "text/plain"}}),
        ("sts", "GetCallerIdentity", {"headers": {"Host": "localhost:4567"}}),
        ("dynamodb", "ListTables", {"body": b'{"Limit": 2}'}),
        ("dynamodb", "ListTables", {"headers": {"X-Amz-Target": "DynamoDB_20120810.DeleteTable"}}),
        ("lambda", "ListFunctions", {"path": "/2015-03-31/functions/x"}),
        ("lambda", "ListFunctions", {"method": "POST"}),
        ("s3", "ListObjectsV2", {"query_string": "list-type=2&encoding-type=url&prefix=a"}),
        ("s3", "ListObjectsV2", {"path": "/other-bucket"}),
        ("s3", "ListObjectsV2", {"headers": {"X-Amz-Date": "20200101T000000Z"}}),
    ],
)
def test_tampering_fails(service: str, operation: str, tamper: dict[str, Any]) -> None:
    request = client_request(service, operation)
    verify(request)
    tampered = with_(request, **tamper)
    info = parse(request)
    flavor = sigv4.error_flavor(request, info.service, service)
    with pytest.raises(ServiceError) as raised:
        sigv4.verify_signature(tampered, info, SECRET, signed_at(info), service=service)
    assert (raised.value.code, raised.value.status) == MISMATCH[flavor]
    assert raised.value.message == sigv4.MISMATCH_MESSAGE


def test_s3_body_is_checked_against_x_amz_content_sha256() -> None:
    s3 = make_client("s3")
    request = capture_put(s3, b"hello")
    verify(request)
    error = rejects(with_(request, body=b"hellp"), "XAmzContentSHA256Mismatch", 400)
    assert error.fields["S3ComputedContentSHA256"] == hashlib.sha256(b"hellp").hexdigest()
    rejects(with_(request, headers={"x-amz-content-sha256": "nonsense"}), "InvalidArgument", 400)
    missing = with_(request)
    missing.headers.remove("x-amz-content-sha256")
    rejects(missing, "InvalidRequest", 400)


def capture_put(client: Any, body: bytes, key: str = "k") -> HttpRequest:
    from test_routing import Captured

    try:
        client.put_object(Bucket="my-bucket", Key=key, Body=body)
    except Captured as captured:
        return to_http_request(captured.request)
    raise AssertionError("nothing sent")


def test_s3_unsigned_and_streaming_payloads() -> None:
    # Over https botocore streams the body aws-chunked with a trailing checksum.
    streaming = capture_put(make_client("s3", endpoint="https://localhost:4566"), b"hello")
    assert streaming.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    verify(streaming)
    # UNSIGNED-PAYLOAD: the body is not covered by the signature, as on AWS.
    client = make_client(
        "s3",
        endpoint="https://localhost:4566",
        s3={"payload_signing_enabled": False},
        request_checksum_calculation="when_required",
    )
    received = capture_put(client, b"hello")
    assert received.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    verify(received)
    verify(with_(received, body=b"other"))


def test_non_s3_paths_are_normalized_and_double_encoded() -> None:
    request = AWSRequest(
        "GET",
        "http://localhost:4566/2015-03-31/functions/./a%3Ab/../my%20fn//config",
        headers={"Host": "localhost:4566"},
    )
    SigV4Auth(Credentials("AKID", SECRET), "lambda", "us-east-1").add_auth(request)
    received = to_http_request(request.prepare())
    assert received.path == "/2015-03-31/functions/./a%3Ab/../my%20fn//config"
    verify(received)
    rejects(with_(received, path="/2015-03-31/functions/my%20fn/config/x"), "InvalidSignatureException", 403)


def test_query_parameters_are_canonicalized_whatever_their_order() -> None:
    request = AWSRequest(
        "GET",
        "http://localhost:4566/",
        params={"b": "2 3", "a": "é/~", "Action": "ListUsers", "Version": "2010-05-08"},
        headers={"Host": "localhost:4566"},
    )
    SigV4Auth(Credentials("AKID", SECRET), "iam", "us-east-1").add_auth(request)
    received = to_http_request(request.prepare())
    verify(received)
    reordered = "&".join(reversed(received.query_string.split("&")))
    verify(with_(received, query_string=reordered))
    rejects(
        with_(received, query_string=received.query_string.replace("b=2", "b=4")),
        "SignatureDoesNotMatch",
        403,
    )


def test_date_header_may_replace_x_amz_date() -> None:
    request = AWSRequest(
        "POST",
        "http://localhost:4566/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    SigV4Auth(Credentials("AKID", SECRET), "sts", "us-east-1").add_auth(request)
    received = to_http_request(request.prepare())
    assert "x-amz-date" not in received.headers
    info = parse(received)
    assert info.amz_date[:8] == info.date
    verify(received)


def test_session_token_is_parsed() -> None:
    request = AWSRequest("GET", "http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4Auth(Credentials("ASIAKEY", SECRET, "tok"), "sts", "eu-west-1").add_auth(request)
    info = parse(to_http_request(request.prepare()))
    assert (info.access_key_id, info.region, info.service, info.session_token) == (
        "ASIAKEY",
        "eu-west-1",
        "sts",
        "tok",
    )
    assert "x-amz-security-token" in info.signed_headers
    verify(to_http_request(request.prepare()))


@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("sts", "GetCallerIdentity", "SignatureDoesNotMatch", 403),
        ("dynamodb", "ListTables", "InvalidSignatureException", 400),
        ("lambda", "ListFunctions", "InvalidSignatureException", 403),
        ("s3", "ListBuckets", "RequestTimeTooSkewed", 403),
    ],
)
def test_clock_skew_over_fifteen_minutes(service: str, operation: str, code: str, status: int) -> None:
    request = client_request(service, operation)
    at = signed_at(parse(request))
    verify(request, now=at + timedelta(minutes=14))
    verify(request, now=at - timedelta(minutes=14))
    late = rejects(request, code, status, now=at + timedelta(minutes=16))
    early = rejects(request, code, status, now=at - timedelta(minutes=16))
    if service != "s3":
        assert late.message.startswith(f"Signature expired: {parse(request).amz_date} is now earlier than ")
        assert late.message.endswith(" - 15 min.)")
        assert early.message.startswith(
            f"Signature not yet current: {parse(request).amz_date} is still later than"
        )


def presigned(url: str) -> HttpRequest:
    parts = urlsplit(url)
    return HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))


def s3_presigner(token: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(signature_version="s3v4"),
    )


def test_s3_presigned_urls() -> None:
    url = s3_presigner("tok").generate_presigned_url(
        "get_object", Params={"Bucket": "my-bucket", "Key": "dir/a b+c~é.txt"}, ExpiresIn=600
    )
    request = presigned(url)
    info = parse(request)
    assert info.presigned and info.expires == 600 and info.session_token == "tok"
    at = signed_at(info)
    verify(request, now=at + timedelta(seconds=599))
    error = rejects(request, "AccessDenied", 403, now=at + timedelta(seconds=601))
    assert error.message == "Request has expired"
    rejects(with_(request, path=request.path.replace("dir", "dyr")), "SignatureDoesNotMatch", 403)
    rejects(
        with_(request, query_string=request.query_string.replace("X-Amz-Expires=600", "X-Amz-Expires=700")),
        "SignatureDoesNotMatch",
        403,
    )
    rejects(request, "SignatureDoesNotMatch", 403, secret="wrong")


def test_presigned_put_and_non_s3_presigned() -> None:
    put = presigned(s3_presigner().generate_presigned_url("put_object", Params={"Bucket": "b1x", "Key": "k"}))
    verify(with_(put, method="PUT", body=b"any body at all"))
    sts = boto3.client(
        "sts",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key=SECRET,
    )
    # botocore signs with the operation's method (POST) unless told otherwise.
    as_post = with_(presigned(sts.generate_presigned_url("get_caller_identity")), method="POST")
    verify(as_post)
    rejects(with_(as_post, method="GET"), "SignatureDoesNotMatch", 403)
    request = presigned(sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET"))
    at = signed_at(parse(request))
    verify(request)
    rejects(request, "SignatureDoesNotMatch", 403, now=at + timedelta(seconds=61))
    rejects(request, "SignatureDoesNotMatch", 403, secret="wrong")


MALFORMED_HEADERS = [
    (
        "sts",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, SignedHeaders=host",
        "IncompleteSignature",
        400,
        "Authorization header requires 'Signature' parameter. Authorization=",
    ),
    (
        "sts",
        "Bearer xyz",
        "IncompleteSignature",
        400,
        "Authorization header requires 'Credential' parameter.",
    ),
    (
        "sts",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts, SignedHeaders=host, Signature=ab",
        "IncompleteSignature",
        400,
        "Credential must have exactly 5 slash-delimited elements",
    ),
    (
        "sts",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=ab",
        "SignatureDoesNotMatch",
        403,
        "Credential should be scoped with a valid terminator",
    ),
    (
        "sts",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, SignedHeaders, Signature=ab",
        "IncompleteSignature",
        400,
        "Invalid key=value pair (missing equal-sign) in Authorization header",
    ),
    (
        "dynamodb",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request",
        "IncompleteSignatureException",
        400,
        "Authorization header requires 'Signature' parameter.",
    ),
    (
        "lambda",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request",
        "IncompleteSignatureException",
        403,
        "Authorization header requires 'SignedHeaders' parameter.",
    ),
    (
        "s3",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request",
        "AuthorizationHeaderMalformed",
        400,
        "The authorization header is malformed; the authorization header",
    ),
    (
        "s3",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/s3/aws4_request, SignedHeaders=host, Signature=ab",
        "AuthorizationHeaderMalformed",
        400,
        "The authorization header is malformed; the Credential is mal-formed",
    ),
    (
        "s3",
        "AWS AKID:c2lnbmF0dXJl",
        "InvalidRequest",
        400,
        "The authorization mechanism you have provided is not",
    ),
    ("s3", "Basic dXNlcjpwYXNz", "InvalidArgument", 400, "Unsupported Authorization Type"),
]


@pytest.mark.parametrize(("service", "authorization", "code", "status", "message"), MALFORMED_HEADERS)
def test_malformed_authorization_headers(
    service: str, authorization: str, code: str, status: int, message: str
) -> None:
    request = client_request(
        service,
        {
            "sts": "GetCallerIdentity",
            "dynamodb": "ListTables",
            "lambda": "ListFunctions",
            "s3": "ListBuckets",
        }[service],
    )
    request.headers.set("Authorization", authorization)
    with pytest.raises(ServiceError) as raised:
        sigv4.parse_signature(request)
    assert (raised.value.code, raised.value.status) == (code, status)
    assert message in raised.value.message


def test_missing_date() -> None:
    sts = client_request("sts", "GetCallerIdentity")
    sts.headers.remove("x-amz-date")
    with pytest.raises(ServiceError) as raised:
        sigv4.parse_signature(sts)
    assert raised.value.code == "IncompleteSignature"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in raised.value.message
    s3 = client_request("s3", "ListBuckets")
    s3.headers.remove("x-amz-date")
    with pytest.raises(ServiceError) as raised:
        sigv4.parse_signature(s3)
    assert (raised.value.code, raised.value.status) == ("AccessDenied", 403)


def test_credential_date_must_match_request_date() -> None:
    request = client_request("sts", "GetCallerIdentity")
    info = parse(request)
    other_day = SignatureInfo(**{**info.__dict__, "date": "19990101"})
    with pytest.raises(ServiceError) as raised:
        sigv4.verify_signature(request, other_day, SECRET, signed_at(info))
    assert raised.value.code == "SignatureDoesNotMatch"
    assert raised.value.message.startswith("Date in Credential scope does not match YYYYMMDD")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("X-Amz-Expires=600", "X-Amz-Expires=604801"), "X-Amz-Expires must be less than a week"),
        (("X-Amz-Expires=600", "X-Amz-Expires=ten"), "X-Amz-Expires should be a number"),
        (("X-Amz-Expires=600", "X-Amz-Expires=-1"), "X-Amz-Expires must be non-negative"),
        (("X-Amz-Expires=600&", ""), "Query-string authentication version 4 requires the X-Amz-Algorithm"),
        (
            ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
            "X-Amz-Algorithm only supports",
        ),
        (("%2Fus-east-1%2F", "%2F"), "Error parsing the X-Amz-Credential parameter"),
    ],
)
def test_malformed_s3_presigned_urls(change: tuple[str, str], message: str) -> None:
    url = s3_presigner().generate_presigned_url(
        "get_object", Params={"Bucket": "my-bucket", "Key": "k"}, ExpiresIn=600
    )
    request = presigned(url)
    assert change[0] in request.query_string
    broken = with_(request, query_string=request.query_string.replace(*change))
    with pytest.raises(ServiceError) as raised:
        sigv4.parse_signature(broken)
    assert (raised.value.code, raised.value.status) == ("AuthorizationQueryParametersError", 400)
    assert raised.value.message.startswith(message)


def test_s3_rejects_two_auth_mechanisms() -> None:
    url = s3_presigner().generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "k"})
    request = presigned(url)
    request.headers.set("Authorization", client_request("s3", "ListBuckets").headers["authorization"])
    with pytest.raises(ServiceError) as raised:
        sigv4.parse_signature(request)
    assert raised.value.code == "InvalidArgument"


def test_unsigned_requests_have_no_signature() -> None:
    assert (
        sigv4.parse_signature(
            HttpRequest("GET", "/my-bucket/k", "versionId=1", Headers([("Host", "localhost")]))
        )
        is None
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
    ),
    prefix=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
def test_any_s3_key_and_query_value_verifies(key: str, prefix: str) -> None:
    client = make_client("s3")
    from test_routing import Captured

    for call in (
        lambda: client.put_object(Bucket="my-bucket", Key=key, Body=key.encode()),
        lambda: client.list_objects_v2(Bucket="my-bucket", Prefix=prefix, StartAfter=key),
    ):
        try:
            call()
        except Captured as captured:
            request = to_http_request(captured.request)
        verify(request)
        rejects(request, "SignatureDoesNotMatch", 403, secret="wrong")


@settings(max_examples=30, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_rest_path_parameter_verifies(value: str) -> None:
    client = make_client("lambda")
    from test_routing import Captured

    try:
        client.get_function(FunctionName=value or "f")
    except Captured as captured:
        request = to_http_request(captured.request)
    verify(request)
