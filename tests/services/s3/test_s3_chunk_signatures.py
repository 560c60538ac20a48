"""Requests signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) on a strict node:
every chunk signature and the trailer signature are verified, for streamed uploads (PutObject,
UploadPart) and for bodies read whole (PutObjectTagging, PutBucketTagging, DeleteObjects ...); a
bad one is 403 SignatureDoesNotMatch and nothing is stored or changed (on SQLite and PostgreSQL).

botocore does not send signed chunks itself (it streams with STREAMING-UNSIGNED-PAYLOAD-TRAILER),
so the requests are built here: botocore's own SigV4 signer makes the seed signature over the
headers, and the chunks are signed as the AWS documentation describes (the signer is checked
against AWS's published example in tests/unit/gateway/test_chunk_signatures.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import uuid
import zlib
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from support.server import FreeholdServer, root_pair

EMPTY = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def s3(freehold_strict: FreeholdServer) -> Any:
    key, secret = root_pair(freehold_strict)
    return freehold_strict.client("s3", aws_access_key_id=key, aws_secret_access_key=secret)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"chunks-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed_upload(server: FreeholdServer, path: str, payloads: list[bytes], *,
                  trailers: list[tuple[str, str]] | None = None,
                  tamper: Any = None, method: str = "PUT") -> tuple[int, bytes]:
    """PUT (or `method`) `payloads` as a signed aws-chunked body; `tamper(body) -> body` damages
    it after signing. Returns (status, response body)."""
    access, secret = root_pair(server)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailers is not None else "")
    decoded = sum(len(p) for p in payloads)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": mode,
        "x-amz-decoded-content-length": str(decoded),
    }
    if trailers is not None:
        headers["x-amz-trailer"] = ",".join(name for name, _ in trailers)
    url = f"{server.endpoint_url}{path}"
    request = AWSRequest(method=method, url=url, headers=headers)
    SigV4Auth(Credentials(access, secret), "s3", "us-east-1").add_auth(request)
    seed = str(request.headers["Authorization"]).rsplit("Signature=", 1)[1]
    amz_date = str(request.headers["X-Amz-Date"])
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = _key(secret, amz_date[:8])
    previous, body = seed, b""
    for payload in [*payloads, b""]:
        to_sign = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY,
                             hashlib.sha256(payload).hexdigest()))
        previous = _sign(key, to_sign)
        body += f"{len(payload):x};chunk-signature={previous}\r\n".encode() + payload + (b"\r\n" if payload else b"")
    if trailers is not None:
        canonical = "".join(f"{name}:{value}\n" for name, value in trailers)
        to_sign = "\n".join(("AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                             hashlib.sha256(canonical.encode()).hexdigest()))
        body += "".join(f"{name}:{value}\r\n" for name, value in trailers).encode()
        body += f"x-amz-trailer-signature:{_sign(key, to_sign)}\r\n".encode()
    body += b"\r\n"
    if tamper is not None:
        body = tamper(body)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        sent = {k: str(v) for k, v in request.headers.items()}
        sent["Content-Length"] = str(len(body))
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _absent(s3: Any, bucket: str, key: str) -> bool:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=key)
    return caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_signed_chunks_are_stored(freehold_strict: FreeholdServer, s3: Any, bucket: str) -> None:
    payloads = [b"a" * 65536, b"b" * 1024]
    status, answer = signed_upload(freehold_strict, f"/{bucket}/ok", payloads)
    assert status == 200, answer
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == b"".join(payloads)


def test_large_signed_upload_streams(freehold_strict: FreeholdServer, s3: Any, bucket: str) -> None:
    payloads = [bytes([n]) * 65536 for n in range(40)]  # 2.5 MiB: the streaming path
    status, answer = signed_upload(freehold_strict, f"/{bucket}/large", payloads)
    assert status == 200, answer
    body = s3.get_object(Bucket=bucket, Key="large")["Body"].read()
    assert hashlib.md5(body).hexdigest() == hashlib.md5(b"".join(payloads)).hexdigest()


@pytest.mark.parametrize("size", [3, 40], ids=["small", "streamed"])
@pytest.mark.parametrize("damage", ["altered-byte", "wrong-final-signature", "reused-signature"])
def test_bad_chunk_signature_stores_nothing(freehold_strict: FreeholdServer, s3: Any, bucket: str, size: int,
                                            damage: str) -> None:
    payloads = [bytes([65 + n]) * 65536 for n in range(size)]

    def tamper(body: bytes) -> bytes:
        if damage == "altered-byte":  # one byte of the last data chunk
            at = body.rindex(bytes([65 + size - 1]))
            return body[:at] + b"!" + body[at + 1:]
        if damage == "wrong-final-signature":
            head, _, _ = body.rpartition(b"0;chunk-signature=")
            return head + b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
        first = body.split(b"\r\n", 1)[0].split(b"=", 1)[1]  # the first chunk's signature everywhere
        lines = body.split(b"\r\n")
        return b"\r\n".join(line.split(b"=")[0] + b"=" + first if b";chunk-signature=" in line else line
                            for line in lines)

    status, answer = signed_upload(freehold_strict, f"/{bucket}/bad", payloads, tamper=tamper)
    assert status == 403, answer
    assert b"<Code>SignatureDoesNotMatch</Code>" in answer
    assert _absent(s3, bucket, "bad")


def test_signed_trailer_checksum(freehold_strict: FreeholdServer, s3: Any, bucket: str) -> None:
    data = b"trailing checksum " * 100
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    status, answer = signed_upload(freehold_strict, f"/{bucket}/trailer", [data],
                                   trailers=[("x-amz-checksum-crc32", crc)])
    assert status == 200, answer
    head = s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc


@pytest.mark.parametrize("damage", ["value", "signature", "missing"])
def test_bad_trailer_signature_stores_nothing(freehold_strict: FreeholdServer, s3: Any, bucket: str,
                                              damage: str) -> None:
    data = b"x" * 5000
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()

    def tamper(body: bytes) -> bytes:
        head, _, _ = body.rpartition(b"x-amz-trailer-signature:")
        if damage == "value":  # a different (self-consistent) checksum, signature unchanged
            other = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big"))
            return body.replace(crc.encode(), other)
        if damage == "signature":
            return head + b"x-amz-trailer-signature:" + b"f" * 64 + b"\r\n\r\n"
        return head + b"\r\n"

    status, answer = signed_upload(freehold_strict, f"/{bucket}/bad-trailer", [data],
                                   trailers=[("x-amz-checksum-crc32", crc)], tamper=tamper)
    assert status == 403, answer
    assert b"<Code>SignatureDoesNotMatch</Code>" in answer
    assert _absent(s3, bucket, "bad-trailer")


def test_upload_part_chunk_signatures(freehold_strict: FreeholdServer, s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    path = f"/{bucket}/multi?partNumber=1&uploadId={upload}"

    def tamper(body: bytes) -> bytes:
        return body.replace(b"p" * 10, b"q" * 10, 1)

    status, answer = signed_upload(freehold_strict, path, [b"p" * 70000], tamper=tamper)
    assert status == 403 and b"SignatureDoesNotMatch" in answer
    assert s3.list_parts(Bucket=bucket, Key="multi", UploadId=upload).get("Parts", []) == []
    status, answer = signed_upload(freehold_strict, path, [b"p" * 70000])
    assert status == 200, answer
    parts = s3.list_parts(Bucket=bucket, Key="multi", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 70000)]


TAGGING = (b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>forged</Key>'
           b"<Value>yes</Value></Tag></TagSet></Tagging>")


def _forged(body: bytes) -> bytes:
    """Every chunk signature replaced by zeros (the reviewer's reproduction)."""
    return b"\r\n".join(line.split(b"=")[0] + b"=" + b"0" * 64 if b";chunk-signature=" in line else line
                         for line in body.split(b"\r\n"))


def _value_changed(body: bytes) -> bytes:
    changed = body.replace(b"<Value>yes<", b"<Value>no!<").replace(b"<Key>o<", b"<Key>p<")
    assert changed != body
    return changed  # same length, signatures unchanged


@pytest.mark.parametrize("tamper", [_forged, _value_changed], ids=["zero-signatures", "altered-body"])
def test_body_read_whole_with_bad_chunk_signatures_changes_nothing(freehold_strict: FreeholdServer, s3: Any,
                                                                   bucket: str, tamper: Any) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    for path, trailers in ((f"/{bucket}/o?tagging", None), (f"/{bucket}?tagging", None),
                           (f"/{bucket}/o?tagging", [("x-amz-checksum-crc32", "AAAAAA==")])):
        status, answer = signed_upload(freehold_strict, path, [TAGGING], tamper=tamper, trailers=trailers)
        assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, (path, answer)
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == []
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_tagging(Bucket=bucket)
    assert caught.value.response["Error"]["Code"] == "NoSuchTagSet"
    delete = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>o</Key></Object>'
              b"</Delete>")
    status, answer = signed_upload(freehold_strict, f"/{bucket}?delete", [delete], tamper=tamper, method="POST")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, answer
    assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"x"


def test_body_read_whole_with_good_chunk_signatures(freehold_strict: FreeholdServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    half = len(TAGGING) // 2
    status, answer = signed_upload(freehold_strict, f"/{bucket}/o?tagging", [TAGGING[:half], TAGGING[half:]])
    assert status == 200, answer
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == [{"Key": "forged", "Value": "yes"}]
    status, answer = signed_upload(freehold_strict, f"/{bucket}?tagging", [TAGGING])
    assert status in (200, 204), answer
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "forged", "Value": "yes"}]
    crc = base64.b64encode(zlib.crc32(TAGGING).to_bytes(4, "big")).decode()
    status, answer = signed_upload(freehold_strict, f"/{bucket}/o?tagging", [TAGGING],
                                   trailers=[("x-amz-checksum-crc32", crc)])
    assert status == 200, answer
    delete = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>o</Key></Object>'
              b"</Delete>")
    status, answer = signed_upload(freehold_strict, f"/{bucket}?delete", [delete], method="POST")
    assert status == 200 and b"<Deleted>" in answer and b"<Error>" not in answer, answer
    assert _absent(s3, bucket, "o")


@pytest.mark.parametrize("declared", ["STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "presigned", "anonymous"])
def test_unverifiable_signed_chunks_are_refused(freehold_strict: FreeholdServer, s3: Any, bucket: str,
                                                declared: str) -> None:
    """A body declaring signed chunks freehold cannot check (SigV4a's ECDSA chunks, no SigV4
    header signature to chain from) is refused, never taken unchecked."""
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    body = b"%x;chunk-signature=%s\r\n" % (len(TAGGING), b"0" * 64) + TAGGING + b"\r\n0;chunk-signature=" + b"0" * 64
    body += b"\r\n\r\n"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(TAGGING)),
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
    path = f"/{bucket}/o?tagging"
    if declared == "presigned":
        path = s3.generate_presigned_url("put_object_tagging", Params={"Bucket": bucket, "Key": "o",
                                         "Tagging": {"TagSet": []}}).split(str(freehold_strict.port), 1)[1]
    elif declared != "anonymous":
        headers["x-amz-content-sha256"] = declared
        access, secret = root_pair(freehold_strict)
        request = AWSRequest(method="PUT", url=f"{freehold_strict.endpoint_url}{path}", headers=headers)
        SigV4Auth(Credentials(access, secret), "s3", "us-east-1").add_auth(request)
        headers = {k: str(v) for k, v in request.headers.items()}
    connection = http.client.HTTPConnection("127.0.0.1", freehold_strict.port, timeout=60)
    try:
        connection.request("PUT", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        status, answer = response.status, response.read()
    finally:
        connection.close()
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, answer
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == []
