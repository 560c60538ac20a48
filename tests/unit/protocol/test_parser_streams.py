"""Streamed payloads: the REST parser hands a request's unread body stream to the provider as
the payload member (S3 PutObject), and leaves aws-chunked decoding to the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for


async def _nothing() -> AsyncIterator[bytes]:
    if False:
        yield b""


def test_stream_becomes_the_payload_member() -> None:
    stream = _nothing()
    request = HttpRequest("PUT", "/bucket/key.txt", "", Headers({
        "content-type": "text/plain", "content-encoding": "aws-chunked,gzip", "x-amz-meta-a": "1",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}), stream=stream)
    parser = parser_for("s3")
    operation = parser.operation(request)
    params = parser.parse(request, operation)
    assert operation.name == "PutObject"
    assert params["Body"] is stream
    assert params["ContentEncoding"] == "gzip"  # aws-chunked is the transfer, not the object's encoding
    assert (params["Bucket"], params["Key"], params["Metadata"]) == ("bucket", "key.txt", {"a": "1"})
