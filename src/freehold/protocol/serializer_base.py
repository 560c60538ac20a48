"""The response serializer contract and what every protocol shares.

`serialize` turns a provider's output dict (boto3's return value minus ResponseMetadata)
into an HttpResponse; `serialize_error` turns a ServiceError into the error response that
the protocol's clients parse. Subclasses, one per protocol, write the status, headers and
body; this base adds the request id headers, drops bodies where HTTP forbids them and
sets Content-Length.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpResponse
from freehold.protocol.serializer_errors import ErrorIndex, ResolvedError

# Statuses whose responses have no body (RFC 9110 sections 15.3.5 and 15.4.5).
NO_BODY_STATUSES = frozenset({204, 304})


def message_key(shape: Any) -> str:
    """`Message` when the error shape models it so, else `message` (the common spelling).

    Clients read either (botocore: body.get('message', body.get('Message'))), but the
    modelled member name is what typed SDKs deserialize into the exception's field.
    """
    if shape is not None and "Message" in shape.members and "message" not in shape.members:
        return "Message"
    return "message"


def output_members(shape: Any, output: dict[str, Any]) -> dict[str, Any]:
    """The output values the shape models and that are set (None means absent)."""
    if shape is None:
        return {}
    return {name: output[name] for name in shape.members if output.get(name) is not None}


class ResponseSerializer(ABC):
    """Serializes results and errors of one service in one wire protocol."""

    protocol: ClassVar[str]

    def __init__(self, service_model: Any) -> None:
        self.service_model = service_model
        self.errors = ErrorIndex(service_model)

    # -- public contract -------------------------------------------------------------------

    def serialize(self, operation: Any, output: dict[str, Any], request_id: str) -> HttpResponse:
        status = int(operation.http.get("responseCode") or 200)
        response = HttpResponse(status=status, headers=Headers())
        self._write_output(response, operation, output or {}, request_id)
        self._add_request_id(response.headers, request_id)
        return self._finish(response, operation)

    def serialize_error(self, error: ServiceError, operation: Any, request_id: str) -> HttpResponse:
        resolved = self.errors.resolve(error, operation)
        response = HttpResponse(status=resolved.status, headers=Headers())
        self._write_error(response, resolved, error, operation, request_id)
        for name, value in error.headers.items():
            response.headers.set(name, value)
        self._add_request_id(response.headers, request_id)
        return self._finish(response, operation, is_error=True)

    # -- protocol hooks --------------------------------------------------------------------

    @abstractmethod
    def _write_output(
        self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str
    ) -> None: ...

    @abstractmethod
    def _write_error(
        self,
        response: HttpResponse,
        resolved: ResolvedError,
        error: ServiceError,
        operation: Any,
        request_id: str,
    ) -> None: ...

    def _add_request_id(self, headers: Headers, request_id: str) -> None:
        headers.set("x-amzn-RequestId", request_id)

    # -- shared ----------------------------------------------------------------------------

    def _finish(self, response: HttpResponse, operation: Any, *, is_error: bool = False) -> HttpResponse:
        is_head = operation is not None and operation.http.get("method") == "HEAD"
        if response.status in NO_BODY_STATUSES:
            response.body = b""
            response.headers.remove("Content-Length")
            if is_error:
                response.headers.remove("Content-Type")
        elif is_head:
            # A HEAD answer carries the headers a GET would (Content-Length of the object
            # included) but no body; a failed HEAD has no error document either, so
            # clients see only the status (botocore reports Error.Code "404").
            response.body = b""
            if is_error:
                response.headers.remove("Content-Type")
                response.headers.set("Content-Length", "0")
            elif "Content-Length" not in response.headers:
                response.headers.set("Content-Length", "0")
        elif isinstance(response.body, (bytes, bytearray)):
            response.headers.set("Content-Length", str(len(response.body)))
        return response
