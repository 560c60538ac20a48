"""Errors a provider raises and the protocol layer serializes the way each AWS protocol expects.

A provider raises `ServiceError("NoSuchEntity", "The user with name bob cannot be found.")`.
The serializer finds the modelled error shape of that code in the service model, which gives
the HTTP status (and, for query services, the wire code); `status` here overrides it.
`fields` carries the extra members of a modelled error shape (e.g. CancellationReasons).
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An AWS error response: code, message, HTTP status and optional modelled fields."""

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int | None = None,
        *,
        sender_fault: bool = True,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.fields = fields or {}
        self.headers = headers or {}


def not_implemented(service: str, operation: str) -> ServiceError:
    """The answer for an operation freehold does not implement (HTTP 501)."""
    return ServiceError(
        "NotImplemented",
        f"The operation {operation} of service {service} is not implemented by freehold yet.",
        501,
        sender_fault=False,
    )


def internal_error(request_id: str) -> ServiceError:
    """The answer when freehold itself fails: AWS's generic InternalFailure, no traceback."""
    return ServiceError(
        "InternalFailure",
        f"The request processing has failed because of an internal error (request {request_id}).",
        500,
        sender_fault=False,
    )
