"""IAM's Marker/MaxItems pagination.

A page has at most MaxItems entries (default 100); when more follow, the response says
IsTruncated=true and carries a Marker to pass back; on the last page IsTruncated is false
and there is no Marker - exactly how AWS and botocore's paginators expect it. Markers are
opaque to clients: here, the sort key of the last entry returned, base64url-encoded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from freehold.protocol.errors import ServiceError
from freehold.services.iam.validation import check_max_items

T = TypeVar("T")


def encode_marker(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ServiceError("ValidationError", "Invalid Marker.") from None


def page_fields(truncated: bool, last_key: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"IsTruncated": truncated}
    if truncated and last_key is not None:
        fields["Marker"] = encode_marker(last_key)
    return fields


def paginate(items: Sequence[T], key: Callable[[T], str], params: dict[str, Any]) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` (sorted here by `key`) for the request's Marker and MaxItems."""
    max_items = check_max_items(params.get("MaxItems"))
    after = decode_marker(params.get("Marker"))
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    chosen = ordered[:max_items]
    truncated = len(ordered) > max_items
    return chosen, page_fields(truncated, key(chosen[-1]) if chosen else None)
