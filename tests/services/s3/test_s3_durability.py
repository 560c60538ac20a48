"""S3 state across restarts and kill -9: objects, versions and in-progress multipart uploads
survive; acknowledged writes are never lost; an upload cut short by a crash never appears."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import urlparse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from s3_helpers import unique

from support.server import TEST_KEY_ID, TEST_SECRET, FreeholdServer

MIB = 1024 * 1024


def test_state_survives_restart(freehold: FreeholdServer) -> None:
    s3 = freehold.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one", Metadata={"m": "1"})["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"a" * (5 * MIB))["ETag"]

    freehold.restart()
    s3 = freehold.client("s3")
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    old = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert (old["Body"].read(), old["Metadata"]) == (b"one", {"m": "1"})
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [v2, v1]
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]] == [1]
    part2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"end")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part1}, {"PartNumber": 2, "ETag": part2}]})
    assert s3.head_object(Bucket=bucket, Key="mp")["ContentLength"] == 5 * MIB + 3


def test_acknowledged_puts_survive_kill_9(freehold: FreeholdServer) -> None:
    bucket = unique()
    freehold.client("s3").create_bucket(Bucket=bucket)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        s3 = freehold.client("s3", config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5))
        sequence = 0
        while not stop.is_set():
            key = f"w{number}/{sequence}"
            sequence += 1
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100)
            except (ClientError, BotoCoreError, OSError):
                return
            with lock:
                acknowledged.append(key)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 100 and time.monotonic() < deadline:
        time.sleep(0.02)
    freehold.kill9()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 100, "the write load did not get going"

    freehold.start()
    s3 = freehold.client("s3")
    present = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
               for o in page.get("Contents", [])}
    missing = [key for key in acknowledged if key not in present]
    assert not missing, f"{len(missing)} acknowledged puts lost after kill -9: {missing[:5]}"
    for key in acknowledged[:: max(1, len(acknowledged) // 10)]:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode() * 100


def test_upload_cut_by_a_crash_never_appears(freehold: FreeholdServer) -> None:
    bucket = unique()
    freehold.client("s3").create_bucket(Bucket=bucket)
    total = 64 * MIB
    request = AWSRequest(method="PUT", url=f"{freehold.endpoint_url}/{bucket}/partial", headers={
        "Content-Length": str(total), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "s3", "us-east-1").add_auth(request)
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    parsed = urlparse(freehold.endpoint_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.putrequest("PUT", f"/{bucket}/partial", skip_accept_encoding=True)
    for name, value in request.headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    chunk = b"x" * MIB
    for _ in range(16):  # a quarter of the body, then the server dies
        connection.send(chunk)
    time.sleep(0.2)
    freehold.kill9()
    connection.close()
    freehold.start()
    s3 = freehold.client("s3")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    # The same key works normally afterwards.
    s3.put_object(Bucket=bucket, Key="partial", Body=b"whole")
    assert s3.get_object(Bucket=bucket, Key="partial")["Body"].read() == b"whole"
