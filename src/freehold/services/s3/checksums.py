"""S3's object checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256 (and the newer SHA512, MD5), computed as bodies stream.

Values travel base64-encoded (big-endian for the CRCs), in `x-amz-checksum-<algorithm>`
headers or aws-chunked trailers
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
CRC32 and SHA come from zlib/hashlib; CRC32C and CRC64NVME have no C implementation in the
standard library, so they are table-driven here (slower; only used when a client asks).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5")
# The output member of each algorithm, as boto3 names it (ChecksumCRC32 ...).
MEMBERS = {name: f"Checksum{name}" for name in ALGORITHMS}


def _reflected_table(poly: int, width: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _TableCrc:
    """A reflected CRC with init and xor-out all ones (CRC-32C, CRC-64/NVME)."""

    def __init__(self, table: list[int], width: int) -> None:
        self._table = table
        self._width = width
        self._mask = (1 << width) - 1
        self._crc = self._mask

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        crc, table = self._crc, self._table
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return ((self._crc ^ self._mask) & self._mask).to_bytes(self._width // 8, "big")


class _Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return (self._crc & 0xFFFFFFFF).to_bytes(4, "big")


FACTORIES: dict[str, Callable[[], Hasher]] = {
    "CRC32": _Crc32,
    "CRC32C": lambda: _TableCrc(_CRC32C_TABLE, 32),
    "CRC64NVME": lambda: _TableCrc(_CRC64NVME_TABLE, 64),
    "SHA1": lambda: hashlib.sha1(usedforsecurity=False),
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "MD5": lambda: hashlib.md5(usedforsecurity=False),
}


def new_hasher(algorithm: str) -> Hasher:
    return FACTORIES[algorithm.upper()]()


def checksum_of(algorithm: str, data: bytes) -> str:
    """The base64 checksum of `data` with `algorithm`."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return b64(hasher.digest())


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def combine_composite(algorithm: str, part_digests: list[bytes]) -> str:
    """A multipart upload's COMPOSITE checksum: the checksum of the parts' raw checksums,
    with `-<part count>`, as S3 reports it for SHA and CRC32(C) composite uploads."""
    hasher = new_hasher(algorithm)
    for raw in part_digests:
        hasher.update(raw)
    return f"{b64(hasher.digest())}-{len(part_digests)}"
