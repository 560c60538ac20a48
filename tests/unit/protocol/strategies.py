"""Hypothesis strategies for the values of botocore shapes: what a real client can send/receive.

Used by the parser round trip (botocore serializes what these generate, we parse it back)
and by the serializer round trip (we serialize what these generate, botocore parses it back).
Public surface, kept stable:

    shape_values(shape, *, location_safe=True) -> SearchStrategy
    operation_input(op) -> SearchStrategy[dict]
    operation_output(op) -> SearchStrategy[dict]

Generated values respect the model: min/max lengths and ranges (kept small), enums, required
members always present, unions with exactly one member, recursion depth-limited (DynamoDB's
AttributeValue), timestamps as tz-aware UTC datetimes at whole seconds, blobs as bytes,
document types as JSON-able values. Event-stream members are skipped.

Values that travel outside the body (header, uri, querystring) use a safe alphabet: printable
ASCII, no leading/trailing spaces, never empty; header-map keys are lowercase tokens (HTTP
servers and botocore's response parser lowercase header names); list-valued headers and
query strings are non-empty (an empty one is simply not sent by botocore).
Body strings use any Unicode that survives JSON, XML and form encoding: no surrogates, no
control characters (XML 1.0 cannot carry most of them and turns CR into LF), no unassigned
code points (U+FFFE/U+FFFF are not XML characters).
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

MAX_DEPTH = 3  # nesting of containers before only required members / empty containers are made
MAX_ITEMS = 3  # list and map sizes beyond their model minimum
MAX_TEXT = 12  # string lengths beyond their model minimum

# Printable ASCII safe in a header value, a URI label and a query string value.
SAFE_ALPHABET = string.ascii_letters + string.digits + "-_.~!*'()@:;=+$&/ ,"
HEADER_KEY_ALPHABET = string.ascii_lowercase + string.digits + "-"
BODY_CHARACTERS = st.characters(exclude_categories=("Cs", "Cc", "Cn"))

TIMESTAMPS = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 12, 31), timezones=st.just(dt.UTC)
).map(lambda d: d.replace(microsecond=0))

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**53), 2**53)  # JSON numbers stay exact in every client below 2**53


def _bounds(shape: Shape, default: tuple[int, int]) -> tuple[int, int]:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    lo = int(low) if low is not None else default[0]
    hi = int(high) if high is not None else default[1]
    return lo, max(lo, hi)


def _size_bounds(shape: Shape, extra: int, *, at_least: int = 0) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0) or 0)
    low = max(low, at_least)
    high = shape.metadata.get("max")
    top = low + extra if high is None else min(int(high), low + extra)
    return low, max(low, top)


def _safe_text(min_size: int, max_size: int) -> SearchStrategy[str]:
    # At least one character, no leading/trailing spaces, never "." or ".." (path segments
    # that URL normalization would eat).
    text = st.text(SAFE_ALPHABET, min_size=max(1, min_size), max_size=max(1, max_size))
    return text.filter(lambda s: s == s.strip() and s not in (".", "..") and s != "")


def _header_key() -> SearchStrategy[str]:
    return st.text(HEADER_KEY_ALPHABET, min_size=1, max_size=10).filter(
        lambda s: not s.startswith("-") and not s.endswith("-")
    )


def _json_values(depth: int = 0) -> SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**31), max_value=2**31),
        st.text(BODY_CHARACTERS, max_size=MAX_TEXT),
    )
    if depth >= MAX_DEPTH:
        return scalars
    inner = _json_values(depth + 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=MAX_ITEMS),
        st.dictionaries(st.text(BODY_CHARACTERS, max_size=8), inner, max_size=MAX_ITEMS),
    )


class _Builder:
    """Builds the strategy of one shape; `safe` restricts strings to the safe alphabet."""

    def value(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        method = getattr(self, f"_{shape.type_name}", None)
        if method is None:
            raise TypeError(f"no strategy for shape type {shape.type_name} ({shape.name})")
        result: SearchStrategy[Any] = method(shape, depth, safe)
        return result

    # Scalars -----------------------------------------------------------------------------

    def _string(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        if shape.enum:
            return st.sampled_from(list(shape.enum))
        if shape.serialization.get("jsonvalue"):
            return st.dictionaries(st.text(SAFE_ALPHABET, max_size=6), _json_values(MAX_DEPTH - 1), max_size=3)
        low, high = _size_bounds(shape, MAX_TEXT)
        if safe:
            return _safe_text(low, high)
        # Model lengths count characters; keep to the BMP so every client agrees on length.
        return st.text(BODY_CHARACTERS.filter(lambda c: ord(c) < 0x10000), min_size=low, max_size=high)

    def _character(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        return st.sampled_from(string.ascii_letters)

    def _integer(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        low, high = _bounds(shape, INT32)
        return st.integers(min_value=low, max_value=high)

    def _long(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        low, high = _bounds(shape, INT64)
        return st.integers(min_value=max(low, INT64[0]), max_value=min(high, INT64[1]))

    _short = _integer
    _byte = _integer

    def _float(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        return self._floating(shape, width=32)

    def _double(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        return self._floating(shape, width=64)

    def _floating(self, shape: Shape, width: int) -> SearchStrategy[Any]:
        # NaN never equals itself, so it cannot be checked by a round trip; infinities can.
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        return st.floats(
            min_value=float(low) if low is not None else None,
            max_value=float(high) if high is not None else None,
            allow_nan=False,
            allow_infinity=low is None and high is None,
            width=width,  # type: ignore[arg-type]
        )

    def _boolean(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        return st.booleans()

    def _blob(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        low, high = _size_bounds(shape, 24)
        return st.binary(min_size=low, max_size=high)

    def _timestamp(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        return TIMESTAMPS

    # Containers --------------------------------------------------------------------------

    def _list(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        low, high = _size_bounds(shape, 0 if depth >= MAX_DEPTH else MAX_ITEMS)
        return st.lists(self.value(shape.member, depth + 1, safe), min_size=low, max_size=high)  # type: ignore[attr-defined]

    def _map(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        low, high = _size_bounds(shape, 0 if depth >= MAX_DEPTH else MAX_ITEMS)
        keys = self.value(shape.key, depth + 1, safe)  # type: ignore[attr-defined]
        values = self.value(shape.value, depth + 1, safe)  # type: ignore[attr-defined]
        return st.dictionaries(keys, values, min_size=low, max_size=high)

    def _structure(self, shape: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        assert isinstance(shape, StructureShape)
        if shape.is_document_type:
            return _json_values(depth)
        members = {
            name: member
            for name, member in shape.members.items()
            if not member.serialization.get("eventstream") and not self._skipped(member)
        }
        if shape.metadata.get("union"):
            return self._union(members, depth, safe)
        required = {n: self.member(shape, n, m, depth, safe) for n, m in members.items() if n in shape.required_members}
        optional = (
            {}
            if depth >= MAX_DEPTH
            else {n: self.member(shape, n, m, depth, safe) for n, m in members.items() if n not in required}
        )
        return st.fixed_dictionaries(required, optional=optional)

    def _union(self, members: dict[str, Shape], depth: int, safe: bool) -> SearchStrategy[Any]:
        names = list(members)
        if depth >= MAX_DEPTH:
            # Prefer a scalar member so that recursive unions end.
            scalars = [n for n in names if members[n].type_name not in ("structure", "list", "map")]
            names = scalars or names
        return st.one_of(
            *[self.value(members[n], depth + 1, safe).map(lambda v, n=n: {n: v}) for n in names]
        )

    def _skipped(self, member: Shape) -> bool:
        return bool(member.serialization.get("eventstream")) or bool(
            member.type_name == "structure" and member.serialization.get("eventstream")
        )

    def member(self, parent: Shape, name: str, member: Shape, depth: int, safe: bool) -> SearchStrategy[Any]:
        location = member.serialization.get("location")
        if location is None:
            return self.value(member, depth + 1, safe)
        if location == "statusCode":
            return st.sampled_from([200, 202])
        if location == "headers":
            # A prefixed header map: lowercase token keys, safe values.
            return st.dictionaries(_header_key(), _safe_text(1, MAX_TEXT), max_size=MAX_ITEMS)
        if location == "querystring" and member.type_name == "map":
            taken = _querystring_names(parent)
            value_shape = member.value  # type: ignore[attr-defined]
            values = (
                st.lists(_safe_text(1, MAX_TEXT), min_size=1, max_size=MAX_ITEMS)
                if value_shape.type_name == "list"
                else _safe_text(1, MAX_TEXT)
            )
            keys = _safe_text(1, 10).filter(lambda k: k not in taken)
            return st.dictionaries(keys, values, max_size=MAX_ITEMS)
        if member.type_name == "list":
            low, high = _size_bounds(member, MAX_ITEMS, at_least=1)
            return st.lists(self.value(member.member, depth + 1, True), min_size=low, max_size=high)  # type: ignore[attr-defined]
        if member.serialization.get("hostLabel"):
            return st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20)
        return self.value(member, depth + 1, True)


def _querystring_names(shape: Shape) -> set[str]:
    names = set()
    for name, member in getattr(shape, "members", {}).items():
        if member.serialization.get("location") == "querystring":
            names.add(member.serialization.get("name", name))
    return names


def shape_values(shape: Shape, *, location_safe: bool = True) -> SearchStrategy[Any]:
    """Values of `shape`; with location_safe, strings use the header/uri/query-safe alphabet."""
    return _Builder().value(shape, 0, location_safe)


def _operation_values(shape: Shape | None) -> SearchStrategy[dict[str, Any]]:
    if shape is None:
        return st.just({})
    # Depth -1: the top-level structure's own members start at depth 0.
    return _Builder().value(shape, -1, False)


def operation_input(op: OperationModel) -> SearchStrategy[dict[str, Any]]:
    """Parameters a boto3 user could pass to `op` (the dict given to botocore's serializer)."""
    return _operation_values(op.input_shape)


def operation_output(op: OperationModel) -> SearchStrategy[dict[str, Any]]:
    """Output members a service could return for `op` (what botocore's parser would give)."""
    return _operation_values(op.output_shape)
