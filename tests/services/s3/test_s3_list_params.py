"""List parameters (prefix, delimiter, marker, start-after, continuation-token, key-marker,
upload-id-marker) whose percent-decoding is not UTF-8: refused with the 400 InvalidURI S3 gives
such keys, never decoded lossily into U+FFFD (which would list under another prefix or marker).

botocore only sends UTF-8, so a `before-send` hook puts the raw percent-encoded bytes on the wire
in place of a placeholder value (the default mode does not check signatures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of

PLACEHOLDER = "PLACEHOLDERVALUE"
INVALID_URI = ("InvalidURI", "Couldn't parse the specified URI.", 400)


@pytest.fixture
def wire(s3: Any) -> Iterator[list[str]]:
    """The query values to put on the wire for PLACEHOLDER, one per request, in order."""
    values: list[str] = []

    def rewrite(request: Any, **_: Any) -> None:
        if PLACEHOLDER in request.url and values:
            request.url = request.url.replace(PLACEHOLDER, values.pop(0))

    s3.meta.events.register_first("before-send.s3", rewrite)
    try:
        yield values
    finally:
        s3.meta.events.unregister("before-send.s3", rewrite)


CASES = [
    ("list_objects", "Prefix"), ("list_objects", "Delimiter"), ("list_objects", "Marker"),
    ("list_objects_v2", "Prefix"), ("list_objects_v2", "Delimiter"), ("list_objects_v2", "StartAfter"),
    ("list_objects_v2", "ContinuationToken"),
    ("list_object_versions", "Prefix"), ("list_object_versions", "KeyMarker"),
    ("list_multipart_uploads", "Prefix"), ("list_multipart_uploads", "KeyMarker"),
    ("list_multipart_uploads", "UploadIdMarker"),
]


@pytest.mark.parametrize(("operation", "member"), CASES, ids=[f"{o}-{m}" for o, m in CASES])
@pytest.mark.parametrize("encoded", ["%FF", "a%C3", "%C3%28x", "%ED%A0%80", "dir%2F%80"])
def test_non_utf8_list_parameter_is_invalid_uri(s3: Any, bucket: str, wire: list[str], operation: str,
                                                member: str, encoded: str) -> None:
    wire.append(encoded)
    with pytest.raises(ClientError) as caught:
        getattr(s3, operation)(Bucket=bucket, **{member: PLACEHOLDER})
    assert error_of(caught) == INVALID_URI
    assert not wire  # the hook did put the bytes on the wire


def test_prefix_ff_does_not_list_u_fffd_keys(s3: Any, bucket: str, wire: list[str]) -> None:
    """U+FFFD itself (%EF%BF%BD) is a valid prefix; %FF and %FE are refused, not taken for it."""
    s3.put_object(Bucket=bucket, Key="\ufffd-one", Body=b"1")
    s3.put_object(Bucket=bucket, Key="other", Body=b"2")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="\ufffd")
    assert [o["Key"] for o in listed["Contents"]] == ["\ufffd-one"]
    for encoded in ("%FF", "%FE"):
        wire.append(encoded)
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket=bucket, Prefix=PLACEHOLDER)
        assert error_of(caught) == INVALID_URI
    wire.append("%EF%BF%BD")  # the same prefix, spelled by hand: still listed
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix=PLACEHOLDER)["Contents"]] == ["\ufffd-one"]


def test_utf8_and_plus_in_list_parameters_still_work(s3: Any, bucket: str, wire: list[str]) -> None:
    for key in ("caf\u00e9/1", "caf\u00e9/2", "a b/1", "a+b/1"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    wire.append("caf%C3%A9%2F")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=PLACEHOLDER)["Contents"]] == [
        "caf\u00e9/1", "caf\u00e9/2"]
    wire.append("caf%C3%A9%2F1")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter=PLACEHOLDER)["Contents"]] == [
        "caf\u00e9/2"]
    # '+' in a query value is a space (as botocore never sends it, but browsers' forms do).
    wire.append("a+b")
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix=PLACEHOLDER)["Contents"]] == ["a b/1"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="a+b")["Contents"]] == ["a+b/1"]


def test_invalid_uri_comes_before_no_such_bucket(s3: Any, wire: list[str]) -> None:
    wire.append("%FF")
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket="no-such-bucket-for-list-params", Prefix=PLACEHOLDER)
    assert error_of(caught) == INVALID_URI
