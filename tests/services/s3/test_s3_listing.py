"""ListObjects v1 and v2 through boto3: prefixes, delimiters, common prefixes, start-after,
continuation tokens and markers, max-keys, encoding-type=url, code-point order."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of

KEYS = ["a.txt", "photos/2024/jan/1.jpg", "photos/2024/jan/2.jpg", "photos/2024/feb/1.jpg", "photos/2025/x.jpg",
        "photos/cover.png", "videos/v.mp4", "z", "Zebra", "\u00e9t\u00e9", "space key", "plus+key"]


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_keys_come_in_code_point_order(s3: Any, filled: str) -> None:
    listed = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in listed["Contents"]] == sorted(KEYS)
    assert listed["KeyCount"] == len(KEYS) and listed["IsTruncated"] is False
    first = listed["Contents"][0]
    assert set(first) >= {"Key", "LastModified", "ETag", "Size", "StorageClass"}
    assert "Owner" not in first
    assert "Owner" in s3.list_objects_v2(Bucket=filled, FetchOwner=True)["Contents"][0]


def test_delimiter_and_prefix(s3: Any, filled: str) -> None:
    top = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["photos/", "videos/"]
    assert [o["Key"] for o in top["Contents"]] == sorted(k for k in KEYS if "/" not in k)
    assert top["KeyCount"] == len(top["Contents"]) + 2
    inner = s3.list_objects_v2(Bucket=filled, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    assert [o["Key"] for o in inner["Contents"]] == ["photos/cover.png"]
    deep = s3.list_objects_v2(Bucket=filled, Prefix="photos/2024/", Delimiter="/")
    assert [p["Prefix"] for p in deep["CommonPrefixes"]] == ["photos/2024/feb/", "photos/2024/jan/"]
    assert "Contents" not in deep
    assert s3.list_objects_v2(Bucket=filled, Prefix="nothing/")["KeyCount"] == 0
    # A delimiter other than '/'.
    dotted = s3.list_objects_v2(Bucket=filled, Delimiter=".")
    assert "a." in [p["Prefix"] for p in dotted["CommonPrefixes"]]


def test_pagination_v2(s3: Any, filled: str) -> None:
    seen: list[str] = []
    prefixes: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"Bucket": filled, "MaxKeys": 2, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        assert page["KeyCount"] <= 2
        seen += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert prefixes == ["photos/", "videos/"]
    assert seen == sorted(k for k in KEYS if "/" not in k)
    assert pages == (len(seen) + len(prefixes) + 1) // 2
    after = s3.list_objects_v2(Bucket=filled, StartAfter="photos/2025/x.jpg")
    assert [o["Key"] for o in after["Contents"]] == [k for k in sorted(KEYS) if k > "photos/2025/x.jpg"]
    assert after["StartAfter"] == "photos/2025/x.jpg"
    all_keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=filled, PaginationConfig={"PageSize": 3}) for o in page.get("Contents", [])]
    assert all_keys == sorted(KEYS)
    assert s3.list_objects_v2(Bucket=filled, MaxKeys=0)["KeyCount"] == 0
    with pytest.raises(ClientError) as excinfo:
        s3.list_objects_v2(Bucket=filled, ContinuationToken="garbage")
    assert error_of(excinfo) == ("InvalidArgument", "The continuation token provided is incorrect", 400)


def test_list_objects_v1_markers(s3: Any, filled: str) -> None:
    first = s3.list_objects(Bucket=filled, MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == sorted(KEYS)[:3]
    assert first["IsTruncated"] is True and "NextMarker" not in first
    assert "Owner" in first["Contents"][0]
    second = s3.list_objects(Bucket=filled, Marker=first["Contents"][-1]["Key"], MaxKeys=3)
    assert [o["Key"] for o in second["Contents"]] == sorted(KEYS)[3:6]
    grouped = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert grouped["IsTruncated"] is True and grouped["NextMarker"]
    everything = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
        Bucket=filled, PaginationConfig={"PageSize": 4}) for o in page.get("Contents", [])]
    assert everything == sorted(KEYS)


def test_encoding_type_url(s3: Any, filled: str) -> None:
    # boto3 asks for encoding-type=url itself and decodes the answer: keys come back intact.
    listed = s3.list_objects_v2(Bucket=filled, Prefix="space")
    assert [o["Key"] for o in listed["Contents"]] == ["space key"]
    raw = s3.list_objects(Bucket=filled, Prefix="plus")
    assert [o["Key"] for o in raw["Contents"]] == ["plus+key"]
    assert s3.list_objects_v2(Bucket=filled, Prefix="\u00e9")["Contents"][0]["Key"] == "\u00e9t\u00e9"


def test_list_objects_with_unencoded_answer(freehold: Any, filled: str) -> None:
    """Without encoding-type the names come back as they are (XML-escaped)."""
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from support.server import TEST_KEY_ID, TEST_SECRET

    request = AWSRequest(method="GET", url=f"{freehold.endpoint_url}/{filled}?list-type=2&prefix=plus")
    S3SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "s3", "us-east-1").add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers.items()))) as r:
        text = r.read().decode()
    assert "<Key>plus+key</Key>" in text and "<EncodingType>" not in text
