"""S3 rules without a server: byte ranges, names, ETags, the listing walk, POST policies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.s3.listing import successor, walk
from freehold.services.s3.models import ObjectVersion, check_bucket_name, multipart_etag, parse_range
from freehold.services.s3.post_upload import check_policy, read_form, sized


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
    check_policy(fields, "b", datetime.now(UTC))
    with pytest.raises(ServiceError) as excinfo:
        check_policy(fields, "other", datetime.now(UTC))
    assert excinfo.value.code == "AccessDenied"
    with pytest.raises(ServiceError) as excinfo:
        check_policy({**fields, "acl": "public-read"}, "b", datetime.now(UTC))
    assert "Extra input fields: acl" in excinfo.value.message
    with pytest.raises(ServiceError) as excinfo:
        check_policy(fields, "b", later + timedelta(seconds=1))
    assert excinfo.value.message == "Invalid according to Policy: Policy expired."


def _form(body: bytes, piece: int, boundary: str = "XX") -> tuple[dict[str, str], bytes | None, str | None]:
    """read_form over `body` arriving in pieces of `piece` bytes: fields, file content, filename."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), piece):
            yield body[start : start + piece]

    async def run() -> tuple[dict[str, str], bytes | None, str | None]:
        fields, upload = await read_form(chunks(), f"multipart/form-data; boundary={boundary}")
        if upload is None:
            return fields, None, None
        return fields, b"".join([c async for c in upload.body]), upload.filename

    return asyncio.run(run())


FORM_BODY = (b"--XX\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nk\r\n"
             b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nsecond\r\n"
             b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
             b"Content-Type: application/octet-stream\r\n\r\n\x00\r\n\x01\r\n--X\r\n--XX\r\n"
             b"Content-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--XX--\r\n")


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64, 100000])
def test_read_form_streams_the_file_whatever_the_pieces(piece: int) -> None:
    fields, data, filename = _form(FORM_BODY, piece)
    assert fields == {"key": "k"}  # first value wins; fields after the file are ignored
    assert data == b"\x00\r\n\x01\r\n--X" and filename == "f.bin"


def test_read_form_utf8_file_name() -> None:
    body = "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\u00e9t\u00e9.txt\"\r\n\r\nx\r\n--XX--"
    assert _form(body.encode("utf-8"), 3) == ({}, b"x", "\u00e9t\u00e9.txt")


def test_read_form_without_a_file() -> None:
    body = b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XX--\r\n"
    assert _form(body, 4) == ({"key": "k"}, None, None)


@pytest.mark.parametrize("body", [
    b"no delimiter at all",
    b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nnever ends",
    b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\ncut short",
    b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\xff\r\n--XX--",  # not UTF-8
    # a file name that is not UTF-8 (it becomes the key's ${filename}: never decoded lossily)
    b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\xe9\xff.txt\"\r\n\r\nx\r\n--XX--",
])
def test_read_form_malformed(body: bytes) -> None:
    with pytest.raises(ServiceError) as excinfo:
        _form(body, 3)
    assert excinfo.value.code == "MalformedPOSTRequest"


def test_read_form_bounds_the_fields_before_the_file() -> None:
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"x-ignore-pad\"\r\n\r\n" + b"p" * 30000
            + b"\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx\r\n--XX--")
    with pytest.raises(ServiceError) as excinfo:
        _form(body, 1000)
    assert excinfo.value.code == "MaxPostPreDataLengthExceeded"
    assert excinfo.value.message == "Your POST request fields preceeding the upload file was too large."


def test_read_form_file_memory_is_bounded() -> None:
    """A large file part is handed on in pieces, never gathered."""
    head = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n"
    piece = b"z" * 65536
    total = 0
    largest = 0

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        for _ in range(256):  # 16 MiB
            yield piece
        yield b"\r\n--XX--\r\n"

    async def run() -> None:
        nonlocal total, largest
        _, upload = await read_form(chunks(), "multipart/form-data; boundary=XX")
        assert upload is not None
        async for chunk in upload.body:
            total += len(chunk)
            largest = max(largest, len(chunk))

    asyncio.run(run())
    assert total == 256 * 65536 and largest <= 2 * 65536


@pytest.mark.parametrize("sizes,expected", [
    ([10, 10], None), ([1], "EntityTooSmall"), ([60, 60], "EntityTooLarge"),
])
def test_sized_checks_the_content_length_range(sizes: list[int], expected: str | None) -> None:
    seen: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for size in sizes:
            yield b"s" * size

    async def run() -> None:
        async for chunk in sized(body(), (5, 100)):
            seen.append(len(chunk))

    if expected is None:
        asyncio.run(run())
        assert seen == sizes
    else:
        with pytest.raises(ServiceError) as excinfo:
            asyncio.run(run())
        assert excinfo.value.code == expected
        if expected == "EntityTooLarge":
            assert seen == [60]  # refused as soon as the range was passed


def test_object_body_reads_sync_and_async() -> None:
    import asyncio

    from freehold.services.s3.core import ObjectBody

    chunks = [b"ab", b"cd", b"ef", b"gh", b"ij", b"k"]
    body = ObjectBody(iter(chunks))
    assert body.read(3) == b"abc" and body.read(4) == b"defg" and body.read() == b"hijk"

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in ObjectBody(iter(chunks))])

    assert asyncio.run(collect()) == b"abcdefghijk"


def test_post_policy_returns_the_content_length_range() -> None:
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"expiration": later, "conditions": [{"key": "k"}, ["content-length-range", 1, 10]]}
    fields = {"key": "k", "policy": base64.b64encode(json.dumps(document).encode()).decode()}
    assert check_policy(fields, "b", datetime.now(UTC)) == (1, 10)
    document["conditions"] = [{"key": "k"}, ["content-length-range", "one", 10]]
    fields["policy"] = base64.b64encode(json.dumps(document).encode()).decode()
    with pytest.raises(ServiceError) as excinfo:
        check_policy(fields, "b", datetime.now(UTC))
    assert excinfo.value.code == "InvalidPolicyDocument"
