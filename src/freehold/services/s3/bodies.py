"""Object bodies in and out: storing an upload in the blob store with its digests verified,
and reading an object's bytes (all, or a range) back as a stream.

An upload is written straight from the request stream to a blob (memory independent of its
size) while MD5 and SHA-256 (by the blob store) and the requested S3 checksum are computed.
Only when every digest the client sent matches does the caller commit the row naming the blob;
otherwise the blob is deleted and the error is S3's (BadDigest, InvalidDigest,
XAmzContentSHA256Mismatch). Checksums may arrive as headers or, with aws-chunked bodies, as
trailers once the whole body is in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.services.s3.checksums import ALGORITHMS, MEMBERS, Hasher, b64, new_hasher
from freehold.services.s3.models import INLINE_MAX, ObjectVersion
from freehold.state.blobs import BlobStore

# Bodies up to this size are received whole, then stored and committed in one worker-thread step.
SMALL_BODY = 1024 * 1024
# Bodies are read ahead of the disk by up to READ_AHEAD bytes, in pieces of READ_AHEAD_UNIT.
READ_AHEAD = 8 * 1024 * 1024
READ_AHEAD_UNIT = 1024 * 1024
# Algorithms whose hashing is pure Python: hashed off the event loop.
_SLOW = frozenset({"CRC32C", "CRC64NVME"})


@dataclass
class StoredBody:
    blob: str | None  # None for an empty body (no blob is written)
    size: int
    md5: str  # hex
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64 value
    inline: bytes | None = None  # a small body kept in the object's row (no blob)


def _requested_algorithm(params: dict[str, Any], request: HttpRequest | None) -> str | None:
    """The checksum the client computed: a value member, the trailer it announced, or the
    algorithm it asked S3 to compute."""
    for name in ALGORITHMS:
        if params.get(MEMBERS[name]):
            return name
    if request is not None:
        trailer = (request.headers.get("x-amz-trailer") or "").strip().lower()
        if trailer.startswith("x-amz-checksum-"):
            name = trailer[len("x-amz-checksum-"):].upper()
            if name in ALGORITHMS:
                return name
    algorithm = params.get("ChecksumAlgorithm")
    return str(algorithm).upper() if algorithm else None


async def _chunks_of(body: Any) -> AsyncIterator[bytes]:
    if body is None:
        return
    if isinstance(body, (bytes, bytearray, memoryview)):
        if body:
            yield bytes(body)
        return
    if isinstance(body, str):
        yield body.encode("utf-8")
        return
    async for chunk in body:
        yield chunk


async def receive_small(body: Any, limit: int = SMALL_BODY) -> tuple[bytes | None, AsyncIterator[bytes]]:
    """The whole body when it ends within `limit` bytes (then stored in one step), else None and
    the body as a stream again (what was read first, then the rest)."""
    if body is None or isinstance(body, (bytes, bytearray, memoryview, str)):
        data = b"" if body is None else body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return data, _chunks_of(data)
    chunks: list[bytes] = []
    size = 0
    iterator = body.__aiter__()
    while size <= limit:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            data = b"".join(chunks)
            return data, _chunks_of(data)
        chunks.append(chunk)
        size += len(chunk)

    async def again() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        async for chunk in iterator:
            yield chunk

    return None, again()


def store_bytes(blobs: BlobStore, data: bytes, params: dict[str, Any], request: HttpRequest | None,
                trailers: list[tuple[str, str]]) -> StoredBody:
    """Like store_body for a body already in memory, in one blocking step (a worker thread)."""
    algorithm = _algorithm(params, request)
    hasher: Hasher | None = new_hasher(algorithm) if algorithm else None
    if hasher is not None:
        hasher.update(data)
    if len(data) <= INLINE_MAX:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        stored, sha256 = StoredBody(None, len(data), md5, inline=data), hashlib.sha256(data).hexdigest()
    else:
        info = blobs.write([data])
        stored, sha256 = StoredBody(info.key, info.size, info.md5), info.sha256
    try:
        _verify(stored, sha256, hasher, algorithm, params, trailers, request)
    except BaseException:
        if stored.blob:
            blobs.delete(stored.blob)
        raise
    return stored


def _algorithm(params: dict[str, Any], request: HttpRequest | None) -> str | None:
    algorithm = _requested_algorithm(params, request)
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise ServiceError("InvalidRequest", "Checksum algorithm provided is unsupported.", 400)
    return algorithm


async def store_body(blobs: BlobStore, body: Any, params: dict[str, Any], request: HttpRequest | None,
                     trailer_source: Any = None) -> StoredBody:
    """Write `body` (bytes or an async stream) to a new blob and verify the client's digests.
    `trailer_source` is the aws-chunked stream whose trailers count, when `body` wraps it."""
    algorithm = _algorithm(params, request)
    hasher: Hasher | None = new_hasher(algorithm) if algorithm else None
    size = 0
    empty = True

    async def hashed() -> AsyncIterator[bytes]:
        nonlocal size, empty
        async for chunk in _chunks_of(body):
            if not chunk:
                continue
            empty = False
            size += len(chunk)
            if hasher is not None:
                if algorithm in _SLOW:
                    await asyncio.to_thread(hasher.update, chunk)
                else:
                    hasher.update(chunk)
            yield chunk

    info = await blobs.write_async(read_ahead(hashed()))
    stored = StoredBody(info.key, info.size, info.md5)
    try:
        trailers = trailers_of(trailer_source if trailer_source is not None else body)
        _verify(stored, info.sha256, hasher, algorithm, params, trailers, request)
    except BaseException:
        blobs.delete(info.key)
        raise
    if empty:
        blobs.delete(info.key)
        stored.blob = None
    return stored


async def read_ahead(source: AsyncIterator[bytes], limit: int = READ_AHEAD) -> AsyncIterator[bytes]:
    """`source`, read by a task of its own up to `limit` bytes ahead of the consumer: the
    network keeps flowing while the blob store hashes and writes the previous batch."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    room = asyncio.Semaphore(max(1, limit // READ_AHEAD_UNIT))
    buffered = bytearray()

    async def produce() -> None:
        try:
            async for chunk in source:
                buffered.extend(chunk)
                if len(buffered) >= READ_AHEAD_UNIT:
                    await room.acquire()
                    await queue.put(bytes(buffered))
                    buffered.clear()
            if buffered:
                await room.acquire()
                await queue.put(bytes(buffered))
            await queue.put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            await queue.put(error)

    task = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            room.release()
            yield item
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # noqa: BLE001 - the consumer's own outcome is what matters
                pass


def trailers_of(body: Any) -> list[tuple[str, str]]:
    """The trailers of an aws-chunked body (checksums sent after the payload), once read."""
    return list(getattr(body, "trailers", None) or [])


def _verify(stored: StoredBody, sha256: str, hasher: Hasher | None, algorithm: str | None,
            params: dict[str, Any], trailers: list[tuple[str, str]], request: HttpRequest | None) -> None:
    content_md5 = params.get("ContentMD5")
    if content_md5:
        check_content_md5(content_md5, stored.md5)
    if request is not None and request.stream is not None:
        declared = (request.headers.get("x-amz-content-sha256") or "").lower()
        if len(declared) == 64 and all(c in "0123456789abcdef" for c in declared) and declared != sha256:
            raise ServiceError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                fields={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": sha256},
            )
    if hasher is None or algorithm is None:
        return
    computed = b64(hasher.digest())
    stored.checksums[algorithm] = computed
    sent_after = {k.lower(): v for k, v in trailers}
    expected = params.get(MEMBERS[algorithm]) or sent_after.get(f"x-amz-checksum-{algorithm.lower()}")
    if expected is None:
        return
    check_checksum(algorithm, expected, computed)


def check_content_md5(content_md5: str, md5_hex: str) -> None:
    try:
        raw = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400,
                           fields={"Content-MD5": content_md5})
    if raw.hex() != md5_hex:
        raise ServiceError(
            "BadDigest", "The Content-MD5 you specified did not match what we received.", 400,
            fields={"ExpectedDigest": content_md5, "CalculatedDigest": b64(bytes.fromhex(md5_hex))},
        )


def check_checksum(algorithm: str, expected: str, computed: str) -> None:
    try:
        raw = base64.b64decode(expected, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != len(base64.b64decode(computed)):
        raise ServiceError(
            "InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.", 400
        )
    if expected != computed:
        raise ServiceError(
            "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400
        )


def read_object(blobs: BlobStore, obj: ObjectVersion, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end] (inclusive) of an object, from its row or its blobs."""
    if obj.inline is not None:
        return iter([obj.inline[start : end + 1]])
    return read_segments(blobs, obj.segments, start, end)


def read_segments(blobs: BlobStore, segments: list[tuple[str, int]], start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end] (inclusive) of an object made of `segments`, in bounded chunks.

    Every segment's file is opened before the first byte is yielded, so that a concurrent
    overwrite (which deletes the old blobs after its commit) cannot cut a read short."""
    files = []
    offset = 0
    for blob, size in segments:
        seg_start, seg_end = offset, offset + size - 1
        offset += size
        if size == 0 or seg_end < start or seg_start > end:
            continue
        lo = max(start, seg_start) - seg_start
        hi = min(end, seg_end) - seg_start + 1
        files.append(blobs.read_range(blob, lo, hi))
    return _chain(files)


def _chain(iterators: list[Iterator[bytes]]) -> Iterator[bytes]:
    try:
        for iterator in iterators:
            yield from iterator
    finally:
        for iterator in iterators:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()
