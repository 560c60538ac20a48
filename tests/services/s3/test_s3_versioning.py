"""Versioning through boto3: version ids, delete markers, GET/HEAD/DELETE by version,
ListObjectVersions with markers, and suspended versioning's 'null' version."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of


@pytest.fixture
def versioned(s3: Any, bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_versions_and_delete_markers(s3: Any, versioned: str) -> None:
    v1 = s3.put_object(Bucket=versioned, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=versioned, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    assert s3.get_object(Bucket=versioned, Key="doc")["Body"].read() == b"two"
    old = s3.get_object(Bucket=versioned, Key="doc", VersionId=v1)
    assert (old["Body"].read(), old["VersionId"]) == (b"one", v1)
    deleted = s3.delete_object(Bucket=versioned, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=versioned, Key="doc")
    assert error_of(excinfo)[0::2] == ("NoSuchKey", 404)
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=versioned, Key="doc", VersionId=marker)
    assert error_of(excinfo) == ("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    assert s3.list_objects_v2(Bucket=versioned)["KeyCount"] == 0
    listed = s3.list_object_versions(Bucket=versioned)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]
    # Removing the delete marker brings the object back.
    removed = s3.delete_object(Bucket=versioned, Key="doc", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=versioned, Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket=versioned, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=versioned, Key="doc")["Body"].read() == b"one"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=versioned, Key="doc", VersionId=v2)
    assert error_of(excinfo) == ("NoSuchVersion", "The specified version does not exist.", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=versioned, Key="doc", VersionId="bad version!")
    assert error_of(excinfo) == ("InvalidArgument", "Invalid version id specified", 400)


def test_list_object_versions_pages(s3: Any, versioned: str) -> None:
    expected = []
    for key in ("a", "b", "c"):
        ids = [s3.put_object(Bucket=versioned, Key=key, Body=str(i).encode())["VersionId"] for i in range(3)]
        expected += [(key, vid) for vid in reversed(ids)]
    seen = [(v["Key"], v["VersionId"]) for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=versioned, PaginationConfig={"PageSize": 2}) for v in page.get("Versions", [])]
    assert seen == expected
    page = s3.list_object_versions(Bucket=versioned, MaxKeys=4)
    assert page["IsTruncated"] is True
    assert (page["NextKeyMarker"], page["NextVersionIdMarker"]) == expected[3]
    rest = s3.list_object_versions(Bucket=versioned, KeyMarker="a")
    assert [v["Key"] for v in rest["Versions"]] == ["b"] * 3 + ["c"] * 3
    assert [v["IsLatest"] for v in rest["Versions"]] == [True, False, False] * 2
    # The bucket keeps its versions: it cannot be deleted until they are gone.
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=versioned)
    assert error_of(excinfo)[0] == "BucketNotEmpty"
    s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in expected]})
    s3.delete_bucket(Bucket=versioned)


def test_suspended_versioning_uses_the_null_version(s3: Any, versioned: str) -> None:
    kept = s3.put_object(Bucket=versioned, Key="s", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=versioned, Key="s", Body=b"n1").get("VersionId") == "null"
    s3.put_object(Bucket=versioned, Key="s", Body=b"n2")  # replaces the null version
    versions = s3.list_object_versions(Bucket=versioned, Prefix="s")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=versioned, Key="s", VersionId="null")["Body"].read() == b"n2"
    deleted = s3.delete_object(Bucket=versioned, Key="s")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=versioned, Prefix="s")
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]


def test_unversioned_bucket_has_no_version_ids(s3: Any, bucket: str) -> None:
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"2"
    assert "DeleteMarker" not in s3.delete_object(Bucket=bucket, Key="k")
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_copy_from_an_old_version(s3: Any, versioned: str) -> None:
    v1 = s3.put_object(Bucket=versioned, Key="src", Body=b"first")["VersionId"]
    s3.put_object(Bucket=versioned, Key="src", Body=b"second")
    copied = s3.copy_object(Bucket=versioned, Key="dst", CopySource={"Bucket": versioned, "Key": "src", "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"]
    assert s3.get_object(Bucket=versioned, Key="dst")["Body"].read() == b"first"


def test_concurrent_writers_of_one_key(s3: Any, versioned: str, freehold: Any) -> None:
    """Writers of one key take turns: every write is a version, exactly one is the latest."""
    import threading

    from botocore.config import Config

    ids: list[str] = []
    lock = threading.Lock()

    def writer(number: int) -> None:
        client = freehold.client("s3", config=Config(retries={"max_attempts": 1}, max_pool_connections=2))
        for round_ in range(5):
            version = client.put_object(Bucket=versioned, Key="hot", Body=f"{number}-{round_}".encode())["VersionId"]
            with lock:
                ids.append(version)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    versions = s3.list_object_versions(Bucket=versioned, Prefix="hot")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(ids) and len(ids) == 20
    assert [v["IsLatest"] for v in versions].count(True) == 1
    latest = s3.get_object(Bucket=versioned, Key="hot")
    assert latest["VersionId"] == versions[0]["VersionId"]
