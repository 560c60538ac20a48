"""S3 rules without a server: byte ranges, names, ETags, the listing walk, POST policies."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.s3.listing import successor, walk
from freehold.services.s3.models import ObjectVersion, check_bucket_name, multipart_etag, parse_range
from freehold.services.s3.post_upload import check_policy, parse_form


def test_ranges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-4", 10).length == 5  # type: ignore[union-attr]
    assert (r := parse_range("bytes=-3", 10)) is not None and (r.start, r.end) == (7, 9)
    assert (r := parse_range("bytes=8-100", 10)) is not None and (r.start, r.end) == (8, 9)
    assert parse_range("bytes=5-2", 10) is None  # invalid: ignored, the whole object
    assert parse_range("pages=1-2", 10) is None
    with pytest.raises(ServiceError) as excinfo:
        parse_range("bytes=10-", 10)
    assert (excinfo.value.code, excinfo.value.status) == ("InvalidRange", 416)


def test_bucket_names() -> None:
    check_bucket_name("my-bucket.logs")
    for bad in ("ab", "a" * 64, "Caps", "a..b", "a.-b", "1.2.3.4", "xn--abc", "name-s3alias", "a_b"):
        with pytest.raises(ServiceError):
            check_bucket_name(bad)


def test_multipart_etag() -> None:
    md5s = [hashlib.md5(p).hexdigest() for p in (b"a", b"b")]
    joined = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert multipart_etag(md5s) == f'"{joined}-2"'


def _obj(key: str) -> ObjectVersion:
    return ObjectVersion("b", key, "null", 1, True, False, 0, '""', 0.0)


def test_walk_groups_common_prefixes_and_pages() -> None:
    keys = sorted(["a/1", "a/2", "b", "c/x/1", "c/y", "d"])

    def fetch(start: str, inclusive: bool, seq: int | None, end: str | None, limit: int) -> list[ObjectVersion]:
        chosen = [k for k in keys if (k >= start if inclusive else k > start) and (end is None or k < end)]
        return [_obj(k) for k in chosen[:limit]]

    page = walk(fetch, "", "/", "", False, None, 10)
    assert page.prefixes == ["a/", "c/"] and [o.key for o in page.entries] == ["b", "d"]
    first = walk(fetch, "", "/", "", False, None, 2)
    assert first.truncated and first.prefixes == ["a/"] and first.last == "b"
    rest = walk(fetch, "", "/", first.last, False, None, 2)
    assert rest.prefixes == ["c/"] and [o.key for o in rest.entries] == ["d"] and not rest.truncated
    after_prefix = walk(fetch, "", "/", "a/", False, None, 10)
    assert after_prefix.prefixes == ["c/"]  # resuming after a common prefix skips its keys
    assert successor("a/") == "a0"


def test_post_policy_conditions() -> None:
    def policy(conditions: list[object], expires: datetime) -> str:
        document = {"expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
        return base64.b64encode(json.dumps(document).encode()).decode()

    later = datetime.now(UTC) + timedelta(minutes=5)
    fields = {"key": "u/a.txt", "policy": policy([{"bucket": "b"}, ["starts-with", "$key", "u/"]], later)}
    check_policy(fields, "b", 3, datetime.now(UTC))
    with pytest.raises(ServiceError) as excinfo:
        check_policy(fields, "other", 3, datetime.now(UTC))
    assert excinfo.value.code == "AccessDenied"
    with pytest.raises(ServiceError) as excinfo:
        check_policy({**fields, "acl": "public-read"}, "b", 3, datetime.now(UTC))
    assert "Extra input fields: acl" in excinfo.value.message
    with pytest.raises(ServiceError) as excinfo:
        check_policy(fields, "b", 3, later + timedelta(seconds=1))
    assert excinfo.value.message == "Invalid according to Policy: Policy expired."


def test_parse_form() -> None:
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nk\r\n"
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n\x00\r\n\x01\r\n--XX--\r\n")
    fields, upload = parse_form(body, "multipart/form-data; boundary=XX")
    assert fields == {"key": "k"}
    assert upload is not None and upload.data == b"\x00\r\n\x01" and upload.filename == "f.bin"


def test_object_body_reads_sync_and_async() -> None:
    import asyncio

    from freehold.services.s3.core import ObjectBody

    chunks = [b"ab", b"cd", b"ef", b"gh", b"ij", b"k"]
    body = ObjectBody(iter(chunks))
    assert body.read(3) == b"abc" and body.read(4) == b"defg" and body.read() == b"hijk"

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in ObjectBody(iter(chunks))])

    assert asyncio.run(collect()) == b"abcdefghijk"
