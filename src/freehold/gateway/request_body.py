"""Request bodies as they arrive: the ASGI `receive` channel as an async iterator, read once.

The gateway decides per operation whether a body is read whole (`read_whole`, capped at the
service's own maximum request size, BODY_CAPS, so a huge body cannot exhaust memory) or handed
to the provider as a stream (operations whose input payload is a streaming blob: S3 PutObject
and UploadPart). A Content-Length beyond the cap is refused before any byte is read. A streamed
body in S3's `aws-chunked` encoding is decoded on the fly (protocol.chunked_stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from freehold.protocol.errors import ServiceError

# Bodies read whole are refused beyond this: only streamed payloads may be larger. It caps
# what is read before the service is known (S3 browser form uploads, non-POST form bodies).
MAX_BODY_BYTES = 256 * 1024 * 1024

_MiB = 1024 * 1024

# The most a request body may hold, per service, when read whole. Each sits a little above the
# service's documented maximum, so that the service's own, more precise error (SQS's "Message
# must be shorter than 1048576 bytes", Lambda's RequestEntityTooLargeException for 6 MB) still
# comes from its provider; beyond the cap the gateway answers 413 without reading. The maximums
# count UTF-8 bytes, while the wire carries them escaped: up to 3x in a form (%XX per byte) or
# in JSON (\uXXXX\uXXXX for a 4-byte character), hence the margins.
BODY_CAPS: dict[str, int] = {
    # "The total request size exceeds 16 MB" (BatchWriteItem; the largest DynamoDB request):
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
    "dynamodb": 16 * _MiB + 64 * 1024,
    "dynamodbstreams": 1 * _MiB,
    # Messages up to 1 MiB (SendMessageBatch: 1 MiB in total), escaped, plus the envelope:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
    "sqs": 4 * _MiB,
    # Publish: 256 KB per message (PublishBatch: 256 KB in total), form-encoded up to 3x larger:
    # https://docs.aws.amazon.com/general/latest/gr/sns.html
    "sns": 1 * _MiB,
    # Invoke: 6 MB synchronous payload (256 KB asynchronous), answered by the provider itself;
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    "lambda": 7 * _MiB,
    # PutLogEvents: 1,048,576 bytes per batch (+26 bytes per event), escaped, plus the envelope:
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
    "logs": 4 * _MiB,
    # S3 streams its uploads; its other bodies (DeleteObjects, CompleteMultipartUpload, policies,
    # configurations) stay within the former whole-body cap.
    "s3": MAX_BODY_BYTES,
}

# Operations allowed more than their service: Lambda's code uploads carry a .zip of up to 50 MB
# base64-encoded in JSON (limits.REQUEST_MAX, 69905067 bytes); the provider answers beyond
# that with Lambda's own message, so the gateway's cap sits above it.
OPERATION_CAPS: dict[tuple[str, str], int] = {
    ("lambda", "CreateFunction"): 80 * _MiB,
    ("lambda", "UpdateFunctionCode"): 80 * _MiB,
    ("lambda", "PublishLayerVersion"): 80 * _MiB,
}

# Any other service (IAM, STS, ...): their documents are kilobytes at most.
DEFAULT_CAP = 10 * _MiB

Receive = Callable[[], Awaitable[dict[str, Any]]]


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


class BodyStream(AsyncIterator[bytes]):
    """The chunks of one request body from an ASGI `receive` callable.

    `http.disconnect` before the last chunk ends the stream with ClientDisconnected, so that a
    half-received upload is never mistaken for a complete one."""

    def __init__(self, receive: Receive, has_body: bool = True) -> None:
        self._receive = receive
        self._done = not has_body
        self.received = 0

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._done = True
                raise ClientDisconnected()
            chunk: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                self._done = True
            if chunk:
                self.received += len(chunk)
                return chunk
        raise StopAsyncIteration

    @property
    def done(self) -> bool:
        """Whether the whole body was read. A response sent before that must close the
        connection: the unread rest of the body would otherwise be taken for the next request."""
        return self._done


def has_body(headers: Any) -> bool:
    """Whether a request with these headers carries a body (Content-Length > 0, or chunked)."""
    if "chunked" in (headers.get("transfer-encoding") or "").lower():
        return True
    length = headers.get("content-length")
    return length is not None and length.strip() not in ("", "0")


def body_cap(service: str | None, operation: str | None = None) -> int:
    """The most a body read whole may hold for this service (and operation, if known)."""
    if service is None:
        return DEFAULT_CAP
    if operation is not None and (service, operation) in OPERATION_CAPS:
        return OPERATION_CAPS[(service, operation)]
    return BODY_CAPS.get(service, DEFAULT_CAP)


def declared_length(headers: Any) -> int | None:
    """The Content-Length the client announced, or None when absent or not a number."""
    value = (headers.get("content-length") or "").strip()
    return int(value) if value.isdigit() else None


def check_declared(headers: Any, limit: int) -> None:
    """Refuse at once, before reading, a body whose Content-Length already exceeds `limit`."""
    length = declared_length(headers)
    if length is not None and length > limit:
        raise too_large(limit)


def too_large(limit: int = MAX_BODY_BYTES) -> ServiceError:
    return ServiceError("RequestEntityTooLarge", f"Request bodies are limited to {limit} bytes.", 413)


def incomplete_body() -> ServiceError:
    return ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


async def read_whole(stream: AsyncIterator[bytes], limit: int = MAX_BODY_BYTES) -> bytes:
    """All of a body, or RequestEntityTooLarge beyond `limit` bytes / IncompleteBody."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnected:
        raise incomplete_body() from None
    return b"".join(chunks)
