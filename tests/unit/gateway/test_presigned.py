"""SigV2 presigned URLs (botocore's HmacV1QueryAuth is the oracle) and the dev-secret rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from freehold.gateway.presigned import dev_secrets, parse_sigv2_query, verify_sigv2
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest


def presign(url: str, secret: str, method: str = "GET", headers: dict[str, str] | None = None,
            expires: int = 300) -> HttpRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {})
    host = urlsplit(url).netloc
    if ".s3." in host:  # virtual-host style: boto3 signs the path with the bucket (auth_path)
        request.auth_path = "/" + host.split(".s3.")[0] + urlsplit(url).path
    HmacV1QueryAuth(Credentials("AKIDEXAMPLE", secret), expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    host = parts.netloc
    return HttpRequest(method, parts.path, parts.query, Headers({"host": host, **(headers or {})}))


def test_valid_urls_verify() -> None:
    now = datetime.now(UTC)
    for url in ("http://localhost:4566/bucket/key%20with%20space.txt",
                "http://localhost:4566/bucket/k?versionId=abc&response-content-type=text/plain",
                "http://bucket.s3.localhost:4566/nested/key"):
        request = presign(url, "sekret")
        query = parse_sigv2_query(request)
        assert query is not None and query.access_key_id == "AKIDEXAMPLE"
        verify_sigv2(request, query, ("wrong", "sekret"), now)


def test_signed_headers_must_match() -> None:
    request = presign("http://localhost/b/k", "s", "PUT", {"Content-Type": "image/png"})
    query = parse_sigv2_query(request)
    assert query is not None
    verify_sigv2(request, query, ("s",), datetime.now(UTC))
    request.headers.set("content-type", "text/html")
    with pytest.raises(ServiceError) as excinfo:
        verify_sigv2(request, query, ("s",), datetime.now(UTC))
    assert (excinfo.value.code, excinfo.value.status) == ("SignatureDoesNotMatch", 403)


def test_tampered_and_expired() -> None:
    request = presign("http://localhost/b/k", "s", expires=60)
    query = parse_sigv2_query(request)
    assert query is not None
    tampered = HttpRequest("GET", "/b/other", request.query_string, request.headers)
    with pytest.raises(ServiceError) as excinfo:
        verify_sigv2(tampered, query, ("s",), datetime.now(UTC))
    assert excinfo.value.code == "SignatureDoesNotMatch"
    with pytest.raises(ServiceError) as excinfo:
        verify_sigv2(request, query, ("s",), datetime.now(UTC) + timedelta(minutes=2))
    assert (excinfo.value.code, excinfo.value.message) == ("AccessDenied", "Request has expired")


def test_not_presigned_and_incomplete() -> None:
    assert parse_sigv2_query(HttpRequest("GET", "/b/k", "x=1")) is None
    with pytest.raises(ServiceError):
        parse_sigv2_query(HttpRequest("GET", "/b/k", "AWSAccessKeyId=a&Signature=b"))


def test_dev_secrets() -> None:
    assert dev_secrets("test") == ("test",)
    assert dev_secrets("minioadmin") == ("test", "minioadmin")
