"""Decoding whole aws-chunked bodies: chunk sizes that are not plain hex are refused; a verifier
sees every chunk and trailer."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.protocol.parser_chunked import decode_aws_chunked


def test_decodes_chunks_and_trailers() -> None:
    body = b"5;chunk-signature=a\r\nhello\r\n0;chunk-signature=b\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert decode_aws_chunked(body) == (b"hello", [("x-amz-checksum-crc32", "AAAAAA==")])


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "size", [b"-4", b"-1", b"+5", b"0x5", b"5_0", b"", b"zz", b"1" * 17],
)
def test_a_chunk_size_that_is_not_plain_hex_is_refused(size: bytes) -> None:
    # "-4" once sent the read position back to the start of the body: an endless loop.
    with pytest.raises(ServiceError) as caught:
        decode_aws_chunked(size + b"\r\nhello\r\n0\r\n\r\n")
    assert (caught.value.code, caught.value.status) == ("InvalidChunkSizeError", 400)


class _Recorder:
    """A verifier that records what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def begin_chunk(self, extensions: bytes) -> None:
        self.events.append(("begin", extensions))

    def update(self, data: bytes) -> None:
        self.events.append(("data", data))

    def end_chunk(self) -> None:
        self.events.append(("end", None))

    def end_trailers(self, trailers: list[tuple[str, str]]) -> None:
        self.events.append(("trailers", trailers))


def test_the_verifier_sees_every_chunk_and_every_trailer() -> None:
    body = (b"5;chunk-signature=a\r\nhello\r\n0;chunk-signature=b\r\n"
            b"x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:c\r\n\r\n")
    recorder = _Recorder()
    assert decode_aws_chunked(body, recorder) == (b"hello", [("x-amz-checksum-crc32", "AAAAAA==")])
    assert recorder.events == [
        ("begin", b"chunk-signature=a"), ("data", b"hello"), ("end", None),
        ("begin", b"chunk-signature=b"), ("end", None),
        ("trailers", [("x-amz-checksum-crc32", "AAAAAA=="), ("x-amz-trailer-signature", "c")]),
    ]
