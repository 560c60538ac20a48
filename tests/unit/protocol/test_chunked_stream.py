"""The streaming aws-chunked decoder: any split of the wire bytes gives the payload and trailers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.protocol.chunked_stream import AwsChunkedStream
from freehold.protocol.errors import ServiceError
from freehold.protocol.parser_chunked import decode_aws_chunked


def frame(pieces: list[bytes], trailers: list[tuple[str, str]], signed: bool = False) -> bytes:
    out = b""
    for piece in pieces:
        extension = b";chunk-signature=" + b"a" * 64 if signed else b""
        out += b"%x" % len(piece) + extension + b"\r\n" + piece + b"\r\n"
    out += b"0\r\n" + b"".join(f"{k}:{v}\r\n".encode() for k, v in trailers) + b"\r\n"
    return out


async def _source(wire: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    previous = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(wire))) + [len(wire)]:
        yield wire[previous:cut]
        previous = cut


def decode(wire: bytes, cuts: list[int], length: int | None = None) -> tuple[bytes, list[tuple[str, str]]]:
    async def run() -> tuple[bytes, list[tuple[str, str]]]:
        stream = AwsChunkedStream(_source(wire, cuts), length)
        data = b"".join([chunk async for chunk in stream])
        return data, stream.trailers

    return asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), max_size=6), st.lists(st.integers(0, 2000), max_size=12),
       st.booleans())
def test_any_split_decodes_like_the_whole_body_decoder(pieces: list[bytes], cuts: list[int], signed: bool) -> None:
    wire = frame(pieces, [("x-amz-checksum-crc32", "AAAAAA==")], signed)
    payload, trailers = decode(wire, cuts, sum(len(p) for p in pieces))
    assert payload == b"".join(pieces)
    assert (payload, trailers) == decode_aws_chunked(wire)


def test_truncated_body_and_bad_sizes() -> None:
    wire = frame([b"hello world"], [])
    with pytest.raises(ServiceError) as excinfo:
        decode(wire[:8], [3])
    assert excinfo.value.code == "IncompleteBody"
    with pytest.raises(ServiceError) as excinfo:
        decode(b"zz\r\nabc\r\n0\r\n\r\n", [])
    assert excinfo.value.code == "InvalidChunkSizeError"
    with pytest.raises(ServiceError) as excinfo:
        decode(wire, [], length=99)
    assert excinfo.value.code == "IncompleteBody"
