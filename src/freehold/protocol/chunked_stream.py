"""Decoding S3's `aws-chunked` bodies while they stream in (the whole-body version is
parser_chunked.py; the format is described there and at
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).

    decoded = AwsChunkedStream(raw_chunks, decoded_length=1234)
    async for piece in decoded: ...       # the payload, in pieces as they arrive
    decoded.trailers                      # [('x-amz-checksum-crc32', 'AAAAAA==')] once done

Memory stays bounded by one incoming chunk plus one chunk header whatever the body size.
Chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are checked by a `verifier` set before
iteration starts (gateway/chunk_signatures.py): it sees each chunk's header extensions, its
bytes and its end, then every trailer line (signature included), and raises to stop the body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from freehold.protocol.errors import ServiceError

# Longest chunk-size line (hex size plus `;chunk-signature=<64 hex>`) and trailer section.
MAX_HEADER_LINE = 4096
MAX_TRAILERS = 64 * 1024


def _incomplete() -> ServiceError:
    return ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


def _bad_size() -> ServiceError:
    return ServiceError("InvalidChunkSizeError", "Invalid chunk size in aws-chunked body", 400)


class ChunkVerifier(Protocol):
    """Told about every chunk of an aws-chunked body as it is decoded; raises on a bad one."""

    def begin_chunk(self, extensions: bytes) -> None: ...

    def update(self, data: bytes) -> None: ...

    def end_chunk(self) -> None: ...

    def end_trailers(self, trailers: list[tuple[str, str]]) -> None: ...


class AwsChunkedStream(AsyncIterator[bytes]):
    """The payload of an aws-chunked body, decoded from its raw chunks as they arrive."""

    def __init__(self, source: AsyncIterator[bytes], decoded_length: int | None = None) -> None:
        self._source = source
        self._decoded_length = decoded_length
        self._gen = self._decode()
        self.trailers: list[tuple[str, str]] = []
        self.size = 0
        self.verifier: ChunkVerifier | None = None

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
            size_text, _, extensions = bytes(buf[:end]).partition(b";")
            size_text = size_text.strip()
            del buf[: end + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _bad_size() from None
            if size < 0:
                raise _bad_size()
            verifier = self.verifier
            if verifier is not None:
                verifier.begin_chunk(extensions)
            if size == 0:
                if verifier is not None:
                    verifier.end_chunk()
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
                        if verifier is not None:
                            verifier.update(chunk)
                        yield chunk
                        continue
                    buf.extend(chunk)
                take = min(remaining, len(buf))
                piece = bytes(buf[:take])
                del buf[:take]
                remaining -= take
                self.size += take
                if verifier is not None:
                    verifier.update(piece)
                yield piece
            while len(buf) < 2:
                await fill()
            if buf[:2] != b"\r\n":
                raise _incomplete()
            del buf[:2]
            if verifier is not None:
                verifier.end_chunk()
        # Trailers up to the end of the body.
        async for chunk in source:
            buf.extend(chunk)
            if len(buf) > MAX_TRAILERS:
                raise _incomplete()
        every: list[tuple[str, str]] = []
        for line in bytes(buf).split(b"\r\n"):
            if not line.strip():
                continue
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                every.append((name.strip(), value.strip()))
        if self.verifier is not None:
            self.verifier.end_trailers(every)
        self.trailers.extend(t for t in every if t[0].lower() != "x-amz-trailer-signature")
        if self._decoded_length is not None and self._decoded_length != self.size:
            raise _incomplete()
