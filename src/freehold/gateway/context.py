"""The typed context that travels through the request pipeline, and the principal it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from freehold.protocol.http import HttpRequest

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

PrincipalKind = Literal["root", "user", "assumed-role", "federated", "service", "anonymous"]


@dataclass(frozen=True)
class Principal:
    """Who made a request, as AWS authenticates it.

    `arn` is what sts:GetCallerIdentity reports; `user_id` its UserId; `access_key_id`
    the key the request was signed with ('' when unsigned).
    """

    kind: PrincipalKind
    account_id: str
    arn: str
    user_id: str
    access_key_id: str = ""
    session_token: str | None = None
    # For assumed roles: the role ARN (arn:aws:iam::acct:role/name) and session name.
    role_arn: str | None = None
    session_name: str | None = None
    # Session tags / web-identity claims that policy variables may refer to.
    attributes: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def root(account_id: str, access_key_id: str = "") -> "Principal":
        return Principal("root", account_id, f"arn:aws:iam::{account_id}:root", account_id, access_key_id)

    @staticmethod
    def service(name: str, account_id: str) -> "Principal":
        """An AWS service acting for an account (e.g. lambda.amazonaws.com assuming a
        function's role), as trust policies name it: {"Service": "lambda.amazonaws.com"}."""
        return Principal("service", account_id, name, name)

    @staticmethod
    def anonymous(account_id: str = DEFAULT_ACCOUNT) -> "Principal":
        return Principal("anonymous", account_id, "*", "anonymous")


@dataclass(frozen=True)
class SignatureInfo:
    """What a SigV4 signature (header or presigned query) says about a request."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str  # the signing name of the credential scope
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # x-amz-date / X-Amz-Date (YYYYMMDDTHHMMSSZ), '' if absent
    session_token: str | None = None
    presigned: bool = False
    expires: int | None = None  # X-Amz-Expires for presigned URLs


@dataclass
class RequestContext:
    """Everything the pipeline learns about one request, step by step."""

    request: HttpRequest
    request_id: str
    # The request as it arrived. `request` may be rewritten by routing (S3 virtual-host style
    # becomes path style); signatures cover what the client sent, so they are checked on this.
    received: HttpRequest | None = None
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT
    service: str | None = None  # botocore service name, e.g. "sts"
    protocol: str | None = None  # the wire protocol this request speaks; answers use it too
    operation: Any = None  # botocore OperationModel once identified
    signature: SignatureInfo | None = None
    principal: Principal = field(default_factory=Principal.anonymous)
    params: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def for_service(service_principal: str, account_id: str, region: str) -> "RequestContext":
        """The context of a call a service makes on its own behalf (deliveries, sandboxes'
        credentials, logs) through `Provider.call`."""
        import uuid

        return RequestContext(
            request=HttpRequest("POST", "/"), request_id=str(uuid.uuid4()), region=region,
            account_id=account_id, principal=Principal.service(service_principal, account_id),
        )

    @property
    def operation_name(self) -> str:
        return str(self.operation.name) if self.operation is not None else ""
