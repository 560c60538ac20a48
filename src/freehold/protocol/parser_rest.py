"""The rest-json and rest-xml parsers: members from the URI, query string, headers and body.

Inverse of botocore's BaseRestSerializer. Top-level input members carry a `location`:
`uri` (a label of the requestUri template), `querystring` (one key, a list of repeated keys,
or - for a map - every key no other member claims), `header` (timestamps in RFC 822 unless a
timestampFormat says otherwise, lists comma-separated with quoted items, jsonvalue headers
base64-encoded JSON), `headers` (a map of every header with a prefix, e.g. `x-amz-meta-`).
The rest is the body: a `payload` member (raw bytes/text for blob and string payloads, a
JSON object or XML element for structures) or, without one, all unlocated members.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser_base import RequestParser, lower_camel, parse_base64, text_scalar
from freehold.protocol.parser_chunked import decode_aws_chunked, is_aws_chunked, strip_aws_chunked
from freehold.protocol.parser_json import TreeReader, load_json_object, serialization_error
from freehold.protocol.parser_rest_routes import Route, RouteTable
from freehold.protocol.parser_xml import XmlReader, load_xml

# How each REST service answers a request line it has no operation for, and a malformed body.
UNKNOWN_OPERATION: dict[str, tuple[str, str, int]] = {
    # S3 answers a known resource with an unsupported method with 405 MethodNotAllowed.
    "s3": ("MethodNotAllowed", "The specified method is not allowed against this resource.", 405),
}
DEFAULT_UNKNOWN_OPERATION = ("UnknownOperationException", "Unknown operation {method} {path}", 404)
MALFORMED_JSON: dict[str, tuple[str, str]] = {
    # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
    "lambda": ("InvalidRequestContentException", "Could not parse request body into json"),
    "apigateway": ("BadRequestException", "Invalid request body: could not parse JSON"),
}


class RestParser(RequestParser):
    """Routing and located members, shared by rest-json and rest-xml."""

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.routes = RouteTable(service_model)
        self._plans: dict[str, _Plan] = {}
        self.route_of: dict[str, Route] = {
            route.operation.name: route for routes in self.routes.by_method.values() for route in routes
        }

    def operation(self, request: HttpRequest) -> OperationModel:
        found = self.routes.find(request)
        if found is None:
            code, message, status = UNKNOWN_OPERATION.get(self.service, DEFAULT_UNKNOWN_OPERATION)
            raise ServiceError(code, message.format(method=request.method, path=request.path), status)
        return found[0].operation

    def _labels(self, request: HttpRequest, operation: OperationModel) -> dict[str, str]:
        found = self.routes.remembered(request)  # when `operation` was found for this request line
        if found is not None and found[0].operation.name == operation.name:
            return found[1]
        route = self.route_of.get(operation.name)
        labels = route.match(request.path, request.query()) if route is not None else None
        # When the caller chose an operation whose template does not match, read no labels.
        return labels or {}

    def _plan(self, operation: OperationModel) -> _Plan:
        plan = self._plans.get(operation.name)
        if plan is None:
            plan = self._plans[operation.name] = _Plan(operation.input_shape)
        return plan

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        assert isinstance(shape, StructureShape)
        plan = self._plan(operation)
        headers, body = request.headers, request.body
        chunked = is_aws_chunked(request)
        if chunked and request.stream is None:
            # Signed chunks were verified before parsing, in strict mode (pipeline.check_chunk_signatures).
            body, trailers = decode_aws_chunked(body)
            headers = Headers(headers.items() + trailers)
        by_name: dict[str, list[str]] = {}
        for key, value in headers:
            by_name.setdefault(key.lower(), []).append(value)
        params: dict[str, Any] = {}
        if plan.uri:
            labels = self._labels(request, operation)
            for name, member, wire in plan.uri:
                if wire in labels:
                    params[name] = text_scalar(self, member, labels[wire], lower_camel(name), "iso8601")
        if plan.querystring:
            query_items = request.query_items()
            for name, member, wire in plan.querystring:
                value = self._query_member(operation, member, wire, query_items, lower_camel(name))
                if value is not None:
                    params[name] = value
        for name, member, wire in plan.header:
            values = by_name.get(wire)
            if values:
                params[name] = self._header_member(member, ",".join(values), lower_camel(name))
        for name, member, prefix in plan.headers:
            found = {k[len(prefix) :]: v for k, v in headers if k.lower().startswith(prefix)}
            if found:
                params[name] = found
        if chunked and "ContentEncoding" in params:
            # S3 does not store the transfer encoding aws-chunked as the object's encoding.
            remaining = strip_aws_chunked(params["ContentEncoding"])
            if remaining:
                params["ContentEncoding"] = remaining
            else:
                del params["ContentEncoding"]
        if request.stream is not None and shape.serialization.get("payload"):
            # A streamed payload (S3 PutObject/UploadPart): the provider reads it as it arrives.
            params[shape.serialization["payload"]] = request.stream
        else:
            params.update(self._body(shape, body, plan.body))
        return params

    # Located members ---------------------------------------------------------------------

    def _query_member(
        self, operation: OperationModel, member: Shape, wire: str, items: list[tuple[str, str]], path: str
    ) -> Any:
        if member.type_name == "map":
            claimed = self._claimed_query_keys(operation)
            value_shape = member.value
            result: dict[str, Any] = {}
            for key, value in items:
                if key in claimed:
                    continue
                if value_shape.type_name == "list":
                    result.setdefault(key, []).append(value)
                else:
                    result.setdefault(key, value)
            return result or None
        values = [value for key, value in items if key == wire]
        if not values:
            return None
        if member.type_name == "list":
            item = member.member
            return [text_scalar(self, item, v, f"{path}.{i}", "iso8601") for i, v in enumerate(values, 1)]
        return text_scalar(self, member, values[0], path, "iso8601")

    def _claimed_query_keys(self, operation: OperationModel) -> set[str]:
        """Query keys a querystring map must not take: other members' and the template's."""
        shape = operation.input_shape
        claimed = set()
        for name, member in shape.members.items():
            if member.serialization.get("location") == "querystring" and member.type_name != "map":
                claimed.add(str(member.serialization.get("name", name)))
        route = self.route_of.get(operation.name)
        if route is not None:
            claimed.update(key for key, _ in route.query)
            claimed.update(key for key, _ in route.hints)
        return claimed

    def _header_member(self, member: Shape, text: str, path: str) -> Any:
        if member.type_name == "list":
            item = member.member
            parts = split_header_list(text)
            return [text_scalar(self, item, p, f"{path}.{i}", "rfc822") for i, p in enumerate(parts, 1)]
        if member.serialization.get("jsonvalue"):
            decoded = parse_base64(text)
            if decoded is not None:
                try:
                    return json.loads(decoded)
                except ValueError:
                    pass
            raise self.bad_value(path, text, "base64-encoded JSON")
        return text_scalar(self, member, text, path, "rfc822")

    # The body --------------------------------------------------------------------------

    def _body(self, shape: StructureShape, body: bytes, body_members: list[str]) -> dict[str, Any]:
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            if not body:
                return {}
            if member.type_name == "blob":
                return {payload: body}
            if member.type_name == "string":
                try:
                    return {payload: body.decode("utf-8")}
                except UnicodeDecodeError:
                    raise serialization_error("The request body is not valid UTF-8 text") from None
            value = self.read_payload(member, body)
            return {} if value is None else {payload: value}
        if not body_members or not body.strip():
            return {}
        return self.read_body_members(shape, body, body_members)

    def read_payload(self, member: Shape, body: bytes) -> Any:
        raise NotImplementedError

    def read_body_members(self, shape: StructureShape, body: bytes, names: list[str]) -> dict[str, Any]:
        raise NotImplementedError


class _Plan:
    """An operation's input members sorted by location, computed once."""

    def __init__(self, shape: StructureShape) -> None:
        self.uri: list[tuple[str, Shape, str]] = []
        self.querystring: list[tuple[str, Shape, str]] = []
        self.header: list[tuple[str, Shape, str]] = []  # wire name lowercased
        self.headers: list[tuple[str, Shape, str]] = []  # prefix lowercased
        self.body: list[str] = []
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "uri":
                self.uri.append((name, member, wire))
            elif location == "querystring":
                self.querystring.append((name, member, wire))
            elif location == "header":
                self.header.append((name, member, wire.lower()))
            elif location == "headers":
                self.headers.append((name, member, wire.lower()))
            elif location is None:
                self.body.append(name)


def split_header_list(text: str) -> list[str]:
    """`a, "b,c", "d\\"e"` -> ['a', 'b,c', 'd"e']: botocore quotes items holding , or "."""
    items: list[str] = []
    index, length = 0, len(text)
    while index <= length:
        while index < length and text[index] in " \t":
            index += 1
        if index < length and text[index] == '"':
            index += 1
            chars: list[str] = []
            while index < length and text[index] != '"':
                if text[index] == "\\" and index + 1 < length:
                    index += 1
                chars.append(text[index])
                index += 1
            items.append("".join(chars))
            comma = text.find(",", index)
            index = length + 1 if comma < 0 else comma + 1
        else:
            comma = text.find(",", index)
            stop = length if comma < 0 else comma
            items.append(text[index:stop].strip())
            index = stop + 1
    return items


class RestJsonParser(RestParser):
    protocol = "rest-json"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        error_code, message = MALFORMED_JSON.get(self.service, ("SerializationException", ""))

        def error(detail: str) -> ServiceError:
            return ServiceError(error_code, message or detail, 400)

        self.error = error
        self.reader = TreeReader(error)

    def read_payload(self, member: Shape, body: bytes) -> Any:
        if member.type_name == "structure" and member.is_document_type:
            try:
                return json.loads(body)
            except ValueError:
                raise self.error("Could not parse request body into json") from None
        document = load_json_object(body, self.error)
        if not document and member.type_name == "structure":
            # botocore writes `{}` when the payload member is not set at all.
            return None
        return self.reader.read(member, document, lower_camel(member.name))

    def read_body_members(self, shape: StructureShape, body: bytes, names: list[str]) -> dict[str, Any]:
        document = load_json_object(body, self.error)
        result: dict[str, Any] = self.reader.read_members(shape, document, "", names=set(names))
        return result


class RestXmlParser(RestParser):
    protocol = "rest-xml"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.reader = XmlReader(self)

    def read_payload(self, member: Shape, body: bytes) -> Any:
        return self.reader.read(member, load_xml(body), lower_camel(member.name))

    def read_body_members(self, shape: StructureShape, body: bytes, names: list[str]) -> dict[str, Any]:
        return self.reader.structure(shape, load_xml(body), "", names=set(names))
