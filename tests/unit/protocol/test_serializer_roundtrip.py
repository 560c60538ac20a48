"""Round trip of every operation of the 23 services through botocore's response parser.

For every operation: hypothesis generates an output (strategies.operation_output), our
serializer writes it, botocore.parsers.create_parser(protocol).parse reads it back, and the
two must be equal. For every modelled error of every operation: our serialize_error, then
botocore's parser must give the same Error.Code, Error.Message, HTTP status and modelled
fields. The helpers at the top (parse_response, assert_round_trip) are shared with
test_serializer.py. Differences the wire cannot carry are allowed only where listed in
docs/protocol-roundtrip.md ("Protocol round trip: response serialization").
"""

from __future__ import annotations

import asyncio
import copy
import io
import math
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.handlers import parse_get_bucket_location
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import BODY_CHARACTERS, operation_output, shape_values

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpResponse
from freehold.protocol.serializer import serializer_for
from freehold.protocol.serializer_errors import LEGACY_QUERY_ERRORS
from freehold.protocol.serializer_xml import legacy_query_names
from freehold.protocol.specs import SERVICES, raw_service_model, service_model

XML_PROTOCOLS = ("query", "rest-xml")


class RawEventStream:
    """What botocore's EventStream reads from: an object with stream() and close()."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Any:
        # Hand the bytes over in small pieces to exercise botocore's message buffering.
        for start in range(0, len(self._data), 7):
            yield self._data[start : start + 7]

    def close(self) -> None:
        pass


def body_bytes(response: HttpResponse) -> bytes:
    body = response.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)

    async def collect(stream: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in stream])

    return asyncio.run(collect(body))


def response_dict(response: HttpResponse, operation: Any) -> dict[str, Any]:
    """The dict botocore's endpoint hands its parser (convert_to_response_dict)."""
    headers = HeadersDict()
    for name, value in response.headers.items():
        # HTTP carries header bytes; http.client decodes them as latin-1.
        value.encode("latin-1")
        headers[name] = value
    data = body_bytes(response)
    body: Any = data
    if response.status < 300 and operation is not None:
        if operation.has_event_stream_output:
            body = RawEventStream(data)
        elif operation.has_streaming_output:
            body = StreamingBody(io.BytesIO(data), len(data))
    return {
        "status_code": response.status,
        "headers": headers,
        "body": body,
        "context": {"operation_name": operation.name if operation is not None else ""},
    }


class _HttpResponseView:
    """The bits of botocore's AWSResponse that its after-call handlers read."""

    def __init__(self, content: bytes) -> None:
        self.raw = io.BytesIO(content)
        self.content = content


def parse_response(protocol: str, response: HttpResponse, operation: Any, shape: Any = None) -> dict[str, Any]:
    parser = create_parser(protocol)
    target = shape if shape is not None else (operation.output_shape if operation is not None else None)
    parsed: dict[str, Any] = parser.parse(response_dict(response, operation), target)
    if (
        shape is None
        and operation is not None
        and operation.name == "GetBucketLocation"
        and response.status < 300
        and operation.service_model.service_name == "s3"
    ):
        # S3's bare <LocationConstraint> document is read by botocore's after-call handler.
        parse_get_bucket_location(parsed, _HttpResponseView(body_bytes(response)))
    return parsed


def _is_empty(value: Any) -> bool:
    return value in ({}, [], "", b"") or (isinstance(value, StreamingBody) and _read(value) == b"")


def _read(body: Any) -> Any:
    if isinstance(body, StreamingBody):
        data = body.read()
        body._raw_stream = io.BytesIO(data)  # keep it readable for a second look
        return data
    return body


# Headers every HTTP response carries whether or not the output sets them.
ALWAYS_SENT_HEADERS = ("content-length", "content-type")


def _always_on_the_wire(member: Any) -> bool:
    """Members bound to something every response has: the status code, Content-Length and
    Content-Type. When the output leaves them unset, botocore still reports the real value."""
    location = member.serialization.get("location")
    if location == "statusCode":
        return True
    return location == "header" and str(member.serialization.get("name", "")).lower() in ALWAYS_SENT_HEADERS


def _lossy_absent(member: Any, protocol: str, is_payload: bool) -> bool:
    """Where an empty value and an absent one look the same on the wire."""
    if member.serialization.get("location") == "headers":
        return True  # botocore always returns the prefixed header map, {} when none match
    if is_payload:
        return True  # an absent payload is an empty body, which botocore reads as empty
    return protocol in XML_PROTOCOLS and bool(member.serialization.get("flattened"))


def assert_round_trip(shape: Any, expected: Any, actual: Any, protocol: str, path: str = "$") -> None:
    """`actual` (botocore's reading) equals `expected` (what we serialized) for `shape`."""
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        assert isinstance(actual, dict), f"{path}: expected a structure, got {actual!r}"
        payload = shape.serialization.get("payload")
        for name, member in shape.members.items():
            want = expected.get(name)
            got = actual.get(name)
            where = f"{path}.{name}"
            if member.serialization.get("eventstream"):
                continue
            if want is None and _always_on_the_wire(member):
                continue
            if want is None:
                assert got is None or (_lossy_absent(member, protocol, name == payload) and _is_empty(got)), (
                    f"{where}: expected absent, got {got!r}"
                )
                continue
            if got is None:
                assert _lossy_absent(member, protocol, name == payload) and _is_empty(want), (
                    f"{where}: expected {want!r}, got nothing"
                )
                continue
            if name == payload and member.type_name in ("blob", "string"):
                _assert_raw_payload(member, want, got, where)
                continue
            assert_round_trip(member, want, got, protocol, where)
        extra = set(actual) - set(shape.members)
        assert not extra, f"{path}: unexpected members {sorted(extra)}"
    elif kind == "list":
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {expected!r} != {actual!r}"
        for index, (want, got) in enumerate(zip(expected, actual)):
            if want is None:
                assert got is None, f"{path}[{index}]: expected None, got {got!r}"
            else:
                assert_round_trip(shape.member, want, got, protocol, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{path}: {expected!r} != {actual!r}"
        for key, want in expected.items():
            assert_round_trip(shape.value, want, actual[key], protocol, f"{path}[{key!r}]")
    elif kind in ("float", "double") and isinstance(want_float := expected, float) and math.isinf(want_float):
        # botocore's json (not rest-json) parser returns the JSON strings for infinities as is.
        text = "Infinity" if want_float > 0 else "-Infinity"
        assert actual == want_float or (protocol == "json" and actual == text), f"{path}: {expected!r} != {actual!r}"
    else:
        assert actual == expected, f"{path}: {expected!r} != {actual!r}"


def _assert_raw_payload(member: Any, want: Any, got: Any, where: str) -> None:
    data = _read(got)
    if isinstance(data, str):
        data = data.encode("utf-8")
    wanted = want.encode("utf-8") if isinstance(want, str) else bytes(want)
    assert data == wanted, f"{where}: payload {wanted!r} != {data!r}"


# ---------------------------------------------------------------------------------------
# The round trip itself.
# ---------------------------------------------------------------------------------------

# Examples per operation; FREEHOLD_ROUNDTRIP_EXAMPLES=30 for a deeper search (as the parser test).
EXAMPLES = int(os.environ.get("FREEHOLD_ROUNDTRIP_EXAMPLES", "6"))
REQUEST_ID = "b5f3c5a2-0d1e-4c0b-9a57-3e2f1a9c7d10"
MESSAGE_MEMBERS = ("message", "Message")

# Besides the protocol botocore picks, the other protocols a service answers in:
# CloudWatch lists smithy-rpc-v2-cbor first and still accepts query; SQS still accepts query.
EXTRA_PROTOCOLS = {"cloudwatch": ("smithy-rpc-v2-cbor", "query"), "sqs": ("query",)}


def _legacy_query_model(service: str) -> ServiceModel:
    """The service's model with the XML traits its query API had (flattened lists and maps,
    their element names, result wrappers), so botocore's query parser can read that XML."""
    raw = copy.deepcopy(raw_service_model(service))
    names = legacy_query_names(service) or {}
    shapes = raw["shapes"]
    for operation in raw["operations"].values():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{operation['name']}Result"
    for shape in shapes.values():
        for member_name, ref in (shape.get("members") or {}).items():
            target = shapes[ref["shape"]]
            if target["type"] not in ("list", "map"):
                continue
            wire, key_name, value_name = names.get(member_name, ("", "", ""))
            target["flattened"] = True
            if target["type"] == "list":
                ref["locationName"] = wire or target["member"].get("locationName") or target["member"]["shape"]
            else:
                ref["locationName"] = wire or member_name
                target["key"]["locationName"] = key_name or "key"
                target["value"]["locationName"] = value_name or "value"
    return ServiceModel(raw, service_name=service)


ORACLE_MODELS = {("sqs", "query"): _legacy_query_model("sqs")}


def _oracle_model(service: str, protocol: str) -> ServiceModel:
    """The model botocore's parser reads our responses with (a legacy one for SQS's query API)."""
    return ORACLE_MODELS.get((service, protocol)) or service_model(service)


def _protocols(service: str) -> list[str]:
    return [str(service_model(service).resolved_protocol), *EXTRA_PROTOCOLS.get(service, ())]


# Operations whose output botocore cannot read back for a reason of the model itself,
# not of the serializer; each is listed with its reason in docs/protocol-roundtrip.md.
KNOWN_LIMITS: dict[tuple[str, str], str] = {
    ("s3", "GetBucketNotification"): (
        "deprecated TopicConfiguration/QueueConfiguration/CloudFunctionConfiguration model both "
        "Event (a string) and Events (a flattened list) as <Event> elements; botocore reads "
        "<Event> into both members"
    ),
}


CASES = [
    pytest.param(
        service,
        protocol,
        name,
        marks=[pytest.mark.xfail(reason=KNOWN_LIMITS[(service, name)], strict=False)]
        if (service, name) in KNOWN_LIMITS
        else [],
    )
    for service in SERVICES
    for protocol in _protocols(service)
    for name in service_model(service).operation_names
]
ERROR_CASES = [
    (service, protocol, name)
    for service in SERVICES
    for protocol in _protocols(service)
    for name in service_model(service).operation_names
    if service_model(service).operation_model(name).error_shapes
]

_results: dict[tuple[str, str, str], dict[str, int]] = {}


def _record(kind: str, service: str, protocol: str, passed: bool) -> None:
    counts = _results.setdefault((kind, service, protocol), {"covered": 0, "passing": 0})
    counts["covered"] += 1
    counts["passing"] += int(passed)


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Any:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not _results:
        return
    lines = ["", "serializer round trip (kind service protocol: passing/covered operations)"]
    total = {"covered": 0, "passing": 0}
    for (kind, service, protocol), counts in sorted(_results.items()):
        total["covered"] += counts["covered"]
        total["passing"] += counts["passing"]
        lines.append(f"  {kind:6} {service:18} {protocol:20} {counts['passing']}/{counts['covered']}")
    lines.append(f"  total {total['passing']}/{total['covered']}")
    with capture.global_and_fixture_disabled():
        for line in lines:
            reporter.write_line(line)


def _consistent(shape: Any, output: dict[str, Any]) -> dict[str, Any]:
    """A provider's Content-Length member describes the body it returns; HTTP makes it so."""
    payload = shape.serialization.get("payload")
    if not payload or shape.members[payload].type_name not in ("blob", "string"):
        return output
    body = output.get(payload) or b""
    size = len(body.encode("utf-8") if isinstance(body, str) else body)
    for name, member in shape.members.items():
        is_length = _always_on_the_wire(member) and member.serialization.get("name", "").lower() == "content-length"
        if is_length and name in output:
            output = {**output, name: size}
    return output


def _header_lists_splittable(shape: Any, output: dict[str, Any]) -> bool:
    """botocore splits list-valued headers on ',' without honouring quotes (RFC 9110 5.6.1),
    so a list item containing a comma cannot come back; AWS never sends one."""
    for name, member in shape.members.items():
        is_header_list = member.serialization.get("location") == "header" and member.type_name == "list"
        if is_header_list and any("," in str(item) for item in output.get(name) or []):
            return False
    return True


@pytest.mark.parametrize(("service", "protocol", "operation_name"), CASES)
def test_output_round_trip(service: str, protocol: str, operation_name: str) -> None:
    operation = service_model(service).operation_model(operation_name)
    oracle = _oracle_model(service, protocol).operation_model(operation_name)
    serializer = serializer_for(service, protocol)
    passed = False

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(output=operation_output(operation))
    def check(output: dict[str, Any]) -> None:
        shape = operation.output_shape
        if shape is not None:
            assume(_header_lists_splittable(shape, output))
            output = _consistent(shape, output)
        response = serializer.serialize(operation, output, REQUEST_ID)
        parsed = parse_response(protocol, response, oracle)
        metadata = parsed.pop("ResponseMetadata", {})
        if shape is not None and not shape.event_stream_name:
            assert metadata.get("RequestId") == REQUEST_ID, metadata
            assert metadata.get("HTTPStatusCode") == response.status
        if shape is None:
            assert parsed == {}
        else:
            assert_round_trip(oracle.output_shape, output, parsed, protocol)

    try:
        check()
        passed = True
    finally:
        _record("output", service, protocol, passed)


def _client_code(service: str, protocol: str, shape: Any) -> str:
    """The Error.Code botocore reports for a modelled error of this service and protocol."""
    model = service_model(service)
    if protocol in XML_PROTOCOLS or "awsQueryCompatible" in model.metadata:
        legacy = LEGACY_QUERY_ERRORS.get(service, {}).get(shape.name)
        return legacy[0] if legacy else str(shape.error_code)
    return str(shape.name)


def _expected_status(service: str, shape: Any) -> int:
    legacy = LEGACY_QUERY_ERRORS.get(service, {}).get(shape.name)
    return int((shape.metadata.get("error") or {}).get("httpStatusCode") or (legacy[1] if legacy else 400))


def _error_example(shape: Any) -> st.SearchStrategy[tuple[Any, dict[str, Any], str, bool]]:
    fields = shape_values(shape).map(lambda v: {k: x for k, x in v.items() if k not in MESSAGE_MEMBERS})
    message = st.text(BODY_CHARACTERS, max_size=40)
    return st.tuples(st.just(shape), fields, message, st.booleans())


@pytest.mark.parametrize(("service", "protocol", "operation_name"), ERROR_CASES)
def test_error_round_trip(service: str, protocol: str, operation_name: str) -> None:
    model = _oracle_model(service, protocol)
    operation = service_model(service).operation_model(operation_name)
    oracle = model.operation_model(operation_name)
    serializer = serializer_for(service, protocol)
    passed = False

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(example=st.sampled_from(operation.error_shapes).flatmap(_error_example))
    def check(example: tuple[Any, dict[str, Any], str, bool]) -> None:
        shape, fields, message, by_shape_name = example
        code = _client_code(service, protocol, shape)
        # The provider raises with the client's code; the shape name must work the same.
        raised = ServiceError(shape.name if by_shape_name else code, message, fields=fields)
        response = serializer.serialize_error(raised, operation, REQUEST_ID)
        expected_status = _expected_status(service, shape)
        assert response.status == expected_status
        parsed = parse_response(protocol, response, oracle)
        error = parsed["Error"]
        if operation.http.get("method") == "HEAD":
            # HEAD errors have no body: clients see only the status (botocore: Code "404").
            assert response.body == b""
            assert error["Code"] == str(expected_status)
            return
        assert error["Code"] == code, error
        assert (error.get("Message") or "") == message
        assert parsed["ResponseMetadata"].get("RequestId") == REQUEST_ID
        assert parsed["ResponseMetadata"]["HTTPStatusCode"] == expected_status
        if "QueryErrorCode" in error:
            # awsQueryCompatible: botocore keeps the shape name to pick the exception class.
            assert error["QueryErrorCode"] == shape.name
        elif service not in LEGACY_QUERY_ERRORS:
            # (SQS's legacy codes are in no botocore model; _client_code checked them above.)
            resolved = model.shape_for_error_code(error["Code"])
            assert resolved is not None and resolved.error_code == shape.error_code
        modelled = parse_response(protocol, response, oracle, model.shape_for(shape.name))
        modelled = {k: v for k, v in modelled.items() if k not in MESSAGE_MEMBERS}
        assert_round_trip(shape, fields, modelled, protocol)

    try:
        check()
        passed = True
    finally:
        _record("error", service, protocol, passed)
