"""The parts of the REST protocols (rest-json, rest-xml) outside the body document.

Output members with `location: header` become headers, a `location: headers` map becomes
headers under its prefix, `location: statusCode` sets the HTTP status, and the member named
by the shape's `payload` trait is the whole body (a blob or string written raw, possibly
streamed, or a structure written as the document).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from typing import Any

from freehold.protocol.http import HttpResponse
from freehold.protocol.serializer_values import (
    RFC822,
    b64,
    format_timestamp,
    streaming_body,
    timestamp_format,
)

_PLAIN_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")

BODY_LESS_LOCATIONS = frozenset({"header", "headers", "statusCode"})


def header_safe(text: str) -> str:
    """A header value HTTP can carry: printable ASCII as is, anything else RFC 2047-encoded.

    S3 returns user metadata with non-ASCII characters as RFC 2047 encoded-words
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata);
    doing the same everywhere also keeps CR/LF from ever splitting a header.
    """
    if _PLAIN_HEADER_VALUE.fullmatch(text):
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def header_text(shape: Any, value: Any) -> str:
    """A header member's value: jsonvalue as base64 JSON, timestamps as HTTP-dates, lists comma-joined."""
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")
    kind = shape.type_name
    if kind == "list":
        return ",".join(header_text(shape.member, item) for item in value)
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, RFC822)))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return b64(value)
    if kind in ("integer", "long", "short", "byte"):
        return str(int(value))
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    return header_safe(str(value))


def write_non_body_members(response: HttpResponse, shape: Any, values: dict[str, Any]) -> None:
    """Headers, prefixed header maps and the status code taken from the output members."""
    for name, member in shape.members.items():
        value = values.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            response.headers.set(member.serialization.get("name", name), header_text(member, value))
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            for key, item in value.items():
                if item is not None:
                    response.headers.add(f"{prefix}{key}", header_text(member.value, item))
        elif location == "statusCode":
            response.status = int(value)


def body_values(shape: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The set members that go in the body document (no header/status location)."""
    return {
        name: values[name]
        for name, member in shape.members.items()
        if values.get(name) is not None and member.serialization.get("location") not in BODY_LESS_LOCATIONS
    }


def has_body_members(shape: Any) -> bool:
    return any(
        member.serialization.get("location") not in BODY_LESS_LOCATIONS for member in shape.members.values()
    )


def payload_member(shape: Any) -> tuple[str, Any] | None:
    """The (name, shape) of the member that is the whole body, when the shape says so."""
    name = shape.serialization.get("payload") if shape is not None else None
    if not name:
        return None
    return str(name), shape.members[name]


def raw_payload_content_type(member: Any) -> str:
    """Content-Type of a raw blob/string payload when no modelled header sets one."""
    return "application/octet-stream" if member.type_name == "blob" else "text/plain; charset=utf-8"


def write_unstructured_payload(
    response: HttpResponse, member: Any, value: Any, content_type: str,
    event_payload: Callable[[Any, dict[str, Any], str], bytes],
) -> bool:
    """Write an event-stream or raw (blob/string) payload member, which every REST protocol
    writes the same way; False when the payload is a structure, for the protocol to write."""
    from freehold.protocol.serializer_eventstream import CONTENT_TYPE as EVENT_STREAM_TYPE
    from freehold.protocol.serializer_eventstream import EventStreamEncoder

    if member.serialization.get("eventstream"):
        response.headers.set("Content-Type", EVENT_STREAM_TYPE)
        response.body = EventStreamEncoder(member, content_type, event_payload).body(value)
        return True
    if member.type_name in ("blob", "string"):
        if "Content-Type" not in response.headers:
            response.headers.set("Content-Type", raw_payload_content_type(member))
        response.body = streaming_body(value)
        return True
    return False
