"""A minimal CBOR (RFC 8949) encoder for the smithy-rpc-v2-cbor protocol.

It writes exactly the data items Smithy RPC v2 CBOR uses
(https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html#shape-serialization):
unsigned/negative integers, byte and text strings, definite-length arrays and maps,
booleans, null, 64-bit floats, and tag 1 (epoch-seconds timestamps).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EpochTimestamp:
    """A timestamp to write as CBOR tag 1 around its epoch seconds."""

    seconds: int | float


def _head(major: int, length: int) -> bytes:
    if length < 0:
        raise ValueError("CBOR lengths are non-negative")
    if length < 24:
        return bytes([(major << 5) | length])
    if length < 1 << 8:
        return bytes([(major << 5) | 24, length])
    if length < 1 << 16:
        return bytes([(major << 5) | 25]) + length.to_bytes(2, "big")
    if length < 1 << 32:
        return bytes([(major << 5) | 26]) + length.to_bytes(4, "big")
    if length < 1 << 64:
        return bytes([(major << 5) | 27]) + length.to_bytes(8, "big")
    raise ValueError(f"integer too large for CBOR: {length}")


def _encode_into(out: bytearray, value: Any) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out += _head(3, len(data))
        out += data
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        out += _head(2, len(data))
        out += data
    elif isinstance(value, EpochTimestamp):
        out += _head(6, 1)
        _encode_into(out, value.seconds)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for key, item in value.items():
            _encode_into(out, key)
            _encode_into(out, item)
    elif isinstance(value, (list, tuple)):
        out += _head(4, len(value))
        for item in value:
            _encode_into(out, item)
    else:
        raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


def cbor_encode(value: Any) -> bytes:
    """The CBOR encoding of a tree of None/bool/int/float/str/bytes/dict/list/EpochTimestamp."""
    out = bytearray()
    _encode_into(out, value)
    return bytes(out)
