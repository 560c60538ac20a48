"""Request bodies as they arrive: the ASGI `receive` channel as an async iterator, read once.

The gateway decides per operation whether a body is read whole (`read_whole`, capped at
MAX_BODY_BYTES so a huge body cannot exhaust memory) or handed to the provider as a stream
(operations whose input payload is a streaming blob: S3 PutObject and UploadPart). A streamed
body in S3's `aws-chunked` encoding is decoded on the fly (protocol.chunked_stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from freehold.protocol.errors import ServiceError

# Bodies read whole are refused beyond this: only streamed payloads may be larger.
MAX_BODY_BYTES = 256 * 1024 * 1024

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


def too_large() -> ServiceError:
    return ServiceError("RequestEntityTooLarge", f"Request bodies are limited to {MAX_BODY_BYTES} bytes.", 413)


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
                raise too_large()
            chunks.append(chunk)
    except ClientDisconnected:
        raise incomplete_body() from None
    return b"".join(chunks)
