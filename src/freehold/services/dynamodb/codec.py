"""The stored form of items: compact JSON of the AttributeValue document.

Binary values (B, BS) are base64 in the stored JSON. Most items have none, so the stored
text starts with a marker: 'j' (plain JSON, decoded as is) or 'b' (has binaries: decoding
walks the document to turn them back into bytes).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from freehold.services.dynamodb.types import Item

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


def _value_to_text(value: Any) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in inner]}
    if kind == "M":
        return {"M": {name: _value_to_text(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_value_to_text(member) for member in inner]}
    return value


def _value_from_text(value: Any) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {name: _value_from_text(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_value_from_text(member) for member in inner]}
    return value


def encode_item(item: Item) -> str:
    try:
        return "j" + _dumps(item)
    except TypeError:  # bytes somewhere: B or BS values
        return "b" + _dumps({name: _value_to_text(value) for name, value in item.items()})


def decode_item(text: str) -> Item:
    document: Item = _loads(text[1:])
    if text[0] == "b":
        return {name: _value_from_text(value) for name, value in document.items()}
    return document
