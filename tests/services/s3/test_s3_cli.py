"""The aws CLI's high-level `aws s3` commands (cp, sync, mv, rm, ls, mb, rb) against a live
server, and S3 under --strict-auth (streamed uploads with their signatures verified)."""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique

from support.server import FreeholdServer

ROOT = Path(__file__).resolve().parents[3]
AWS = str(ROOT / ".venv/bin/aws")


def aws(server: FreeholdServer, *args: str) -> str:
    done = subprocess.run([AWS, *args], env=server.env_for_cli(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"aws {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def test_aws_s3_commands(freehold: FreeholdServer, tmp_path: Path) -> None:
    bucket = unique("cli")
    source = tmp_path / "site"
    (source / "css").mkdir(parents=True)
    (source / "index.html").write_text("<h1>hi</h1>")
    (source / "css" / "app.css").write_text("body{}")
    big = os.urandom(9 * 1024 * 1024)  # above the CLI's 8 MiB multipart threshold
    (source / "big.bin").write_bytes(big)
    aws(freehold, "s3", "mb", f"s3://{bucket}")
    aws(freehold, "s3", "sync", str(source), f"s3://{bucket}/site")
    listing = aws(freehold, "s3", "ls", f"s3://{bucket}/site/")
    assert "PRE css/" in listing and "index.html" in listing and "big.bin" in listing
    recursive = aws(freehold, "s3", "ls", "--recursive", f"s3://{bucket}")
    assert sorted(line.split()[-1] for line in recursive.splitlines()) == [
        "site/big.bin", "site/css/app.css", "site/index.html"]
    # A second sync finds nothing to do.
    assert aws(freehold, "s3", "sync", str(source), f"s3://{bucket}/site").strip() == ""
    target = tmp_path / "back.bin"
    aws(freehold, "s3", "cp", f"s3://{bucket}/site/big.bin", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(big).digest()
    aws(freehold, "s3", "mv", f"s3://{bucket}/site/index.html", f"s3://{bucket}/index.html")
    s3 = freehold.client("s3")
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>hi</h1>"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="site/index.html")
    aws(freehold, "s3", "rm", "--recursive", f"s3://{bucket}/site")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["index.html"]
    failed = subprocess.run([AWS, "s3", "rb", f"s3://{bucket}"], env=freehold.env_for_cli(), capture_output=True,
                            text=True, timeout=60)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws(freehold, "s3", "rb", "--force", f"s3://{bucket}")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    server = FreeholdServer(tmp_path_factory.mktemp("s3-strict"), extra_args=("--strict-auth",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def strict_client(server: FreeholdServer, secret: str | None = None) -> Any:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(server.data_dir / "root-credentials")
    key, real = parser["freehold"]["aws_access_key_id"], parser["freehold"]["aws_secret_access_key"]
    return server.client("s3", aws_access_key_id=key, aws_secret_access_key=secret or real)


def test_strict_auth_verifies_streamed_uploads(strict: FreeholdServer) -> None:
    s3 = strict_client(strict)
    bucket = unique("strict")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(3 * 1024 * 1024)  # streamed: above the in-memory threshold
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    s3.put_object(Bucket=bucket, Key="small", Body=b"tiny")
    with pytest.raises(ClientError) as excinfo:
        strict_client(strict, secret="wrong").put_object(Bucket=bucket, Key="bad", Body=body)
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # The body must be the one whose SHA-256 was signed.
    tampered = strict_client(strict)

    def swap_body(request: Any, **_: Any) -> None:
        request.body = b"y" * len(body)

    tampered.meta.events.register("before-send.s3.PutObject", swap_body)
    with pytest.raises(ClientError) as excinfo:
        tampered.put_object(Bucket=bucket, Key="swapped", Body=body)
    assert excinfo.value.response["Error"]["Code"] == "XAmzContentSHA256Mismatch"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["big", "small"]
