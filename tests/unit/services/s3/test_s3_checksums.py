"""S3 checksum algorithms against their published check values ("123456789")."""

from __future__ import annotations

import base64
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.services.s3.checksums import checksum_of, combine_composite, new_hasher

CHECK = b"123456789"


def test_check_values() -> None:
    assert base64.b64decode(checksum_of("CRC32", CHECK)).hex() == "cbf43926"
    assert base64.b64decode(checksum_of("CRC32C", CHECK)).hex() == "e3069283"
    assert base64.b64decode(checksum_of("CRC64NVME", CHECK)).hex() == "ae8b14860a799888"
    assert base64.b64decode(checksum_of("SHA1", CHECK)).hex() == "f7c3bc1d808e04732adf679965ccc34ca7ae3441"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=500), st.integers(0, 500))
def test_incremental_equals_whole(data: bytes, cut: int) -> None:
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA256"):
        hasher = new_hasher(algorithm)
        hasher.update(data[:cut])
        hasher.update(data[cut:])
        assert base64.b64encode(hasher.digest()).decode() == checksum_of(algorithm, data)
    assert base64.b64decode(checksum_of("CRC32", data)) == (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")


def test_composite() -> None:
    parts = [base64.b64decode(checksum_of("CRC32", p)) for p in (b"a", b"b")]
    assert combine_composite("CRC32", parts) == checksum_of("CRC32", b"".join(parts)) + "-2"
