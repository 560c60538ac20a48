"""What browsers do with S3: CORS preflights from another origin and CORS response headers,
HTML form uploads with a signed POST policy, anonymous reads of public buckets, and the static
website endpoint (index and error documents, redirects)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from s3_helpers import unique

ORIGIN = "https://app.example.com"


def request(url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None,
            follow: bool = True) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def multipart(fields: dict[str, str], filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
               f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module")
def s3(freehold_sqlite: Any) -> Any:
    return freehold_sqlite.client("s3")


def test_cors_preflight_and_response_headers(s3: Any, freehold_sqlite: Any) -> None:
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    url = f"{freehold_sqlite.endpoint_url}/{bucket}/uploads/photo.jpg"
    status, _, body = request(url, "OPTIONS", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"})
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body and b"CORS is not enabled" in body
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    status, headers, _ = request(url, "OPTIONS", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Authorization, Content-Type, X-Amz-Date"})
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "GET, PUT"
    # Requested headers are echoed one by one: a wildcard would not cover Authorization.
    assert headers["access-control-allow-headers"] == "authorization, content-type, x-amz-date"
    assert headers["access-control-expose-headers"] == "ETag"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    status, headers, _ = request(url, "OPTIONS", headers={"Origin": "https://elsewhere.example",
                                                          "Access-Control-Request-Method": "GET"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    status, _, body = request(url, "OPTIONS", headers={"Origin": "https://elsewhere.example",
                                                       "Access-Control-Request-Method": "DELETE"})
    assert status == 403 and b"This CORS request is not allowed" in body
    status, _, body = request(url, "OPTIONS", headers={"Access-Control-Request-Method": "GET"})
    assert status == 400 and b"Insufficient information. Origin request header needed." in body
    # An API response to a cross-origin request carries the headers too.
    s3.put_object(Bucket=bucket, Key="uploads/photo.jpg", Body=b"jpg")
    cross = freehold_sqlite.client("s3")
    cross.meta.events.register("before-send.s3", lambda request, **_: request.headers.__setitem__("Origin", ORIGIN))
    answer = cross.get_object(Bucket=bucket, Key="uploads/photo.jpg")
    sent = answer["ResponseMetadata"]["HTTPHeaders"]
    assert sent["access-control-allow-origin"] == ORIGIN and sent["access-control-expose-headers"] == "ETag"


def test_post_policy_upload(s3: Any, freehold_sqlite: Any) -> None:
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    signer = boto3.client("s3", endpoint_url=freehold_sqlite.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    post = signer.generate_presigned_post(
        bucket, "avatars/${filename}", Fields={"success_action_status": "201", "Content-Type": "image/png"},
        Conditions=[["starts-with", "$key", "avatars/"], {"success_action_status": "201"},
                    {"Content-Type": "image/png"}, ["content-length-range", 1, 1024]], ExpiresIn=300)
    body, content_type = multipart(post["fields"], "me.png", b"\x89PNG fake", "image/png")
    status, headers, answer = request(post["url"], "POST", body, {"Content-Type": content_type})
    assert status == 201, answer
    assert b"<Key>avatars/me.png</Key>" in answer and headers["etag"]
    got = s3.get_object(Bucket=bucket, Key="avatars/me.png")
    assert got["Body"].read() == b"\x89PNG fake" and got["ContentType"] == "image/png"
    # Too large for the policy.
    body, content_type = multipart(post["fields"], "big.png", b"x" * 2000, "image/png")
    status, _, answer = request(post["url"], "POST", body, {"Content-Type": content_type})
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in answer
    # A field the policy does not cover.
    body, content_type = multipart({**post["fields"], "x-amz-meta-extra": "1"}, "a.png", b"x", "image/png")
    status, _, answer = request(post["url"], "POST", body, {"Content-Type": content_type})
    assert status == 403 and b"Extra input fields: x-amz-meta-extra" in answer
    # A key outside the allowed prefix.
    body, content_type = multipart({**post["fields"], "key": "elsewhere/a.png"}, "a.png", b"x", "image/png")
    status, _, answer = request(post["url"], "POST", body, {"Content-Type": content_type})
    assert status == 403 and b"Policy Condition failed" in answer
    # A tampered policy signature.
    body, content_type = multipart({**post["fields"], "x-amz-signature": "0" * 64}, "a.png", b"x", "image/png")
    status, _, answer = request(post["url"], "POST", body, {"Content-Type": content_type})
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["avatars/me.png"]


def test_anonymous_access_follows_public_policy(s3: Any, freehold_sqlite: Any) -> None:
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public/logo.png", Body=b"logo")
    s3.put_object(Bucket=bucket, Key="private/x", Body=b"secret")
    base = f"{freehold_sqlite.endpoint_url}/{bucket}"
    assert request(f"{base}/public/logo.png")[0] == 403
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}))
    assert request(f"{base}/public/logo.png")[::2] == (200, b"logo")
    assert request(f"{base}/private/x")[0] == 403
    status, _, body = request(f"{base}/public/new", "PUT", b"no")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_website_endpoint(s3: Any, freehold_sqlite: Any) -> None:
    bucket = unique("site")
    s3.create_bucket(Bucket=bucket)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>app</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="style.css", Body=b"body{}", ContentType="text/css")
    port = urlparse(freehold_sqlite.endpoint_url).port
    base = f"http://127.0.0.1:{port}"
    host = {"Host": f"{bucket}.s3-website-us-east-1.localhost:{port}"}
    status, _, body = request(f"{base}/", headers=host)
    assert status == 404 and b"NoSuchWebsiteConfiguration" in body
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "index.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "old/"}, "Redirect": {"ReplaceKeyPrefixWith": "docs/"}}]})
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
    status, headers, body = request(f"{base}/", headers=host)
    assert (status, body, headers["content-type"]) == (200, b"<h1>app</h1>", "text/html")
    assert request(f"{base}/style.css", headers=host)[::2] == (200, b"body{}")
    assert request(f"{base}/docs/", headers=host)[::2] == (200, b"docs")
    status, headers, _ = request(f"{base}/docs", headers=host, follow=False)
    assert status == 302 and headers["location"] == "/docs/"
    # A single-page app: any unknown path gets the app (as the error document, status 404).
    assert request(f"{base}/users/42/profile", headers=host)[::2] == (404, b"<h1>app</h1>")
    status, headers, _ = request(f"{base}/old/page.html", headers=host, follow=False)
    assert status == 301 and headers["location"].endswith("/docs/page.html")
    status, _, _ = request(f"{base}/style.css", "PUT", b"x", headers=host)
    assert status == 405
    with pytest.raises(Exception) as excinfo:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "a/b.html"}})
    assert "The IndexDocument Suffix is not well formed" in str(excinfo.value)
    s3.delete_bucket_website(Bucket=bucket)
    with pytest.raises(Exception) as excinfo:
        s3.get_bucket_website(Bucket=bucket)
    assert "NoSuchWebsiteConfiguration" in str(excinfo.value)


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _post_streamed(url: str, head: bytes, size: int, tail: bytes, content_type: str) -> tuple[int | None, bytes]:
    """POST head + size bytes + tail, sent piece by piece; (status, body), status None when the
    server cut the connection before the client could read an answer."""
    import http.client

    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    piece = b"f" * (1024 * 1024)
    try:
        connection.putrequest("POST", parts.path or "/")
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
        connection.endheaders()
        try:
            connection.send(head)
            sent = 0
            while sent < size:
                connection.send(piece[: min(len(piece), size - sent)])
                sent += min(len(piece), size - sent)
            connection.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed
        try:
            response = connection.getresponse()
            return response.status, response.read()
        except (ConnectionResetError, http.client.RemoteDisconnected):
            return None, b""
    finally:
        connection.close()


def test_post_upload_streams_large_files(s3: Any, freehold_sqlite: Any) -> None:
    """A 96 MiB form upload goes to the blob store without the server holding it; one past the
    policy's content-length-range never becomes an object."""
    import hashlib

    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    signer = boto3.client("s3", endpoint_url=freehold_sqlite.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    size = 96 * 1024 * 1024
    post = signer.generate_presigned_post(bucket, "big.bin", Conditions=[["content-length-range", 1, size]],
                                          ExpiresIn=300)
    body, content_type = multipart(post["fields"], "big.bin", b"", "application/octet-stream")
    head, _, tail = body.partition(b"Content-Type: application/octet-stream\r\n\r\n")
    head += b"Content-Type: application/octet-stream\r\n\r\n"
    pid = freehold_sqlite.process.pid
    before = _peak_rss(pid)
    status, answer = _post_streamed(post["url"], head, size, tail, content_type)
    assert status == 204, answer
    grown = _peak_rss(pid) - before
    assert grown < 40 * 1024 * 1024, f"peak RSS grew by {grown / 1048576:.0f} MiB"
    got = s3.head_object(Bucket=bucket, Key="big.bin")
    assert got["ContentLength"] == size
    expected = hashlib.md5(b"f" * size).hexdigest()
    assert got["ETag"] == f'"{expected}"'

    small = signer.generate_presigned_post(bucket, "too-big.bin", Conditions=[["content-length-range", 1, 1024 * 1024]],
                                           ExpiresIn=300)
    body, content_type = multipart(small["fields"], "too-big.bin", b"", "application/octet-stream")
    head, _, tail = body.partition(b"Content-Type: application/octet-stream\r\n\r\n")
    head += b"Content-Type: application/octet-stream\r\n\r\n"
    status, answer = _post_streamed(small["url"], head, 8 * 1024 * 1024, tail, content_type)
    assert status in (400, None), answer
    if status == 400:
        assert b"<Code>EntityTooLarge</Code>" in answer
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["big.bin"]


def test_post_form_fields_are_bounded(s3: Any, freehold_sqlite: Any) -> None:
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    body, content_type = multipart({"key": "k", "x-ignore-padding": "p" * 30000}, "a.txt", b"x", "text/plain")
    status, _, answer = request(f"{freehold_sqlite.endpoint_url}/{bucket}", "POST", body,
                                {"Content-Type": content_type})
    assert status == 400 and b"<Code>MaxPostPreDataLengthExceeded</Code>" in answer
    assert b"<MaxPostPreDataLengthBytes>20480</MaxPostPreDataLengthBytes>" in answer
    status, _, answer = request(f"{freehold_sqlite.endpoint_url}/{bucket}", "POST", b"--nope\r\n",
                                {"Content-Type": "multipart/form-data; boundary=other"})
    assert status == 400 and b"<Code>MalformedPOSTRequest</Code>" in answer


def test_post_file_name_must_be_utf8(s3: Any, freehold_sqlite: Any) -> None:
    """The file name fills the key's ${filename}: one that is not UTF-8 is refused, never decoded
    lossily (two different names would become one key); a UTF-8 one is taken as it is."""
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    signer = boto3.client("s3", endpoint_url=freehold_sqlite.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    post = signer.generate_presigned_post(bucket, "up/${filename}", Conditions=[["starts-with", "$key", "up/"]],
                                          ExpiresIn=300)
    body, content_type = multipart(post["fields"], "NAME", b"data", "application/octet-stream")
    bad = body.replace(b'filename="NAME"', b'filename="\xe9\xff.txt"')
    status, _, answer = request(post["url"], "POST", bad, {"Content-Type": content_type})
    assert status == 400 and b"<Code>MalformedPOSTRequest</Code>" in answer, answer
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    good = body.replace(b'filename="NAME"', 'filename="\u00e9t\u00e9.txt"'.encode())
    status, _, answer = request(post["url"], "POST", good, {"Content-Type": content_type})
    assert status == 204, answer
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["up/\u00e9t\u00e9.txt"]
