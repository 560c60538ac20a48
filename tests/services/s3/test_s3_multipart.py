"""Multipart uploads through boto3: create, upload part (and part copy), list parts and uploads,
complete with S3's validation (InvalidPart, InvalidPartOrder, EntityTooSmall), abort, and the
transfer manager's upload_file/download_file with its default configuration."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of

MIB = 1024 * 1024


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def test_upload_list_and_complete(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj", ContentType="video/mp4",
                                         Metadata={"kind": "movie"})
    upload_id = created["UploadId"]
    assert (created["Bucket"], created["Key"]) == (bucket, "mp/obj")
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    etags = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=upload_id, PartNumber=number, Body=data)
        assert answer["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append(answer["ETag"])
    listed = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (n, len(d), e) for n, (d, e) in enumerate(zip(parts, etags), 1)]
    page = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id, MaxParts=2)
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/obj", upload_id)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp/obj", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert done["ETag"] == multipart_etag(parts)
    assert (done["Bucket"], done["Key"]) == (bucket, "mp/obj")
    got = s3.get_object(Bucket=bucket, Key="mp/obj")
    assert got["Body"].read() == b"".join(parts)
    assert (got["ContentType"], got["Metadata"], got["ETag"]) == ("video/mp4", {"kind": "movie"}, done["ETag"])
    # A range across the part boundary, and a part by number.
    cross = s3.get_object(Bucket=bucket, Key="mp/obj", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")["Body"].read()
    assert cross == (parts[0] + parts[1])[5 * MIB - 3: 5 * MIB + 3]
    second = s3.get_object(Bucket=bucket, Key="mp/obj", PartNumber=2)
    assert second["Body"].read() == parts[1] and second["PartsCount"] == 3
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    attributes = s3.get_object_attributes(Bucket=bucket, Key="mp/obj",
                                          ObjectAttributes=["ETag", "ObjectParts", "ObjectSize", "StorageClass"])
    assert attributes["ETag"] == done["ETag"].strip('"') and attributes["ObjectSize"] == sum(map(len, parts))
    assert attributes["ObjectParts"]["TotalPartsCount"] == 3
    assert [p["Size"] for p in attributes["ObjectParts"]["Parts"]] == [len(p) for p in parts]
    with pytest.raises(ClientError) as excinfo:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id)
    assert error_of(excinfo)[0::2] == ("NoSuchUpload", 404)


def test_complete_validates_parts(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="v")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=1, Body=b"a" * 1024)["ETag"]
    last = s3.upload_part(Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="v", UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}]})
    assert error_of(excinfo) == ("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                                 400)
    assert excinfo.value.response["Error"]["MinSizeAllowed"] == str(5 * MIB)
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="v", UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert error_of(excinfo)[0::2] == ("InvalidPart", 400)
    assert error_of(excinfo)[1].startswith("One or more of the specified parts could not be found.")
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="v", UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}]})
    assert error_of(excinfo) == ("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                                 "ordered by part number.", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=10001, Body=b"x")
    assert error_of(excinfo)[0::2] == ("InvalidArgument", 400)
    # A single small part is a valid upload (only non-last parts have a minimum).
    done = s3.complete_multipart_upload(Bucket=bucket, Key="v", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": last}]})
    assert done["ETag"] == multipart_etag([b"b"])
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"b"


def test_abort_and_unknown_upload(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="a", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    for call in (lambda: s3.upload_part(Bucket=bucket, Key="a", UploadId=upload_id, PartNumber=1, Body=b"x"),
                 lambda: s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id),
                 lambda: s3.complete_multipart_upload(Bucket=bucket, Key="a", UploadId="nope", MultipartUpload={
                     "Parts": [{"PartNumber": 1, "ETag": '"x"'}]})):
        with pytest.raises(ClientError) as excinfo:
            call()
        code, message, status = error_of(excinfo)
        assert (code, status) == ("NoSuchUpload", 404)
        assert message.startswith("The specified upload does not exist.")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="a")


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "source"},
                                CopySourceRange=f"bytes=0-{5 * MIB - 1}")["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2,
                                 CopySource=f"{bucket}/source")["CopyPartResult"]["ETag"]
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=3,
                            CopySource=f"{bucket}/source", CopySourceRange=f"bytes=0-{7 * MIB}")
    assert error_of(excinfo)[0::2] == ("InvalidRange", 416)
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[: 5 * MIB] + source


def test_list_multipart_uploads_prefix_delimiter_and_pages(s3: Any, bucket: str) -> None:
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
           for key in ("dir/a", "dir/b", "top1", "top2")}
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["top1", "top2"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")["Uploads"]] == ["dir/a", "dir/b"]
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    assert page["IsTruncated"] is True and len(page["Uploads"]) == 3
    rest = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=page["NextKeyMarker"],
                                     UploadIdMarker=page["NextUploadIdMarker"])
    assert [u["Key"] for u in rest["Uploads"]] == ["top2"]
    for key, upload_id in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_transfer_manager_upload_and_download(s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    data = os.urandom(20 * MIB)  # above the default 8 MiB threshold: a 3-part upload
    source.write_bytes(data)
    s3.upload_file(str(source), bucket, "transfer/big.bin")
    head = s3.head_object(Bucket=bucket, Key="transfer/big.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    assert head["ChecksumCRC32"].endswith("-3") and head["ChecksumType"] == "COMPOSITE"
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "transfer/big.bin", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()
