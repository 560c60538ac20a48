"""The request parsers of the protocol layer: `parser_for(service)` and what it returns.

The gateway calls exactly this:

    parser = parser_for("sqs")
    operation = parser.operation(request)     # botocore OperationModel, or ServiceError
    params = parser.parse(request, operation)  # the dict the boto3 user passed

One parser class per wire protocol lives in `parser_<protocol>.py`; this module picks the
protocol of each request. Most services speak one, but some speak several at once:
CloudWatch lists smithy-rpc-v2-cbor, json and query (clients of different ages use each),
and SQS is JSON with `awsQueryCompatible` (older SDKs still send the query protocol).
The protocol is told by the request itself: `smithy-protocol: rpc-v2-cbor`, an
`X-Amz-Target` header (json), or an `Action` form field (query).

Two things are the same in every protocol and are done here: host labels (members taken
from the Host header through the operation's `endpoint.hostPrefix`, e.g. S3's
WriteGetObjectResponse `{RequestRoute}.`), and the query-mode SQS quirk that the queue URL
may be the request URL rather than a `QueueUrl` field.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel

from freehold.protocol.http import HttpRequest
from freehold.protocol.parser_base import RequestParser
from freehold.protocol.parser_cbor import RpcV2CborParser
from freehold.protocol.parser_json import JsonParser
from freehold.protocol.parser_query import QueryParser
from freehold.protocol.parser_rest import RestJsonParser, RestXmlParser
from freehold.protocol.specs import service_model

__all__ = ["RequestParser", "parser_for", "protocols_of"]

PARSERS: dict[str, type[RequestParser]] = {
    "query": QueryParser,
    "json": JsonParser,
    "rest-json": RestJsonParser,
    "rest-xml": RestXmlParser,
    "smithy-rpc-v2-cbor": RpcV2CborParser,
}
HOST_LABEL_RE = re.compile(r"\{([^}]+)\}")


def protocols_of(model: ServiceModel) -> list[str]:
    """The protocols a service accepts, the one botocore uses first."""
    found = [model.resolved_protocol]
    for name in model.metadata.get("protocols") or ():
        if name in PARSERS and name not in found:
            found.append(name)
    if model.metadata.get("awsQueryCompatible") is not None and "query" not in found:
        found.append("query")
    return found


class ServiceRequestParser(RequestParser):
    """Parses the requests of one service, whichever of its protocols each one uses."""

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self.parsers = {name: PARSERS[name](model) for name in protocols_of(model)}
        self.default = self.parsers[model.resolved_protocol]
        self.protocol = model.resolved_protocol
        self._host_patterns: dict[str, tuple[re.Pattern[str], list[str]] | None] = {}

    def parser_of(self, request: HttpRequest) -> RequestParser:
        """The protocol parser for this request."""
        if len(self.parsers) == 1:
            return self.default
        parsers = self.parsers
        if "smithy-rpc-v2-cbor" in parsers and (request.headers.get("smithy-protocol") or "") == "rpc-v2-cbor":
            return parsers["smithy-rpc-v2-cbor"]
        if "json" in parsers and "x-amz-target" in request.headers:
            return parsers["json"]
        if "query" in parsers and self._looks_like_query(request):
            return parsers["query"]
        return self.default

    @staticmethod
    def _looks_like_query(request: HttpRequest) -> bool:
        content_type = (request.headers.get("content-type") or "").lower()
        if "x-www-form-urlencoded" in content_type:
            return True
        return any(key == "Action" for key, _ in request.query_items())

    def operation(self, request: HttpRequest) -> OperationModel:
        return self.parser_of(request).operation(request)

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        parser = self.parser_of(request)
        params = parser.parse(request, operation)
        self._add_host_labels(request, operation, params)
        if parser.protocol == "query" and self.service == "sqs":
            self._add_queue_url(request, operation, params)
        return params

    # Quirks shared by the protocols ----------------------------------------------------

    def _host_pattern(self, operation: OperationModel) -> tuple[re.Pattern[str], list[str]] | None:
        if operation.name not in self._host_patterns:
            endpoint = operation.endpoint or {}
            template = endpoint.get("hostPrefix")
            compiled = None
            if template:
                names = HOST_LABEL_RE.findall(template)
                regex = "".join(
                    "([A-Za-z0-9-]+)" if i % 2 else re.escape(part)
                    for i, part in enumerate(HOST_LABEL_RE.split(template))
                )
                compiled = (re.compile("^" + regex, re.IGNORECASE), names)
            self._host_patterns[operation.name] = compiled
        return self._host_patterns[operation.name]

    def _add_host_labels(self, request: HttpRequest, operation: OperationModel, params: dict[str, Any]) -> None:
        pattern = self._host_pattern(operation)
        if pattern is None or operation.input_shape is None:
            return
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        found = pattern[0].match(host)
        if found is None:
            return
        members = operation.input_shape.members
        for name, value in zip(pattern[1], found.groups()):
            if name in members and members[name].serialization.get("hostLabel"):
                params.setdefault(name, value)

    @staticmethod
    def _add_queue_url(request: HttpRequest, operation: OperationModel, params: dict[str, Any]) -> None:
        # SQS's query API addresses a queue by posting to its URL (https://sqs.../123/name);
        # QueueUrl was only needed when posting to the service root.
        shape = operation.input_shape
        if shape is None or "QueueUrl" not in shape.members or "QueueUrl" in params:
            return
        if request.path.strip("/"):
            params["QueueUrl"] = f"http://{request.host}{request.path}"


@cache
def parser_for(service: str) -> ServiceRequestParser:
    """The request parser of a service (by botocore name), built once."""
    return ServiceRequestParser(service_model(service))
