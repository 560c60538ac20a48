"""S3 objects through boto3: put/get/head/delete, metadata and content headers, ETags, ranges,
conditional reads and writes, digests and checksums (headers and aws-chunked trailers),
storage classes, tagging, DeleteObjects and CopyObject."""

from __future__ import annotations

import base64
import hashlib
import http.client
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from s3_helpers import error_of

from support.server import TEST_KEY_ID, TEST_SECRET


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_put_get_head_round_trip(s3: Any, bucket: str) -> None:
    body = b"hello, freehold"
    put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain",
                        Metadata={"Owner": "me", "note": "n1"}, CacheControl="max-age=60",
                        ContentDisposition="inline", ContentLanguage="en", ContentEncoding="identity")
    assert put["ETag"] == md5_etag(body)
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ChecksumCRC32"] == crc32_b64(body)  # boto3 sends CRC32 by default; S3 returns it
    assert "VersionId" not in put
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert got["Body"].read() == body
    assert (got["ContentType"], got["ContentLength"], got["ETag"]) == ("text/plain", len(body), md5_etag(body))
    assert got["Metadata"] == {"owner": "me", "note": "n1"}
    assert (got["CacheControl"], got["ContentDisposition"], got["ContentLanguage"], got["ContentEncoding"]) == (
        "max-age=60", "inline", "en", "identity")
    assert got["AcceptRanges"] == "bytes"
    assert "StorageClass" not in got
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body) and head["ETag"] == md5_etag(body)
    assert head["ChecksumCRC32"] == crc32_b64(body)
    assert abs(head["LastModified"] - datetime.now(UTC)) < timedelta(minutes=1)
    # Response overrides.
    over = s3.get_object(Bucket=bucket, Key="docs/hello.txt", ResponseContentType="application/json",
                         ResponseContentDisposition="attachment; filename=x.json")
    assert over["ContentType"] == "application/json"
    assert over["ContentDisposition"] == "attachment; filename=x.json"


def test_default_content_type_empty_object_and_odd_keys(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert got["ContentType"] == "binary/octet-stream"
    for key in ("with space/and+plus.txt", "unicod\u00e9/\u65e5\u672c.txt", "a//double", "percent%2Fkey", "?q=1&x"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


def test_missing_key_and_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_of(excinfo) == ("NoSuchKey", "The specified key does not exist.", 404)
    assert excinfo.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error_of(excinfo)[0::2] == ("404", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error_of(excinfo) == ("KeyTooLongError", "Your key is too long", 400)


def test_range_gets(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentLength"] == 10
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1020-5000")["Body"].read() == body[1020:]
    # An unparseable range is ignored: the whole object, 200.
    whole = s3.get_object(Bucket=bucket, Key="r", Range="items=1-2")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200 and whole["Body"].read() == body
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-")
    assert error_of(excinfo) == ("InvalidRange", "The requested range is not satisfiable", 416)
    assert excinfo.value.response["Error"]["ActualObjectSize"] == str(len(body))


def test_conditional_reads(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert error_of(excinfo) == ("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                                 412)
    assert excinfo.value.response["Error"]["Condition"] == "If-Match"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert error_of(excinfo)[2] == 304
    future, past = datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert error_of(excinfo)[2] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert error_of(excinfo)[0] == "PreconditionFailed"
    # If-Match true wins over a false If-Unmodified-Since.
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert error_of(excinfo)[2] == 412


def test_conditional_writes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    assert error_of(excinfo) == ("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                                 412)
    etag = s3.head_object(Bucket=bucket, Key="once")["ETag"]
    s3.put_object(Bucket=bucket, Key="once", Body=b"3", IfMatch=etag)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="once", Body=b"4", IfMatch=etag)
    assert error_of(excinfo)[0] == "PreconditionFailed"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"4", IfMatch=etag)
    assert error_of(excinfo)[0] == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"3"


def test_content_md5_and_checksums_are_verified(s3: Any, bucket: str) -> None:
    body = b"integrity matters"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=bad)
    assert error_of(excinfo) == ("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5="not-base64!")
    assert error_of(excinfo) == ("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="sha", Body=body, ChecksumSHA256=sha)
    assert put["ChecksumSHA256"] == sha
    assert s3.head_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="sha", Body=body,
                      ChecksumSHA256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    assert error_of(excinfo) == ("BadDigest", "The SHA256 you specified did not match the calculated checksum.", 400)
    check_value = base64.b64encode(bytes.fromhex("e3069283")).decode()  # CRC-32C of "123456789"
    crc32c = s3.put_object(Bucket=bucket, Key="crc32c", Body=b"123456789", ChecksumCRC32C=check_value)
    assert crc32c["ChecksumCRC32C"] == check_value
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="crc32c", Body=b"123456780", ChecksumCRC32C=check_value)
    assert error_of(excinfo) == ("BadDigest", "The CRC32C you specified did not match the calculated checksum.", 400)
    # The failed writes left the first version in place.
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == body


def _signed_raw_put(endpoint: str, bucket: str, key: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    url = f"{endpoint}/{bucket}/{key}"
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "s3", "us-east-1").add_auth(request)
    # botocore's signer puts the body's SHA-256 here; an SDK streaming aws-chunked sends its marker.
    request.headers["X-Amz-Content-SHA256"] = headers["x-amz-content-sha256"]
    parsed = urlparse(endpoint)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.request("PUT", f"/{bucket}/{key}", body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_aws_chunked_upload_with_trailing_checksum(s3: Any, bucket: str, freehold: Any) -> None:
    """What boto3 and the aws CLI send over TLS: aws-chunked with an x-amz-checksum-crc32 trailer."""
    payload = bytes(range(256)) * 1000  # 256000 bytes in three chunks
    pieces = [payload[:100000], payload[100000:200000], payload[200000:]]
    framed = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces)
    framed += b"0\r\n" + f"x-amz-checksum-crc32:{crc32_b64(payload)}\r\n\r\n".encode()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(len(payload)),
               "Content-Type": "application/x-test"}
    status, answer = _signed_raw_put(freehold.endpoint_url, bucket, "chunked", framed, headers)
    assert status == 200, answer
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    assert got["ChecksumCRC32"] == crc32_b64(payload)
    assert "ContentEncoding" not in got  # aws-chunked is a transfer detail, not stored
    wrong = framed.replace(crc32_b64(payload).encode(), crc32_b64(b"nope").encode())
    status, answer = _signed_raw_put(freehold.endpoint_url, bucket, "chunked-bad", wrong, headers)
    assert status == 400 and b"<Code>BadDigest</Code>" in answer
    truncated = framed[:150000]
    status, answer = _signed_raw_put(freehold.endpoint_url, bucket, "chunked-cut", truncated,
                                     {**headers, "x-amz-decoded-content-length": str(len(payload))})
    assert status == 400 and b"<Code>IncompleteBody</Code>" in answer
    for key in ("chunked-bad", "chunked-cut"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=key)


def test_large_object_streams_both_ways(s3: Any, bucket: str) -> None:
    body = hashlib.sha256(b"seed").digest() * (24 * 1024 * 1024 // 32)  # 24 MiB in one PutObject
    put = s3.put_object(Bucket=bucket, Key="large", Body=body)
    assert put["ETag"] == md5_etag(body)
    got = s3.get_object(Bucket=bucket, Key="large")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    middle = s3.get_object(Bucket=bucket, Key="large", Range="bytes=10000000-10999999")["Body"].read()
    assert middle == body[10000000:11000000]


def test_object_acls_and_expected_owner(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="public-read")
    assert error_of(excinfo) == ("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="bucket-owner-full-control")
    assert s3.get_object_acl(Bucket=bucket, Key="acl")["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert s3.head_object(Bucket=bucket, Key="acl", ExpectedBucketOwner="000000000000")["ContentLength"] == 1
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="acl", ExpectedBucketOwner="111122223333")
    assert error_of(excinfo) == ("AccessDenied", "Access Denied", 403)


def test_storage_class_and_archived_objects(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="ia")["Contents"][0]
    assert listed["StorageClass"] == "STANDARD_IA"
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cold")
    assert error_of(excinfo) == ("InvalidObjectState", "The operation is not valid for the object's storage class",
                                 403)
    assert s3.head_object(Bucket=bucket, Key="cold")["StorageClass"] == "GLACIER"


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "a", "Value": "1"},
                                                                      {"Key": "b", "Value": "two words"}]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "c", "Value": "3"}]
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert error_of(excinfo)[0] == "BadRequest"
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_of(excinfo)[0] == "NoSuchKey"


def test_delete_and_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("d1", "d2", "d3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    s3.delete_object(Bucket=bucket, Key="never-there")  # deleting a missing key succeeds
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d2"}, {"Key": "d3"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["d2", "d3", "nope"]
    assert "Errors" not in answer
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(s3: Any, bucket: str) -> None:
    other = f"{bucket}-copy"
    s3.create_bucket(Bucket=other)
    body = b"copy me"
    s3.put_object(Bucket=bucket, Key="src", Body=body, ContentType="text/plain", Metadata={"a": "1"},
                  Tagging="t=1")
    copied = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == md5_etag(body)
    got = s3.get_object(Bucket=other, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (body, "text/plain", {"a": "1"})
    assert s3.get_object_tagging(Bucket=other, Key="dst")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.copy_object(Bucket=other, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   ContentType="application/json", Metadata={"b": "2"}, TaggingDirective="REPLACE", Tagging="u=2")
    replaced = s3.head_object(Bucket=other, Key="dst2")
    assert (replaced["ContentType"], replaced["Metadata"]) == ("application/json", {"b": "2"})
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert error_of(excinfo)[0] == "InvalidRequest"
    assert "copy an object to itself" in error_of(excinfo)[1]
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert error_of(excinfo)[0] == "NoSuchKey"
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"no"')
    assert error_of(excinfo)[0::2] == ("PreconditionFailed", 412)


def test_virtual_host_style(freehold: Any, bucket: str) -> None:
    port = urlparse(freehold.endpoint_url).port
    virtual = boto3.client("s3", endpoint_url=f"http://s3.localhost:{port}", region_name="us-east-1",
                           aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET,
                           config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))

    def to_loopback(request: Any, **_: Any) -> None:
        # Send to 127.0.0.1 whatever name resolution says about *.localhost; Host stays virtual.
        host = urlparse(request.url).netloc
        assert host == f"{bucket}.s3.localhost:{port}"
        request.headers["Host"] = host
        request.url = request.url.replace(host, f"127.0.0.1:{port}", 1)

    virtual.meta.events.register("before-send.s3", to_loopback)
    virtual.put_object(Bucket=bucket, Key="vh/key.txt", Body=b"virtual")
    assert virtual.get_object(Bucket=bucket, Key="vh/key.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket=bucket)["Contents"]] == ["vh/key.txt"]
    assert freehold.client("s3").get_object(Bucket=bucket, Key="vh/key.txt")["Body"].read() == b"virtual"


def test_concurrent_conditional_creates(s3: Any, bucket: str, freehold: Any) -> None:
    """If-None-Match: * lets exactly one of several racing writers create the key."""
    import threading

    results: list[str] = []
    lock = threading.Lock()

    def writer(number: int) -> None:
        client = freehold.client("s3")
        try:
            client.put_object(Bucket=bucket, Key="race", Body=str(number).encode(), IfNoneMatch="*")
            outcome = "ok"
        except ClientError as error:
            outcome = error.response["Error"]["Code"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["PreconditionFailed"] * 5 + ["ok"]


def test_overwrite_while_reading_and_copying_never_fails(s3: Any, bucket: str) -> None:
    # An overwrite deletes the old blob right after its commit; a GET or COPY that read the old
    # row just before must start over (and see the new version), never answer 500.
    import threading
    import time

    bodies = [bytes([n]) * (64 * 1024 + n) for n in range(4)]  # above the inline size: blobs
    s3.put_object(Bucket=bucket, Key="hot", Body=bodies[0])
    deadline = time.monotonic() + 3
    failures: list[str] = []
    counts = {"get": 0, "copy": 0, "put": 0}

    def loop(kind: str) -> None:
        n = 0
        while time.monotonic() < deadline and not failures:
            n += 1
            try:
                if kind == "put":
                    s3.put_object(Bucket=bucket, Key="hot", Body=bodies[n % len(bodies)])
                elif kind == "get":
                    body = s3.get_object(Bucket=bucket, Key="hot")["Body"].read()
                    if body not in bodies:
                        failures.append(f"GET read a torn body of {len(body)} bytes")
                else:
                    s3.copy_object(Bucket=bucket, Key=f"copy-{threading.get_ident()}",
                                   CopySource={"Bucket": bucket, "Key": "hot"})
            except ClientError as error:
                failures.append(f"{kind}: {error.response['Error']} {error.response['ResponseMetadata']['HTTPStatusCode']}")
            counts[kind] += 1

    threads = [threading.Thread(target=loop, args=(kind,)) for kind in ("put", "put", "get", "get", "copy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures[:3]
    assert counts["get"] > 0 and counts["copy"] > 0 and counts["put"] > 0
