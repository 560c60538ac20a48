"""Scalar conversions shared by every response serializer: timestamps, blobs and bodies.

Providers hand back Python values the way boto3 returns them to a user (datetime, bytes,
str, int, float, bool). These helpers turn them into what each wire format carries, in
the formats botocore's parsers (botocore/parsers.py, utils.parse_timestamp) read back.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import email.utils
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from freehold.protocol.http import Body

STREAM_CHUNK = 64 * 1024

# Default timestamp format per place, as the AWS protocols define them
# (https://smithy.io/2.0/spec/protocol-traits.html#timestampformat-trait):
# epoch seconds in JSON/CBOR bodies, ISO 8601 in XML bodies, RFC 822 (HTTP-date) in headers.
ISO8601 = "iso8601"
RFC822 = "rfc822"
EPOCH = "unixTimestamp"


def to_datetime(value: Any) -> dt.datetime:
    """A timezone-aware UTC datetime from a datetime, date, epoch number or timestamp string."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, bool):
        raise TypeError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=value)
    if isinstance(value, str):
        from botocore.utils import parse_timestamp

        return to_datetime(parse_timestamp(value))
    raise TypeError(f"not a timestamp: {value!r}")


def epoch_seconds(value: Any) -> int | float:
    """Seconds since the epoch: an int when whole, else a float with microsecond precision."""
    moment = to_datetime(value)
    whole = calendar.timegm(moment.utctimetuple())
    if moment.microsecond == 0:
        return whole
    return whole + moment.microsecond / 1_000_000


def iso8601(value: Any) -> str:
    """ISO 8601 in UTC with milliseconds, as AWS writes it (2024-01-02T03:04:05.000Z).

    Sub-millisecond precision, which AWS never produces, is kept rather than dropped.
    """
    moment = to_datetime(value)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond % 1000 == 0:
        return f"{base}.{moment.microsecond // 1000:03d}Z"
    return f"{base}.{moment.microsecond:06d}Z"


def rfc822(value: Any) -> str:
    """An HTTP-date (Tue, 02 Jan 2024 03:04:05 GMT); HTTP dates have whole seconds only."""
    moment = to_datetime(value)
    return email.utils.formatdate(calendar.timegm(moment.utctimetuple()), usegmt=True)


def format_timestamp(value: Any, fmt: str) -> str | int | float:
    if fmt == EPOCH:
        return epoch_seconds(value)
    if fmt == RFC822:
        return rfc822(value)
    return iso8601(value)


def timestamp_format(shape: Any, default: str) -> str:
    """The member's timestampFormat trait, else the protocol default for where it is written."""
    fmt = shape.serialization.get("timestampFormat")
    return str(fmt) if fmt else default


def to_bytes(value: Any) -> bytes:
    """A blob's bytes, from bytes-like values, text (UTF-8) or a readable file object."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise TypeError(f"not a blob: {type(value).__name__}")


def b64(value: Any) -> str:
    return base64.b64encode(to_bytes(value)).decode("ascii")


def is_streaming(value: Any) -> bool:
    """True for values that are streamed rather than held whole: iterators and file objects."""
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        return False
    return (
        isinstance(value, (AsyncIterable, Iterable))
        or callable(getattr(value, "read", None))
    )


def streaming_body(value: Any) -> Body:
    """The HttpResponse body for a streaming payload: bytes stay bytes, streams stay streams."""
    if not is_streaming(value):
        return to_bytes(value)
    if isinstance(value, AsyncIterator):
        return _encoded_async(value)
    if isinstance(value, AsyncIterable):
        return _encoded_async(value.__aiter__())
    if callable(getattr(value, "read", None)):
        return _file_chunks(value)
    return _iter_chunks(value)


async def _encoded_async(chunks: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        data = to_bytes(chunk)
        if data:
            yield data


async def _iter_chunks(chunks: Iterable[Any]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        data = to_bytes(chunk)
        if data:
            yield data


async def _file_chunks(file: Any) -> AsyncIterator[bytes]:
    try:
        while True:
            data = file.read(STREAM_CHUNK)
            if not data:
                break
            yield to_bytes(data)
    finally:
        close = getattr(file, "close", None)
        if callable(close):
            close()
