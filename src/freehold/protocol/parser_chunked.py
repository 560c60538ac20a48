"""Decoding S3's `aws-chunked` request bodies (SigV4 streaming uploads and trailing checksums).

Recent SDKs upload with `Content-Encoding: aws-chunked` and
`x-amz-content-sha256: STREAMING-...`: the body is a series of

    <hex size>[;chunk-signature=<sig>]\\r\\n<bytes>\\r\\n

ended by a zero-size chunk, then optional trailer lines (`x-amz-checksum-crc32:<b64>`) and
an empty line. See https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html.
The payload is what S3 stores; trailers are returned so the checksum members can be read as
if they had come as headers. Chunk signatures are checked by a `verifier` (in strict mode the
gateway runs this decoder with gateway/chunk_signatures.py's verifier before the parser runs it again
without one, so the bytes verified are decoded exactly as the bytes parsed).
"""

from __future__ import annotations

import re

from freehold.protocol.chunked_stream import ChunkVerifier
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest


def is_aws_chunked(request: HttpRequest) -> bool:
    encoding = (request.headers.get("content-encoding") or "").lower()
    sha = (request.headers.get("x-amz-content-sha256") or "").upper()
    return "aws-chunked" in encoding or sha.startswith("STREAMING-")


# A chunk size is plain hex digits. int(text, 16) alone would also take "-4", "+4", "0x4"
# and "4_0"; a negative size moves the read position backwards and loops for ever.
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


def _incomplete() -> ServiceError:
    return ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


def decode_aws_chunked(
    body: bytes, verifier: ChunkVerifier | None = None
) -> tuple[bytes, list[tuple[str, str]]]:
    """The payload and the trailer headers of an aws-chunked body; `verifier` (if any) is told
    about every chunk and every trailer line and raises at the first bad signature."""
    chunks: list[bytes] = []
    offset = 0
    while True:
        end = body.find(b"\r\n", offset)
        if end < 0:
            raise _incomplete()
        size_text, _, extensions = body[offset:end].partition(b";")
        size_text = size_text.strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise ServiceError("InvalidChunkSizeError", "Invalid chunk size in aws-chunked body", 400)
        size = int(size_text, 16)
        offset = end + 2
        if verifier is not None:
            verifier.begin_chunk(extensions)
        if size == 0:
            if verifier is not None:
                verifier.end_chunk()
            break
        if offset + size > len(body):
            raise _incomplete()
        chunk = body[offset : offset + size]
        if verifier is not None:
            verifier.update(chunk)
            verifier.end_chunk()
        chunks.append(chunk)
        offset += size
        if body[offset : offset + 2] == b"\r\n":
            offset += 2
    every: list[tuple[str, str]] = []
    for line in body[offset:].split(b"\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            every.append((name.strip(), value.strip()))
    if verifier is not None:
        verifier.end_trailers(every)
    trailers = [(name, value) for name, value in every if name.lower() != "x-amz-trailer-signature"]
    return b"".join(chunks), trailers


def strip_aws_chunked(content_encoding: str) -> str:
    """Content-Encoding without `aws-chunked`, as S3 stores it ('' when nothing is left)."""
    parts = [p.strip() for p in content_encoding.split(",")]
    return ",".join(p for p in parts if p and p.lower() != "aws-chunked")
