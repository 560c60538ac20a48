"""The awsJson 1.0/1.1 parser, and the reader of decoded JSON/CBOR trees into params.

JSON services name the operation in `X-Amz-Target: <targetPrefix>.<Operation>` and carry
every member in a JSON object body, under the member's locationName when it has one.
Timestamps are epoch seconds (or strings when a timestampFormat says so), blobs base64.
`TreeReader` walks a decoded body along the input shape; the CBOR (rpc-v2) parser reuses it
with native bytes and tagged timestamps, the rest-json parser for its JSON bodies.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.protocol.parser_base import (
    RequestParser,
    epoch_to_datetime,
    lower_camel,
    parse_base64,
    parse_timestamp,
)

SPECIAL_FLOATS = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}

# A `\uD800`-`\uDFFF` escape in the raw body: json.loads accepts a lone surrogate and yields a
# str that cannot be encoded as UTF-8 (a crash much later, at the database or the response).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def serialization_error(message: str) -> ServiceError:
    return ServiceError("SerializationException", message, 400)


def _token(value: Any) -> str:
    """How Jackson-based AWS front ends name a JSON token in their error messages."""
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, (bytes, bytearray)):
        return "BYTE_STRING"
    return type(value).__name__


# Where a value sits, for error messages, built only when one is raised: a string, or
# (parent, piece, dotted): `parent.piece`, or just `piece` under an empty parent unless
# `dotted` (list items and map values are always joined: `.1`, as AWS's messages show).
Path = Any
Reader = Callable[[Any, Path], Any]


def path_text(path: Path) -> str:
    chain = []
    while not isinstance(path, str):
        chain.append(path)
        path = path[0]
    text: str = path
    for _, piece, dotted in reversed(chain):
        text = f"{text}.{piece}" if (text or dotted) else str(piece)
    return text


class TreeReader:
    """Reads a decoded JSON (or CBOR) value along a shape into boto3-style params.

    Each shape's reader is compiled once per TreeReader into a closure (structures, lists
    and maps call their members' closures directly), so a request's values are read without
    looking anything up in the model; scalars go through the `_read_<type>` methods, which
    subclasses override (CBOR's native bytes and timestamps)."""

    def __init__(self, error: Any = serialization_error) -> None:
        self.error = error
        self._compiled: weakref.WeakKeyDictionary[Any, dict[str, Reader]] = weakref.WeakKeyDictionary()

    def mismatch(self, value: Any, expected: str, path: Path) -> ServiceError:
        if isinstance(value, dict):
            message = "Start of structure or map found where not expected."
        elif isinstance(value, list):
            message = "Start of list found where not expected"
        else:
            message = f"{_token(value)} can not be converted to {expected}"
        text = path_text(path)
        where = f" (at '{text}')" if text else ""
        result: ServiceError = self.error(message + where)
        return result

    def read(self, shape: Shape, value: Any, path: Path = "") -> Any:
        return self.reader_of(shape)(value, path)

    @cached_property
    def _readers(self) -> dict[str, Any]:
        """type name -> bound _read_<type> method."""
        found = {}
        for name in dir(self):
            if name.startswith("_read_"):
                found[name[len("_read_"):]] = getattr(self, name)
        return found

    def read_members(self, shape: StructureShape, value: dict[str, Any], path: Path, names: Any = None) -> dict[str, Any]:
        if names is None:
            result: dict[str, Any] = self.reader_of(shape)(value, path)
            return result
        result = {}
        for _, name, member, camel, key in _member_table(shape).ordered:
            if name not in names:
                continue
            item = value.get(key)
            if item is None:
                # JSON null means "not set" to every AWS JSON service.
                continue
            result[name] = self.read(member, item, (path, camel, False))
        return result

    # -- compiled readers ---------------------------------------------------------------------
    def reader_of(self, shape: Shape) -> Reader:
        """The compiled reader of a shape (per model and shape name: botocore builds new
        member shape objects at each resolution, and AttributeValue reaches itself)."""
        known = self._compiled.get(shape._shape_resolver)
        if known is None:
            known = self._compiled.setdefault(shape._shape_resolver, {})
        found = known.get(shape.name)
        if found is None:
            cell: list[Reader] = []
            known[shape.name] = lambda value, path: cell[0](value, path)  # while compiling
            compiled = self._compile(shape)
            cell.append(compiled)
            known[shape.name] = found = compiled
        return found

    def _compile(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            if shape.is_document_type:
                return lambda value, path: value
            return self._compile_structure(shape)
        if kind == "list":
            return self._compile_list(shape)
        if kind == "map":
            return self._compile_map(shape)
        method = self._readers.get(kind)
        if method is None:
            def unknown(value: Any, path: Path) -> Any:
                raise self.mismatch(value, kind, path)
            return unknown
        if kind == "string" and type(self)._read_string is TreeReader._read_string:
            def read_string(value: Any, path: Path) -> Any:
                if isinstance(value, str):
                    return value
                raise self.mismatch(value, "a String", path)
            return read_string

        def read_scalar(value: Any, path: Path) -> Any:
            return method(shape, value, path)
        return read_scalar

    def _compile_structure(self, shape: StructureShape) -> Reader:
        table = _member_table(shape)
        ordered = [(position, name, self.reader_of(member), camel, key)
                   for position, name, member, camel, key in table.ordered]
        by_wire = {entry[4]: entry for entry in ordered}
        count = len(ordered)
        mismatch = self.mismatch

        def read_structure(value: Any, path: Path) -> Any:
            if not isinstance(value, dict):
                raise mismatch(value, "a Structure", path)
            size = len(value)
            if size == 1 and count > 1:
                # One key (an AttributeValue: one of ten members), the hottest case of all.
                for key, item in value.items():
                    entry = by_wire.get(key)
                    if entry is None or item is None:
                        return {}
                    return {entry[1]: entry[2](item, (path, entry[3], False))}
            if size < count:
                # Few keys of many members (an AttributeValue has one of ten): walk the keys,
                # keep the model's order (validation messages list failures in that order).
                found = []
                for key, item in value.items():
                    entry = by_wire.get(key)
                    if entry is not None and item is not None:
                        found.append((entry, item))
                if len(found) > 1:
                    found.sort(key=_first_position)
                return {entry[1]: entry[2](item, (path, entry[3], False)) for entry, item in found}
            result: dict[str, Any] = {}
            for _, name, read, camel, key in ordered:
                item = value.get(key)
                if item is None:
                    continue  # JSON null means "not set" to every AWS JSON service.
                result[name] = read(item, (path, camel, False))
            return result
        return read_structure

    def _compile_list(self, shape: Shape) -> Reader:
        read_member = self.reader_of(shape.member)
        mismatch = self.mismatch

        def read_list(value: Any, path: Path) -> Any:
            if not isinstance(value, list):
                raise mismatch(value, "a List", path)
            return [read_member(item, (path, index, True)) for index, item in enumerate(value, 1)]
        return read_list

    def _compile_map(self, shape: Shape) -> Reader:
        read_key = self.reader_of(shape.key)
        read_value = self.reader_of(shape.value)
        mismatch = self.mismatch

        def read_map(value: Any, path: Path) -> Any:
            if not isinstance(value, dict):
                raise mismatch(value, "a Map", path)
            result = {}
            for key, item in value.items():
                if item is None:
                    continue
                result[read_key(key, path)] = read_value(item, (path, key, True))
            return result
        return read_map

    # -- scalars (and the uncompiled forms of the containers) -------------------------------
    def _read_structure(self, shape: Shape, value: Any, path: Path) -> Any:
        return self.reader_of(shape)(value, path)

    def _read_list(self, shape: Shape, value: Any, path: Path) -> Any:
        return self.reader_of(shape)(value, path)

    def _read_map(self, shape: Shape, value: Any, path: Path) -> Any:
        return self.reader_of(shape)(value, path)

    def _read_string(self, shape: Shape, value: Any, path: Path) -> Any:
        if not isinstance(value, str):
            raise self.mismatch(value, "a String", path)
        return value

    _read_character = _read_string

    def _read_integer(self, shape: Shape, value: Any, path: Path) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.mismatch(value, "an Integer", path)
        if isinstance(value, float):
            if not value.is_integer():
                raise self.mismatch(value, "an Integer", path)
            return int(value)
        return value

    _read_long = _read_integer
    _read_short = _read_integer
    _read_byte = _read_integer

    def _read_float(self, shape: Shape, value: Any, path: Path) -> Any:
        if isinstance(value, str) and value in SPECIAL_FLOATS:
            return SPECIAL_FLOATS[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.mismatch(value, "a Double", path)
        return float(value)

    _read_double = _read_float

    def _read_boolean(self, shape: Shape, value: Any, path: Path) -> Any:
        if not isinstance(value, bool):
            raise self.mismatch(value, "a Boolean", path)
        return value

    def _read_blob(self, shape: Shape, value: Any, path: Path) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if not isinstance(value, str):
            raise self.mismatch(value, "a Blob", path)
        blob = parse_base64(value)
        if blob is None:
            raise self.error(f"Base64 encoded binary data is not valid (at '{path_text(path)}')")
        return blob

    def _read_timestamp(self, shape: Shape, value: Any, path: Path) -> Any:
        if isinstance(value, bool):
            raise self.mismatch(value, "a Timestamp", path)
        if isinstance(value, (int, float)):
            stamp = epoch_to_datetime(float(value))
        elif isinstance(value, str):
            stamp = parse_timestamp(value, shape.serialization.get("timestampFormat") or "unixtimestamp")
        else:
            raise self.mismatch(value, "a Timestamp", path)
        if stamp is None:
            raise self.mismatch(value, "a Timestamp", path)
        return stamp


def _first_position(pair: tuple[Any, Any]) -> int:
    position: int = pair[0][0]
    return position


@dataclass(frozen=True)
class _MemberTable:
    # (position, member name, member shape, lowerCamel name for paths, wire key)
    ordered: tuple[tuple[int, str, Shape, str, str], ...]
    by_wire: dict[str, tuple[int, str, Shape, str, str]]


_TABLES: weakref.WeakKeyDictionary[Any, dict[str, _MemberTable]] = weakref.WeakKeyDictionary()


def _member_table(shape: StructureShape) -> _MemberTable:
    """A structure's members, as the reader walks them; built once per service and shape,
    and kept on the shape object too (botocore caches member shapes)."""
    cached: _MemberTable | None = shape.__dict__.get("_freehold_member_table")
    if cached is None:
        cached = _shared_member_table(shape)
        shape.__dict__["_freehold_member_table"] = cached
    return cached


def _shared_member_table(shape: StructureShape) -> _MemberTable:
    tables = _TABLES.get(shape._shape_resolver)
    if tables is None:
        tables = _TABLES.setdefault(shape._shape_resolver, {})
    table = tables.get(shape.name)
    if table is None:
        ordered = tuple(
            (position, name, member, lower_camel(name), member.serialization.get("name", name))
            for position, (name, member) in enumerate(shape.members.items())
        )
        table = _MemberTable(ordered, {entry[4]: entry for entry in ordered})
        tables[shape.name] = table  # whole or absent: safe to read from other threads
    return table


def load_json_object(body: bytes, error: Any = serialization_error) -> dict[str, Any]:
    """A request body that must be a JSON object; an empty body is `{}`."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise error("Could not parse request body into json: malformed JSON") from None
    if SURROGATE_ESCAPE.search(body) is not None and not _encodes_as_utf8(document):
        # A well-formed pair decodes to one character; only a lone half is refused, as AWS's
        # front ends refuse JSON that is not valid Unicode.
        raise error("Could not parse request body into json: invalid Unicode (unpaired surrogate)")
    if not isinstance(document, dict):
        raise TreeReader(error).mismatch(document, "a Structure", "")
    return document


def _encodes_as_utf8(document: Any) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (RecursionError, ValueError):
        return True  # nesting or special floats: the shape reader judges those
    return True


class JsonParser(RequestParser):
    """awsJson1_0 / awsJson1_1: operation from X-Amz-Target, members from the JSON body."""

    protocol = "json"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.target_prefix = str(service_model.metadata.get("targetPrefix", ""))
        self.reader = TreeReader()

    def operation(self, request: HttpRequest) -> OperationModel:
        target = request.headers.get("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        found = self.operation_named(name) if prefix == self.target_prefix else None
        if found is None:
            raise ServiceError(
                "UnknownOperationException",
                f"Unknown operation {target!r}" if target else "Missing X-Amz-Target header",
                400,
            )
        return found

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        document = load_json_object(request.body)
        if shape is None:
            return {}
        try:
            params: dict[str, Any] = self.reader.read_members(shape, document, "")
        except RecursionError:
            # A recursive shape (DynamoDB's AttributeValue) nested a few hundred times: bad
            # input, not a crash. json.loads itself stops at Python's recursion limit.
            raise serialization_error("Could not parse request body: it is nested too deeply") from None
        return params
