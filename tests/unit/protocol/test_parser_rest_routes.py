"""REST path labels are percent-decoded strictly: bytes that are not UTF-8 are refused (S3's
400 InvalidURI), never replaced by U+FFFD (which would make two S3 keys one)."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for


def _request(method: str, path: str) -> HttpRequest:
    return HttpRequest(method, path, "", Headers([("Host", "localhost")]), b"")


@pytest.mark.parametrize("path", ["/b/k%FF", "/b/k%C3", "/b/%ED%A0%80", "/b/dir/%80"])
def test_labels_that_are_not_utf8_are_invalid_uri(path: str) -> None:
    parser = parser_for("s3")
    with pytest.raises(ServiceError) as caught:
        parser.parse(_request("GET", path), parser.operation(_request("GET", path)))
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        "InvalidURI", "Couldn't parse the specified URI.", 400)


def test_utf8_labels_decode() -> None:
    parser = parser_for("s3")
    request = _request("GET", "/b/caf%C3%A9/%EF%BF%BD")
    params = parser.parse(request, parser.operation(request))
    assert params["Key"] == "café/\ufffd"


def test_route_memo_keeps_no_long_request_lines() -> None:
    """A request line's single route is remembered only for lines of FOUND_KEY_MAX at most:
    4096 long ones (~64 KB each, kept with their decoded labels) held hundreds of MB."""
    from freehold.protocol.parser_rest_routes import FOUND_KEY_MAX, RouteTable
    from freehold.protocol.specs import service_model

    table = RouteTable(service_model("lambda"))
    long_name = "f" * FOUND_KEY_MAX
    request = _request("POST", f"/2015-03-31/functions/{long_name}/invocations")
    found = table.find(request)
    assert found is not None and found[0].operation.name == "Invoke" and found[1]["FunctionName"] == long_name
    assert table.remembered(request) is None
    short = _request("POST", "/2015-03-31/functions/short/invocations")
    found = table.find(short)
    assert found is not None and found[1]["FunctionName"] == "short"
    assert table.remembered(short) == found
