"""Encoding event-stream output members (application/vnd.amazon.eventstream).

Each event is one binary message: a prelude (total length, headers length, CRC32 of both),
typed headers, the payload and a CRC32 of everything before it
(https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream,
the same framing botocore/eventstream.py decodes). A provider gives the stream member as an
iterable or async iterable of `{EventName: {...members...}}` dicts, the same shape boto3
yields to a user. The protocol serializer supplies how a structure payload is written.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

from freehold.protocol.http import Body
from freehold.protocol.serializer_values import epoch_seconds, to_bytes

CONTENT_TYPE = "application/vnd.amazon.eventstream"

# Writes the body of a structure event payload: (shape, value, element name) -> bytes.
PayloadWriter = Callable[[Any, dict[str, Any], str], bytes]

HeaderValue = tuple[int, bytes]


def _string_header(value: str) -> HeaderValue:
    data = value.encode("utf-8")
    return 7, struct.pack(">H", len(data)) + data


def _typed_header(shape: Any, value: Any) -> HeaderValue:
    """The type byte and encoded value of an event header member, by its shape's type."""
    kind = shape.type_name
    if kind == "boolean":
        return (0 if value else 1), b""
    if kind == "byte":
        return 2, struct.pack(">b", int(value))
    if kind == "short":
        return 3, struct.pack(">h", int(value))
    if kind == "integer":
        return 4, struct.pack(">i", int(value))
    if kind == "long":
        return 5, struct.pack(">q", int(value))
    if kind == "blob":
        data = to_bytes(value)
        return 6, struct.pack(">H", len(data)) + data
    if kind == "timestamp":
        # Event-stream timestamps are milliseconds since the epoch.
        return 8, struct.pack(">q", round(epoch_seconds(value) * 1000))
    if isinstance(value, uuid.UUID):
        return 9, value.bytes
    return _string_header(str(value))


def encode_message(headers: list[tuple[str, HeaderValue]], payload: bytes) -> bytes:
    """One event-stream message with its prelude and both CRC32 checksums."""
    header_bytes = bytearray()
    for name, (kind, encoded) in headers:
        raw_name = name.encode("utf-8")
        header_bytes += struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">B", kind) + encoded
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + bytes(header_bytes) + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


class EventStreamEncoder:
    """Turns the events of one event-stream member into messages, for one protocol."""

    def __init__(self, stream_shape: Any, body_content_type: str, write_payload: PayloadWriter) -> None:
        self._shape = stream_shape
        self._content_type = body_content_type
        self._write_payload = write_payload

    def initial_response(self, payload: bytes) -> bytes:
        """The `initial-response` event RPC protocols (json) send before the events."""
        return encode_message(
            [
                (":message-type", _string_header("event")),
                (":event-type", _string_header("initial-response")),
                (":content-type", _string_header(self._content_type)),
            ],
            payload,
        )

    def event(self, event: dict[str, Any]) -> bytes:
        if len(event) != 1:
            raise ValueError(f"an event has exactly one member, got {sorted(event)}")
        (event_name, value), = event.items()
        event_shape = self._shape.members[event_name]
        value = value or {}
        if event_shape.metadata.get("exception"):
            return encode_message(
                [
                    (":message-type", _string_header("exception")),
                    (":exception-type", _string_header(event_name)),
                    (":content-type", _string_header(self._content_type)),
                ],
                self._write_payload(event_shape, value, event_name),
            )
        headers: list[tuple[str, HeaderValue]] = [
            (":message-type", _string_header("event")),
            (":event-type", _string_header(event_name)),
        ]
        payload: bytes | None = None
        content_type = self._content_type
        body_members: dict[str, Any] = {}
        for name, member in event_shape.members.items():
            member_value = value.get(name)
            if member_value is None:
                continue
            if member.serialization.get("eventheader"):
                headers.append((name, _typed_header(member, member_value)))
            elif member.serialization.get("eventpayload"):
                if member.type_name == "blob":
                    payload, content_type = to_bytes(member_value), "application/octet-stream"
                elif member.type_name == "string":
                    payload, content_type = str(member_value).encode("utf-8"), "text/plain"
                else:
                    payload = self._write_payload(member, member_value, member.name)
            else:
                body_members[name] = member_value
        if payload is None:
            payload = self._write_payload(event_shape, body_members, event_name)
        headers.append((":content-type", _string_header(content_type)))
        return encode_message(headers, payload)

    def body(self, events: Any, initial: bytes | None = None) -> Body:
        """The response body: bytes for a list of events, an async stream for a live one."""
        if isinstance(events, (list, tuple)):
            parts = [initial] if initial is not None else []
            parts.extend(self.event(item) for item in events)
            return b"".join(parts)
        return self._stream(events, initial)

    async def _stream(self, events: AsyncIterable[Any] | Iterable[Any], initial: bytes | None) -> AsyncIterator[bytes]:
        if initial is not None:
            yield initial
        if isinstance(events, AsyncIterable):
            async for item in events:
                yield self.event(item)
        else:
            for item in events:
                yield self.event(item)
