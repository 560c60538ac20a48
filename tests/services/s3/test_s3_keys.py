"""Object keys whose percent-encoded bytes are not UTF-8: refused with S3's 400 InvalidURI
(never decoded lossily, which would make two keys one), in paths and in x-amz-copy-source."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from typing import Any

import pytest

INVALID_URI = (400, b"<Code>InvalidURI</Code>", b"<Message>Couldn't parse the specified URI.</Message>")


def raw(server: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A request with the path sent byte for byte as given (botocore cannot send such keys)."""
    date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sent = {
        # Default mode does not check header signatures: this names the default account's root.
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{date[:8]}/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "x-amz-date": date,
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "Content-Length": str(len(body)),
        **(headers or {}),
    }
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _is_invalid_uri(answer: tuple[int, bytes]) -> bool:
    status, body = answer
    return status == INVALID_URI[0] and INVALID_URI[1] in body and INVALID_URI[2] in body


@pytest.mark.parametrize("key", ["a%FF", "a%C3", "a%C3%28", "a%ED%A0%80", "dir/%80x", "a%F0%9F%98"])
def test_keys_that_are_not_utf8_are_refused(freehold: Any, s3: Any, bucket: str, key: str) -> None:
    assert _is_invalid_uri(raw(freehold, "PUT", f"/{bucket}/{key}", b"data"))
    assert _is_invalid_uri(raw(freehold, "GET", f"/{bucket}/{key}"))
    assert _is_invalid_uri(raw(freehold, "DELETE", f"/{bucket}/{key}"))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_two_invalid_keys_never_merge_with_the_replacement_character(freehold: Any, s3: Any, bucket: str) -> None:
    """U+FFFD itself (%EF%BF%BD) is a valid key; %FF and %FE are refused, not taken for it."""
    status, _ = raw(freehold, "PUT", f"/{bucket}/k%EF%BF%BD", b"replacement")
    assert status == 200
    assert _is_invalid_uri(raw(freehold, "PUT", f"/{bucket}/k%FF", b"ff"))
    assert _is_invalid_uri(raw(freehold, "GET", f"/{bucket}/k%FE"))
    assert s3.get_object(Bucket=bucket, Key="k\ufffd")["Body"].read() == b"replacement"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k\ufffd"]


def test_valid_utf8_keys_still_work(freehold: Any, s3: Any, bucket: str) -> None:
    status, _ = raw(freehold, "PUT", f"/{bucket}/caf%C3%A9/%F0%9F%98%80", b"ok")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="café/😀")["Body"].read() == b"ok"


def test_copy_source_that_is_not_utf8_is_refused(freehold: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    answer = raw(freehold, "PUT", f"/{bucket}/dest", headers={"x-amz-copy-source": f"/{bucket}/src%FF"})
    assert _is_invalid_uri(answer)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]
