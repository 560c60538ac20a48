"""The Smithy RPC v2 CBOR parser (CloudWatch's newest protocol), with a small CBOR decoder.

Requests go to `POST /service/<targetPrefix>/operation/<Operation>` with the header
`smithy-protocol: rpc-v2-cbor` and a CBOR map body (RFC 8949). Timestamps are tag 1
(epoch seconds), blobs are byte strings. The decoder below reads the subset of CBOR that
Smithy clients write (all major types, indefinite lengths, half/single/double floats);
it is bounded in depth and never trusts a length beyond the bytes actually present.
"""

from __future__ import annotations

import math
import struct
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.protocol.parser_base import RequestParser, epoch_to_datetime
from freehold.protocol.parser_json import TreeReader, serialization_error

MAX_DEPTH = 128
_BREAK = object()


class CborError(ValueError):
    """The body is not well-formed CBOR."""


class Tagged:
    """A tagged CBOR value other than the timestamp tag, kept as it came."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: int, value: Any) -> None:
        self.tag = tag
        self.value = value


class Timestamp(float):
    """An epoch time read from CBOR tag 1."""


def decode_cbor(data: bytes) -> Any:
    """The one CBOR data item in `data`; CborError on anything malformed or trailing."""
    decoder = _Decoder(data)
    value = decoder.item(0)
    if value is _BREAK:
        raise CborError("unexpected break")
    if decoder.offset != len(data):
        raise CborError("trailing bytes after the CBOR data item")
    return value


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, count: int) -> bytes:
        end = self.offset + count
        if count < 0 or end > len(self.data):
            raise CborError("truncated CBOR data")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int.from_bytes(self.take(2), "big")
        if info == 26:
            return int.from_bytes(self.take(4), "big")
        if info == 27:
            return int.from_bytes(self.take(8), "big")
        if info == 31:
            return None  # indefinite length
        raise CborError(f"reserved additional information {info}")

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CborError("CBOR nesting too deep")
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self.simple(info)
        arg = self.argument(info)
        if major == 0:
            return _definite(arg)
        if major == 1:
            return -1 - _definite(arg)
        if major in (2, 3):
            raw = self.string(major, arg, depth)
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CborError("invalid UTF-8 in a text string") from None
        if major == 4:
            return self.array(arg, depth)
        if major == 5:
            return self.map(arg, depth)
        tag = _definite(arg)
        value = self.item(depth + 1)
        if tag == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
            return Timestamp(value)
        return Tagged(tag, value)

    def string(self, major: int, length: int | None, depth: int) -> bytes:
        if length is not None:
            return self.take(length)
        chunks: list[bytes] = []
        while True:
            initial = self.take(1)[0]
            if initial == 0xFF:
                return b"".join(chunks)
            if initial >> 5 != major:
                raise CborError("bad chunk in an indefinite-length string")
            chunks.append(self.take(_definite(self.argument(initial & 0x1F))))

    def array(self, length: int | None, depth: int) -> list[Any]:
        items = []
        if length is None:
            while (value := self.item(depth + 1)) is not _BREAK:
                items.append(value)
            return items
        if length > len(self.data) - self.offset:
            raise CborError("array longer than the data")
        for _ in range(length):
            value = self.item(depth + 1)
            if value is _BREAK:
                raise CborError("unexpected break")
            items.append(value)
        return items

    def map(self, length: int | None, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        count = 0
        while length is None or count < length:
            key = self.item(depth + 1)
            if key is _BREAK and length is None:
                return result
            if key is _BREAK or isinstance(key, (list, dict, Tagged)):
                raise CborError("invalid map key")
            value = self.item(depth + 1)
            if value is _BREAK:
                raise CborError("unexpected break")
            result[key] = value
            count += 1
        return result

    def simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None  # null, undefined
        if info == 25:
            return _half(int.from_bytes(self.take(2), "big"))
        if info == 26:
            return float(struct.unpack(">f", self.take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self.take(8))[0])
        if info == 31:
            return _BREAK
        if info == 24:
            self.take(1)
            return None
        if info < 20:
            return None  # unassigned simple values
        raise CborError(f"reserved simple value {info}")


def _definite(value: int | None) -> int:
    if value is None:
        raise CborError("indefinite length where not allowed")
    return value


def _half(bits: int) -> float:
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 0x1F:
        return sign * math.inf if fraction == 0 else math.nan
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


class CborTreeReader(TreeReader):
    """Reads decoded CBOR: byte strings are blobs, tag 1 numbers are timestamps."""

    def _read_timestamp(self, shape: Shape, value: Any, path: Any) -> Any:
        if isinstance(value, Tagged):
            value = value.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stamp = epoch_to_datetime(float(value))
            if stamp is not None:
                return stamp
        raise self.mismatch(value, "a Timestamp", path)

    def _read_blob(self, shape: Shape, value: Any, path: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return super()._read_blob(shape, value, path)

    def _read_float(self, shape: Shape, value: Any, path: Any) -> Any:
        if isinstance(value, Timestamp):
            return float(value)
        return super()._read_float(shape, value, path)


class RpcV2CborParser(RequestParser):
    """smithy-rpc-v2-cbor: operation from the URL path, members from the CBOR body."""

    protocol = "smithy-rpc-v2-cbor"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.target_prefix = str(service_model.metadata.get("targetPrefix", ""))
        self.reader = CborTreeReader()

    def operation(self, request: HttpRequest) -> OperationModel:
        # /service/{serviceName}/operation/{operationName}, possibly behind a path prefix.
        parts = [unquote(part) for part in request.path.split("/")]
        found = None
        if len(parts) >= 4 and (parts[-4], parts[-3], parts[-2]) == ("service", self.target_prefix, "operation"):
            found = self.operation_named(parts[-1])
        if found is None:
            raise ServiceError("UnknownOperationException", f"Unknown operation at {request.path}", 404)
        return found

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if not request.body:
            return {}
        try:
            document = decode_cbor(request.body)
        except (CborError, RecursionError) as exc:
            raise serialization_error(f"Could not parse request body as CBOR: {exc}") from None
        if shape is None:
            return {}
        if not isinstance(document, dict):
            raise self.reader.mismatch(document, "a Structure", "")
        params: dict[str, Any] = self.reader.read_members(shape, document, "")
        return params
