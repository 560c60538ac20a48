"""The smithy-rpc-v2-cbor protocol (CloudWatch lists it first among its protocols).

Bodies are CBOR maps keyed by member name (no locationName), blobs as byte strings and
timestamps as tag 1 epoch seconds; every response carries `smithy-protocol: rpc-v2-cbor`
and errors carry `__type` in the body
(https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html).
"""

from __future__ import annotations

from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpResponse
from freehold.protocol.serializer_base import ResponseSerializer, message_key, output_members
from freehold.protocol.serializer_cbor import EpochTimestamp, cbor_encode
from freehold.protocol.serializer_errors import ResolvedError
from freehold.protocol.serializer_eventstream import CONTENT_TYPE as EVENT_STREAM_TYPE
from freehold.protocol.serializer_eventstream import EventStreamEncoder
from freehold.protocol.serializer_values import epoch_seconds, to_bytes


def to_cbor_tree(shape: Any, value: Any) -> Any:
    """The CBOR-ready tree of a model-shaped value."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        return {name: to_cbor_tree(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None}
    if kind == "list":
        return [None if item is None else to_cbor_tree(shape.member, item) for item in value]
    if kind == "map":
        return {str(key): None if item is None else to_cbor_tree(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return EpochTimestamp(epoch_seconds(value))
    if kind == "blob":
        return to_bytes(value)
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)  # CBOR carries NaN and infinities natively
    return value


class RpcV2CborSerializer(ResponseSerializer):
    protocol = "smithy-rpc-v2-cbor"
    content_type = "application/cbor"

    def _protocol_headers(self, response: HttpResponse) -> None:
        response.headers.set("smithy-protocol", "rpc-v2-cbor")

    def _write_output(self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str) -> None:
        self._protocol_headers(response)
        shape = operation.output_shape
        if shape is None:
            # An operation without output has an empty body (and no Content-Type).
            return
        values = output_members(shape, output)
        stream_name = shape.event_stream_name
        if stream_name:
            encoder = EventStreamEncoder(shape.members[stream_name], self.content_type, self._event_payload)
            rest = {k: v for k, v in values.items() if k != stream_name}
            initial = encoder.initial_response(cbor_encode(to_cbor_tree(shape, rest)))
            response.headers.set("Content-Type", EVENT_STREAM_TYPE)
            response.body = encoder.body(values.get(stream_name) or [], initial)
            return
        response.headers.set("Content-Type", self.content_type)
        response.body = cbor_encode(to_cbor_tree(shape, values))

    def _event_payload(self, shape: Any, value: dict[str, Any], name: str) -> bytes:
        return cbor_encode(to_cbor_tree(shape, value))

    def _write_error(
        self, response: HttpResponse, resolved: ResolvedError, error: ServiceError, operation: Any, request_id: str
    ) -> None:
        self._protocol_headers(response)
        document: dict[str, Any] = {"__type": resolved.type_name}
        shape = resolved.shape
        extra = error.fields
        if shape is not None:
            document.update(to_cbor_tree(shape, {k: v for k, v in error.fields.items() if k in shape.members}))
            extra = {k: v for k, v in error.fields.items() if k not in shape.members}
        document.update({k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool, bytes))})
        document[message_key(shape)] = error.message
        if "awsQueryCompatible" in self.service_model.metadata:
            response.headers.set("x-amzn-query-error", f"{resolved.code};{resolved.fault_type}")
        response.headers.set("Content-Type", self.content_type)
        response.body = cbor_encode(document)
