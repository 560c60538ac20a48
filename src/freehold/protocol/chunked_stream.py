"""Decoding S3's `aws-chunked` bodies while they stream in (the whole-body version is
parser_chunked.py; the format is described there and at
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).

    decoded = AwsChunkedStream(raw_chunks, decoded_length=1234)
    async for piece in decoded: ...       # the payload, in pieces as they arrive
    decoded.trailers                      # [('x-amz-checksum-crc32', 'AAAAAA==')] once done

Memory stays bounded by one incoming chunk plus one chunk header whatever the body size.
Chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are not verified here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from freehold.protocol.errors import ServiceError

# Longest chunk-size line (hex size plus `;chunk-signature=<64 hex>`) and trailer section.
MAX_HEADER_LINE = 4096
MAX_TRAILERS = 64 * 1024


def _incomplete() -> ServiceError:
    return ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


def _bad_size() -> ServiceError:
    return ServiceError("InvalidChunkSizeError", "Invalid chunk size in aws-chunked body", 400)


class AwsChunkedStream(AsyncIterator[bytes]):
    """The payload of an aws-chunked body, decoded from its raw chunks as they arrive."""

    def __init__(self, source: AsyncIterator[bytes], decoded_length: int | None = None) -> None:
        self._source = source
        self._decoded_length = decoded_length
        self._gen = self._decode()
        self.trailers: list[tuple[str, str]] = []
        self.size = 0

    def __aiter__(self) -> AwsChunkedStream:
        return self

    async def __anext__(self) -> bytes:
        return await self._gen.__anext__()

    async def _decode(self) -> AsyncIterator[bytes]:
        buf = bytearray()
        source = self._source

        async def fill() -> None:
            try:
                chunk = await source.__anext__()
            except StopAsyncIteration:
                raise _incomplete() from None
            buf.extend(chunk)

        while True:
            end = buf.find(b"\r\n")
            while end < 0:
                if len(buf) > MAX_HEADER_LINE:
                    raise _bad_size()
                await fill()
                end = buf.find(b"\r\n")
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            del buf[: end + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _bad_size() from None
            if size < 0:
                raise _bad_size()
            if size == 0:
                break
            remaining = size
            while remaining:
                if not buf:
                    try:
                        chunk = await source.__anext__()
                    except StopAsyncIteration:
                        raise _incomplete() from None
                    if len(chunk) <= remaining:  # the common case: no copy at all
                        remaining -= len(chunk)
                        self.size += len(chunk)
                        yield chunk
                        continue
                    buf.extend(chunk)
                take = min(remaining, len(buf))
                piece = bytes(buf[:take])
                del buf[:take]
                remaining -= take
                self.size += take
                yield piece
            while len(buf) < 2:
                await fill()
            if buf[:2] != b"\r\n":
                raise _incomplete()
            del buf[:2]
        # Trailers up to the end of the body.
        async for chunk in source:
            buf.extend(chunk)
            if len(buf) > MAX_TRAILERS:
                raise _incomplete()
        for line in bytes(buf).split(b"\r\n"):
            if not line.strip():
                continue
            name, sep, value = line.decode("latin-1").partition(":")
            if sep and name.strip().lower() != "x-amz-trailer-signature":
                self.trailers.append((name.strip(), value.strip()))
        if self._decoded_length is not None and self._decoded_length != self.size:
            raise _incomplete()
