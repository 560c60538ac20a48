"""Garbage in, ServiceError out: no request makes a parser raise anything else."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for
from freehold.protocol.specs import SERVICES, service_model

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


def _request_for(service: str, operation: str, body: bytes, query: str, extra: list[tuple[str, str]]) -> HttpRequest:
    model = service_model(service)
    op = model.operation_model(operation)
    headers = Headers([("Host", "localhost"), *extra])
    protocol = model.resolved_protocol
    if protocol == "json":
        headers.add("X-Amz-Target", f"{model.metadata['targetPrefix']}.{operation}")
        return HttpRequest("POST", "/", query, headers, body)
    if protocol == "query":
        headers.add("Content-Type", "application/x-www-form-urlencoded")
        return HttpRequest("POST", "/", query, headers, b"Action=" + operation.encode() + b"&" + body)
    path = op.http["requestUri"].split("?")[0].replace("{", "").replace("}", "").replace("+", "")
    return HttpRequest(op.http["method"], path, query, headers, body)


@pytest.mark.parametrize("service", SERVICES)
@settings(max_examples=int(os.environ.get("FREEHOLD_FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(data=st.data())
def test_garbage_gives_service_errors_only(service: str, data: st.DataObject) -> None:
    model = service_model(service)
    operation = data.draw(st.sampled_from(sorted(model.operation_names)))
    body = data.draw(
        st.one_of(
            st.binary(max_size=40),
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),
            st.just(b"<a><b>1</b></a>"),
            st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
    )
    query = data.draw(st.text("ab=&.%0129+", max_size=15))
    header_names = st.sampled_from(["x-amz-meta-a", "Content-Encoding", "Expires", "x-amz-max-parts", "Range"])
    extra = data.draw(st.lists(st.tuples(header_names, st.text("abc ,\"0129-:", max_size=8)), max_size=3))
    request = _request_for(service, operation, body, query, extra)
    parser = parser_for(service)
    try:
        found = parser.operation(request)
        parser.parse(request, found)
    except ServiceError as error:
        assert 400 <= (error.status or 400) < 500
