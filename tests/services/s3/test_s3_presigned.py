"""Presigned URLs (SigV4 and SigV2 query auth) used by plain HTTP clients: GET and PUT work,
a tampered URL answers SignatureDoesNotMatch, an expired one AccessDenied 'Request has expired'.
Keys freehold did not issue are verified with the local-development secrets (gateway/presigned.py)."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[3]


def presigner(freehold: Any, version: str, key: str = "test", secret: str = "test", token: str | None = None) -> Any:
    return boto3.client("s3", endpoint_url=freehold.endpoint_url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(signature_version=version, retries={"max_attempts": 1}))


def fetch(url: str, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_get_and_put(freehold_sqlite: Any, version: str) -> None:
    s3 = freehold_sqlite.client("s3")
    bucket = f"presign-{version}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/file name.txt", Body=b"shared")
    client = presigner(freehold_sqlite, version)
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/file name.txt"},
                                        ExpiresIn=300)
    assert fetch(url) == (200, b"shared")
    with_override = client.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "dir/file name.txt", "ResponseContentType": "text/x-test"})
    with urllib.request.urlopen(with_override, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/x-test"
    # SigV2 signs the Content-Type: the uploader must send the one the URL was made for.
    put_url = client.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "uploaded.bin", "ContentType": "application/octet-stream"}, ExpiresIn=300)
    status, _ = fetch(put_url, "PUT", b"from a browser", {"Content-Type": "application/octet-stream"})
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="uploaded.bin")["Body"].read() == b"from a browser"


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_tampered_and_foreign_urls_are_refused(freehold_sqlite: Any, version: str) -> None:
    s3 = freehold_sqlite.client("s3")
    bucket = f"tamper-{version}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"s")
    s3.put_object(Bucket=bucket, Key="other.txt", Body=b"o")
    url = presigner(freehold_sqlite, version).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "secret.txt"})
    status, body = fetch(url.replace("secret.txt", "other.txt"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    # A secret that is neither the key itself nor `test`, for a key freehold did not issue.
    foreign = presigner(freehold_sqlite, version, key="AKIDSOMEONEELSE00001", secret="not-known")
    status, body = fetch(foreign.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "secret.txt"}))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    # The key-equals-secret convention (minioadmin/minioadmin) is accepted.
    same = presigner(freehold_sqlite, version, key="minioadmin", secret="minioadmin")
    assert fetch(same.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "secret.txt"})) == (
        200, b"s")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_expired_url(freehold_sqlite: Any, version: str) -> None:
    s3 = freehold_sqlite.client("s3")
    bucket = f"expiry-{version}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = presigner(freehold_sqlite, version).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body and b"<Message>Request has expired</Message>" in body


def test_presigned_with_issued_credentials(freehold_sqlite: Any) -> None:
    iam = freehold_sqlite.client("iam")
    iam.create_user(UserName="presigner")
    key = iam.create_access_key(UserName="presigner")["AccessKey"]
    s3 = freehold_sqlite.client("s3")
    s3.create_bucket(Bucket="presign-issued")
    s3.put_object(Bucket="presign-issued", Key="k", Body=b"issued")
    for version in ("s3v4", "s3"):
        good = presigner(freehold_sqlite, version, key["AccessKeyId"], key["SecretAccessKey"])
        assert fetch(good.generate_presigned_url("get_object", Params={"Bucket": "presign-issued", "Key": "k"})) == (
            200, b"issued")
        wrong = presigner(freehold_sqlite, version, key["AccessKeyId"], "test")
        status, body = fetch(wrong.generate_presigned_url("get_object", Params={"Bucket": "presign-issued",
                                                                                "Key": "k"}))
        assert status == 403 and b"SignatureDoesNotMatch" in body


def test_aws_cli_presign(freehold_sqlite: Any) -> None:
    s3 = freehold_sqlite.client("s3")
    s3.create_bucket(Bucket="presign-cli")
    s3.put_object(Bucket="presign-cli", Key="report.csv", Body=b"a,b\n")
    env = {**freehold_sqlite.env_for_cli(), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    url = subprocess.run([str(ROOT / ".venv/bin/aws"), "s3", "presign", "s3://presign-cli/report.csv",
                          "--expires-in", "120"], env=env, capture_output=True, text=True, check=True,
                         timeout=60).stdout.strip()
    assert fetch(url) == (200, b"a,b\n")
