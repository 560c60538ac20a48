"""Round trip through botocore: its client serializer builds a request, our parser reads it back.

For every operation of every service (and every protocol a service accepts: CloudWatch's
json/cbor/query, SQS's json/query), hypothesis generates input params, botocore serializes
them into a real prepared HTTP request, and `parser_for(service)` must name the operation and
return exactly the params. `normalize` removes only what the wire cannot carry; each rule is
documented there and in docs/protocol-roundtrip.md. Run without `-n` to see the per-service
summary at the end of the module.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.model import OperationModel, Shape, StructureShape
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from strategies import operation_input

from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for, protocols_of
from freehold.protocol.specs import SERVICES, service_model

# Modest by default (the machine is shared); raise it for a deeper search.
MAX_EXAMPLES = int(os.environ.get("FREEHOLD_ROUNDTRIP_EXAMPLES", "6"))

# Operations that cannot round trip, with the reason (mirrored in docs/protocol-roundtrip.md).
SAME_REQUEST_LINE = (
    "deprecated S3 operation whose request is byte-for-byte the one of its successor "
    "({0}); S3 and freehold serve the successor"
)
KNOWN_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("s3", "rest-xml", "GetBucketLifecycle"): SAME_REQUEST_LINE.format("GetBucketLifecycleConfiguration"),
    ("s3", "rest-xml", "PutBucketLifecycle"): SAME_REQUEST_LINE.format("PutBucketLifecycleConfiguration"),
    ("s3", "rest-xml", "GetBucketNotification"): SAME_REQUEST_LINE.format("GetBucketNotificationConfiguration"),
    ("s3", "rest-xml", "PutBucketNotification"): SAME_REQUEST_LINE.format("PutBucketNotificationConfiguration"),
}
# Not strict: these pass when the generated params carry a telling member.
FLAKY_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("s3", "rest-xml", "ListDirectoryBuckets"): (
        "GET / with no parameters is ListBuckets; AWS tells ListDirectoryBuckets by its host "
        "(s3express-control), which a single freehold endpoint does not have"
    ),
}

RESULTS: Counter[tuple[str, str, str]] = Counter()  # (service, protocol, "covered"/"passed")


def _cases() -> Iterator[Any]:
    for service in SERVICES:
        model = service_model(service)
        for protocol in protocols_of(model):
            for name in model.operation_names:
                marks = []
                reason = KNOWN_EXCEPTIONS.get((service, protocol, name))
                if reason:
                    marks.append(pytest.mark.xfail(reason=reason, strict=True))
                flaky = FLAKY_EXCEPTIONS.get((service, protocol, name))
                if flaky:
                    marks.append(pytest.mark.xfail(reason=flaky, strict=False))
                yield pytest.param(service, protocol, name, id=f"{service}-{protocol}-{name}", marks=marks)


def endpoint_for(service: str) -> str:
    model = service_model(service)
    prefix = model.endpoint_prefix
    return f"https://{prefix}.us-east-1.amazonaws.com"


def build_request(service: str, protocol: str, operation: OperationModel, params: dict[str, Any]) -> HttpRequest:
    """What botocore would put on the wire for `params`, as the gateway hands it to us."""
    serializer = create_serializer(protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request_dict, endpoint_url=endpoint_for(service), context={}, user_agent="roundtrip")
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    headers = Headers([("Host", url.netloc)])
    for key, value in prepared.headers.items():
        headers.add(key, value.decode("latin-1") if isinstance(value, bytes) else str(value))
    body = prepared.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = body.read()
    return HttpRequest(method=prepared.method, path=url.path or "/", query_string=url.query, headers=headers, body=body)


# What the wire cannot carry ------------------------------------------------------------------

_GONE = object()


def normalize(protocol: str, operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    """The params as they can be recovered from the wire, for comparison with the parse."""
    shape = operation.input_shape
    if shape is None:
        return {}
    result = _norm_structure(protocol, shape, params, top=True)
    return result if isinstance(result, dict) else {}


def _norm(protocol: str, shape: Shape, value: Any, *, location: str | None = None) -> Any:
    if value is None:
        # JSON null, a missing XML element and a missing form field all mean "not set".
        return _GONE
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if shape.is_document_type:
            return value
        result = _norm_structure(protocol, shape, value, top=False)
        return result
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        items = [_norm(protocol, member, v) for v in value]
        kept = [v for v in items if v is not _GONE]
        if protocol == "query" and value and not kept:
            # A list whose items all serialize to nothing leaves no field at all.
            return _GONE
        if protocol == "rest-xml" and not kept and shape.serialization.get("flattened"):
            # A flattened XML list has no element of its own: empty means absent.
            return _GONE
        return kept
    if kind == "map":
        value_shape = shape.value  # type: ignore[attr-defined]
        entries = {k: _norm(protocol, value_shape, v) for k, v in value.items()}
        kept_map = {k: v for k, v in entries.items() if v is not _GONE}
        if not kept_map and (
            protocol == "query" or (protocol == "rest-xml" and shape.serialization.get("flattened")) or location
        ):
            # The query protocol writes nothing for an empty map, nor does a flattened XML
            # map; a header-prefix or query-string map with no entries adds nothing.
            return _GONE
        return kept_map
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def _norm_structure(protocol: str, shape: StructureShape, value: dict[str, Any], *, top: bool) -> Any:
    result = {}
    payload = shape.serialization.get("payload") if top else None
    for name, item in value.items():
        member = shape.members[name]
        location = member.serialization.get("location") if top else None
        normalized = _norm(protocol, member, item, location=location)
        if normalized is _GONE:
            continue
        if name == payload and member.type_name in ("blob", "string") and not normalized:
            # An empty streaming body is no body.
            continue
        if name == payload and protocol == "rest-json" and normalized == {}:
            # botocore writes `{}` for an unset structure payload too: empty means unset.
            continue
        result[name] = normalized
    if protocol == "query" and not result and not top:
        # A structure with no members set writes no field.
        return _GONE
    return result


def _add_transport_members(operation: OperationModel, request: HttpRequest, expected: dict[str, Any]) -> None:
    """Members bound to HTTP framing headers: the wire always carries Content-Length."""
    shape = operation.input_shape
    if shape is None:
        return
    for name, member in shape.members.items():
        wire = str(member.serialization.get("name", "")).lower()
        if member.serialization.get("location") == "header" and wire == "content-length":
            length = request.headers.get("content-length")
            if length is not None:
                expected[name] = int(length)


def _equal(left: Any, right: Any) -> bool:
    """Equality that tells True from 1 and treats NaN as equal to itself."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right))
    return bool(left == right)


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not RESULTS:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("parser round trip: operations passing / covered, per service and protocol")
        for service, protocol in sorted({(s, p) for s, p, _ in RESULTS}):
            covered = RESULTS[(service, protocol, "covered")]
            passed = RESULTS[(service, protocol, "passed")]
            reporter.write_line(f"  {service:18} {protocol:20} {passed:4} / {covered:4}")
        total = sum(v for (_, _, kind), v in RESULTS.items() if kind == "covered")
        ok = sum(v for (_, _, kind), v in RESULTS.items() if kind == "passed")
        reporter.write_line(f"  total {ok} / {total} ({100.0 * ok / total:.1f}%)")


@pytest.mark.parametrize("service,protocol,name", list(_cases()))
def test_roundtrip(service: str, protocol: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    parser = parser_for(service)
    RESULTS[(service, protocol, "covered")] += 1

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        database=None,
    )
    @given(params=operation_input(operation))
    def check(params: dict[str, Any]) -> None:
        request = build_request(service, protocol, operation, params)
        found = parser.operation(request)
        assert found.name == name, f"routed to {found.name}"
        parsed = parser.parse(request, found)
        expected = normalize(protocol, operation, params)
        _add_transport_members(operation, request, expected)
        assert _equal(parsed, expected), f"\nparsed:   {parsed!r}\nexpected: {expected!r}\nrequest: {request!r}"

    check()
    RESULTS[(service, protocol, "passed")] += 1


def test_every_service_is_covered() -> None:
    services = {case.values[0] for case in _cases()}
    assert services == set(SERVICES)

