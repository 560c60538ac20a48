"""Pagination tokens of the Logs API.

GetLogEvents' tokens look like AWS's (`f/<56 digits>/s` forward, `b/<56 digits>/s` backward).
Each names a *boundary* in the stream's (timestamp, event id) order: a forward token reads
the events at or after it, a backward token the events before it. A page of events e1..en
answers nextForwardToken = the boundary just after en and nextBackwardToken = the boundary
at e1; a page with no events answers the boundary it was read from, so at either end of a
stream the caller gets back the token it passed, which is how AWS says "nothing more".

The other operations' nextToken values are opaque: base64url of a small JSON document with
the sort key of the last item returned.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from freehold.services.logs.models import invalid

_EVENT_TOKEN = re.compile(r"([fb])/(\d{56})/s")
_TIMESTAMP_DIGITS = 20
_ID_DIGITS = 20


def event_token(forward: bool, timestamp: int, event_id: int) -> str:
    digits = f"{timestamp:0{_TIMESTAMP_DIGITS}d}{event_id:0{_ID_DIGITS}d}".ljust(56, "0")
    return f"{'f' if forward else 'b'}/{digits}/s"


def parse_event_token(token: str) -> tuple[bool, int, int]:
    """(forward?, timestamp, event id) of a GetLogEvents token."""
    match = _EVENT_TOKEN.fullmatch(token)
    if match is None:
        raise invalid("The specified nextToken is invalid.")
    digits = match.group(2)
    timestamp = int(digits[:_TIMESTAMP_DIGITS])
    event_id = int(digits[_TIMESTAMP_DIGITS:_TIMESTAMP_DIGITS + _ID_DIGITS])
    return match.group(1) == "f", timestamp, event_id


def encode(kind: str, value: Any) -> str:
    raw = json.dumps([kind, value], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, token: str | None) -> Any:
    """The value inside a token of `kind`, or None for no token; InvalidParameter if bad."""
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        found_kind, value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid("The specified nextToken is invalid.") from None
    if found_kind != kind:
        raise invalid("The specified nextToken is invalid.")
    return value
