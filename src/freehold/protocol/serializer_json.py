"""The JSON protocols: json 1.0/1.1 (DynamoDB, SQS, Logs, KMS, ...) and rest-json (Lambda,
API Gateway, ...), plus the JSON document writer they share.

Documents use `locationName` as keys, epoch seconds for timestamps unless a
timestampFormat trait says otherwise, base64 for blobs
(https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html). Errors carry the
error shape's name in `__type` and in the x-amzn-ErrorType header; awsQueryCompatible
services (SQS, CloudWatch) add `x-amzn-query-error: <query code>;<Sender|Receiver>` so
clients can report the legacy query error code
(https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait).
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections.abc import Callable
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpResponse
from freehold.protocol.serializer_base import ResponseSerializer, message_key, output_members
from freehold.protocol.serializer_errors import ResolvedError
from freehold.protocol.serializer_eventstream import CONTENT_TYPE as EVENT_STREAM_TYPE
from freehold.protocol.serializer_eventstream import EventStreamEncoder
from freehold.protocol.serializer_rest import (
    body_values,
    payload_member,
    write_non_body_members,
    write_unstructured_payload,
)
from freehold.protocol.serializer_values import EPOCH, b64, format_timestamp, timestamp_format


def _json_number(value: Any) -> Any:
    number = float(value)
    # JSON has no NaN or infinities; AWS JSON protocols write them as strings.
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


Converter = Callable[[Any], Any]
_SKIPPED_LOCATIONS = ("header", "headers", "statusCode")
# Converters of structures, lists and maps, per service model and shape name: a named
# aggregate converts the same way wherever it is referenced (only scalars carry per-member
# traits such as timestampFormat). Built once, so a 100-item Query answer costs one dict
# lookup per attribute instead of a walk over every member of every AttributeValue.
# Plans are published only once complete (built under a lock, visible to other threads after).
_PLANS: weakref.WeakKeyDictionary[Any, dict[str, Converter | None]] = weakref.WeakKeyDictionary()
_BUILDING: dict[str, Converter | None] = {}
_BUILD_LOCK = threading.RLock()


def _identity_list(value: Any) -> Any:
    return list(value)


def _identity_map(value: Any) -> Any:
    return {str(key): item for key, item in value.items()}


def _int(value: Any) -> Any:
    return int(value)


def _bool(value: Any) -> Any:
    return bool(value)


_UNSET = object()


def _converter(shape: Any) -> Converter | None:
    """The function turning a model-shaped value into its JSON-ready value; None for identity.
    Kept on the shape object too (botocore caches member shapes): mostly one attribute read."""
    cached = shape.__dict__.get("_freehold_json_converter", _UNSET)
    if cached is _UNSET:
        cached = _build_converter(shape)
        shape.__dict__["_freehold_json_converter"] = cached
    return cached


def _build_converter(shape: Any) -> Converter | None:
    kind = shape.type_name
    if kind in ("structure", "list", "map"):
        published = _PLANS.get(shape._shape_resolver)
        if published is not None and shape.name in published:
            return published[shape.name]
        with _BUILD_LOCK:
            if shape.name in _BUILDING:  # a recursive reference, while its plan is built
                return _BUILDING[shape.name]
            outermost = not _BUILDING
            try:
                convert = _aggregate(shape, _BUILDING)
                if outermost:
                    _PLANS.setdefault(shape._shape_resolver, {}).update(_BUILDING)
            finally:
                if outermost:
                    _BUILDING.clear()
            return convert
    if kind == "timestamp":
        fmt = timestamp_format(shape, EPOCH)
        return lambda value: format_timestamp(value, fmt)
    if kind == "blob":
        return b64
    if kind == "boolean":
        return _bool
    if kind in ("integer", "long", "short", "byte"):
        return _int
    if kind in ("float", "double"):
        return _json_number
    return None


def _aggregate(shape: Any, plans: dict[str, Converter | None]) -> Converter | None:
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            plans[shape.name] = None
            return None
        members: dict[str, tuple[str, Converter | None]] = {}

        def structure(value: Any) -> Any:
            result = {}
            for name, item in value.items():
                entry = members.get(name)
                if entry is not None and item is not None:
                    convert = entry[1]
                    result[entry[0]] = item if convert is None else convert(item)
            return result

        # Registered before its members are planned: recursive shapes (AttributeValue) find it.
        plans[shape.name] = structure
        for name, member in shape.members.items():
            if member.serialization.get("location") not in _SKIPPED_LOCATIONS:
                members[name] = (member.serialization.get("name", name), _converter(member))
        return structure
    if kind == "list":
        holder: list[Converter | None] = [None]

        def list_(value: Any) -> Any:
            convert = holder[0]
            return [None if item is None else convert(item) for item in value]  # type: ignore[misc]

        plans[shape.name] = list_
        holder[0] = _converter(shape.member)
        if holder[0] is None:
            plans[shape.name] = _identity_list
            return _identity_list
        return list_
    mapped: list[Converter | None] = [None]

    def map_(value: Any) -> Any:
        convert = mapped[0]
        return {str(key): None if item is None else convert(item) for key, item in value.items()}  # type: ignore[misc]

    plans[shape.name] = map_
    mapped[0] = _converter(shape.value)
    if mapped[0] is None:
        plans[shape.name] = _identity_map
        return _identity_map
    return map_


def to_json(shape: Any, value: Any) -> Any:
    """The JSON-ready value of a model-shaped value."""
    convert = _converter(shape)
    return value if convert is None else convert(value)


# One encoder for every answer (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def dumps(document: Any) -> bytes:
    return _encode(document).encode("utf-8")


class _JsonFamily(ResponseSerializer):
    content_type = "application/json"

    def _error_document(self, resolved: ResolvedError, error: ServiceError) -> dict[str, Any]:
        document: dict[str, Any] = {"__type": resolved.type_name}
        shape = resolved.shape
        if shape is not None:
            modelled = {k: v for k, v in error.fields.items() if k in shape.members}
            document.update(to_json(shape, modelled))
            document.update({k: v for k, v in error.fields.items() if k not in shape.members and v is not None})
        else:
            document.update({k: v for k, v in error.fields.items() if v is not None})
        document[message_key(shape)] = error.message
        return document

    def _error_headers(self, response: HttpResponse, resolved: ResolvedError) -> None:
        response.headers.set("x-amzn-ErrorType", resolved.type_name)
        if "awsQueryCompatible" in self.service_model.metadata:
            response.headers.set("x-amzn-query-error", f"{resolved.code};{resolved.fault_type}")


class JsonSerializer(_JsonFamily):
    protocol = "json"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        version = service_model.metadata.get("jsonVersion") or "1.0"
        self.content_type = f"application/x-amz-json-{version}"

    def _write_output(self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str) -> None:
        shape = operation.output_shape
        values = output_members(shape, output)
        stream_name = shape.event_stream_name if shape is not None else None
        if stream_name:
            # RPC event streams open with an initial-response event holding the other members.
            encoder = EventStreamEncoder(shape.members[stream_name], self.content_type, self._event_payload)
            rest = {k: v for k, v in values.items() if k != stream_name}
            initial = encoder.initial_response(dumps(to_json(shape, rest)))
            response.headers.set("Content-Type", EVENT_STREAM_TYPE)
            response.body = encoder.body(values.get(stream_name) or [], initial)
            return
        response.headers.set("Content-Type", self.content_type)
        response.body = dumps(to_json(shape, values)) if shape is not None else b"{}"

    def _event_payload(self, shape: Any, value: dict[str, Any], name: str) -> bytes:
        return dumps(to_json(shape, value))

    def _write_error(
        self, response: HttpResponse, resolved: ResolvedError, error: ServiceError, operation: Any, request_id: str
    ) -> None:
        self._error_headers(response, resolved)
        response.headers.set("Content-Type", self.content_type)
        response.body = dumps(self._error_document(resolved, error))


class RestJsonSerializer(_JsonFamily):
    protocol = "rest-json"

    def _write_output(self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str) -> None:
        shape = operation.output_shape
        if shape is None:
            return
        values = output_members(shape, output)
        write_non_body_members(response, shape, values)
        payload = payload_member(shape)
        if payload is None:
            response.headers.set("Content-Type", self.content_type)
            response.body = dumps(to_json(shape, body_values(shape, values)))
            return
        name, member = payload
        value = values.get(name)
        if value is None:
            return
        if write_unstructured_payload(response, member, value, self.content_type, self._event_payload):
            return
        if "Content-Type" not in response.headers:
            response.headers.set("Content-Type", self.content_type)
        response.body = dumps(to_json(member, value))

    def _event_payload(self, shape: Any, value: dict[str, Any], name: str) -> bytes:
        return dumps(to_json(shape, value))

    def _write_error(
        self, response: HttpResponse, resolved: ResolvedError, error: ServiceError, operation: Any, request_id: str
    ) -> None:
        self._error_headers(response, resolved)
        if resolved.shape is not None:
            # Modelled error members bound to headers (Lambda's Retry-After) go there.
            write_non_body_members(response, resolved.shape, error.fields)
        response.headers.set("Content-Type", self.content_type)
        response.body = dumps(self._error_document(resolved, error))
