"""Decoding whole aws-chunked bodies: chunk sizes that are not plain hex are refused."""

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
