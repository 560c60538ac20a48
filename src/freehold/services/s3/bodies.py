"""Object bodies in and out: storing an upload in the blob store with its digests verified,
and reading an object's bytes (all, or a range) back as a stream.

An upload is written straight from the request stream to a blob (memory independent of its
size) while the blob store computes MD5, the requested S3 checksum and (only when the signature
declared the payload's hash) SHA-256, in threads beside the write.
Only when every digest the client sent matches does the caller commit the row naming the blob;
otherwise the blob is deleted and the error is S3's (BadDigest, InvalidDigest,
XAmzContentSHA256Mismatch). Checksums may arrive as headers or, with aws-chunked bodies, as
trailers once the whole body is in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.services.s3.checksums import ALGORITHMS, MEMBERS, Hasher, b64, new_hasher
from freehold.services.s3.models import INLINE_MAX, ObjectVersion
from freehold.state.blobs import BlobStore

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Bodies up to this size are received whole, then stored and committed in one worker-thread step.
SMALL_BODY = 1024 * 1024


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
    """Like store_body for a body already in memory, in one blocking step (in a worker thread, or
    on the event loop for a small object when the database allows it)."""
    algorithm = _algorithm(params, request)
    hasher: Hasher | None = new_hasher(algorithm) if algorithm else None
    if hasher is not None:
        hasher.update(data)
    declared = declared_sha256(request)
    if len(data) <= INLINE_MAX:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        stored = StoredBody(None, len(data), md5, inline=data)
        sha256 = hashlib.sha256(data).hexdigest() if declared else ""
    else:
        info = blobs.write([data], sha256=declared is not None)
        stored, sha256 = StoredBody(info.key, info.size, info.md5), info.sha256
    try:
        _verify(stored, declared, sha256, hasher, algorithm, params, trailers)
    except BaseException:
        if stored.blob:
            blobs.delete(stored.blob)
        raise
    return stored


def declared_sha256(request: HttpRequest | None) -> str | None:
    """The payload's SHA-256 the signature covers (x-amz-content-sha256 as 64 hex digits), to be
    checked against the body; None for UNSIGNED-PAYLOAD, STREAMING-* and presigned URLs."""
    if request is None or request.stream is None:
        return None
    declared = (request.headers.get("x-amz-content-sha256") or "").lower()
    return declared if _SHA256_HEX.fullmatch(declared) else None


def _algorithm(params: dict[str, Any], request: HttpRequest | None) -> str | None:
    algorithm = _requested_algorithm(params, request)
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise ServiceError("InvalidRequest", "Checksum algorithm provided is unsupported.", 400)
    return algorithm


async def store_body(blobs: BlobStore, body: Any, params: dict[str, Any], request: HttpRequest | None,
                     trailer_source: Any = None) -> StoredBody:
    """Write `body` (bytes or an async stream) to a new blob and verify the client's digests.
    `trailer_source` is the aws-chunked stream whose trailers count, when `body` wraps it.
    The requested checksum is computed by the blob store beside MD5 (in parallel threads);
    SHA-256 only when the signature declared the payload's hash."""
    algorithm = _algorithm(params, request)
    hasher: Hasher | None = new_hasher(algorithm) if algorithm else None
    declared = declared_sha256(request)
    source = body if hasattr(body, "__anext__") else _chunks_of(body)  # no extra layer per chunk
    info = await blobs.write_async(source, sha256=declared is not None,
                                   extra=[hasher] if hasher is not None else ())
    stored = StoredBody(info.key, info.size, info.md5)
    try:
        trailers = trailers_of(trailer_source if trailer_source is not None else body)
        _verify(stored, declared, info.sha256, hasher, algorithm, params, trailers)
    except BaseException:
        blobs.delete(info.key)
        raise
    if info.size == 0:
        blobs.delete(info.key)
        stored.blob = None
    return stored


def trailers_of(body: Any) -> list[tuple[str, str]]:
    """The trailers of an aws-chunked body (checksums sent after the payload), once read."""
    return list(getattr(body, "trailers", None) or [])


def _verify(stored: StoredBody, declared: str | None, sha256: str, hasher: Hasher | None, algorithm: str | None,
            params: dict[str, Any], trailers: list[tuple[str, str]]) -> None:
    content_md5 = params.get("ContentMD5")
    if content_md5:
        check_content_md5(content_md5, stored.md5)
    if declared is not None and declared != sha256:
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
