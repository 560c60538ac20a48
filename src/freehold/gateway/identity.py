"""Who sent a request: from its SigV4 signature to a `Principal`.

Two modes (Settings.strict_auth):

* Default, for local development. A key freehold issued (the resolver knows it: IAM user
  keys, STS and Cognito sessions, function roles) acts as its principal. Its signature is
  NOT verified, but the credential itself must be valid: a temporary key needs its own
  session token and must not be past its expiration (ExpiredToken is what makes SDKs refresh,
  so apps rely on it). Any other key acts as an account's root, as the root user does on AWS:
  a key of exactly 12 digits names that account, every other key (`test`, `AKIA...`) the
  default account 000000000000. Presigned URLs are always verified, expiry and signature
  (see gateway/presigned.py for the secrets of keys freehold did not issue), since a presigned
  URL is how an anonymous holder of the link is authorized; header signatures are not checked for clock skew, so tests that freeze the client's
  clock keep working.
* Strict: only keys the resolver knows are accepted, each request's signature and time are
  verified, and unknown keys, wrong or expired session tokens and bad signatures get the
  service's own errors (InvalidClientTokenId / UnrecognizedClientException /
  InvalidAccessKeyId, ExpiredToken, SignatureDoesNotMatch ...). A user gets a key through
  the resolver: the root key pair of each account that the server prints and stores in its
  data directory, or keys created through IAM/STS.

Unsigned requests are anonymous. In strict mode only the operations AWS serves without
credentials (botocore marks them `authtype: none`: STS AssumeRoleWithWebIdentity/SAML, Cognito's
public calls) and S3 (where bucket ACLs and policies decide) take them; every other operation
answers MissingAuthenticationToken, as AWS does. In default mode authorization decides what
anonymous may do.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from freehold.gateway import presigned, sigv4
from freehold.gateway.context import DEFAULT_ACCOUNT, DEFAULT_REGION, Principal, SignatureInfo
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest

_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class IssuedCredential:
    """A key pair freehold issued, and the principal it authenticates as."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expiration: datetime | None
    principal: Principal


class CredentialResolver(Protocol):
    """Looks up a key freehold issued; None for a key it does not know."""

    def resolve(self, access_key_id: str) -> IssuedCredential | None: ...


class StaticCredentials:
    """A resolver over a fixed set of credentials held in memory (configured root keys, tests)."""

    def __init__(self, credentials: list[IssuedCredential] | None = None) -> None:
        self._by_key = {c.access_key_id: c for c in credentials or []}

    def add(self, credential: IssuedCredential) -> None:
        self._by_key[credential.access_key_id] = credential

    def resolve(self, access_key_id: str) -> IssuedCredential | None:
        return self._by_key.get(access_key_id)


def region_of(info: SignatureInfo | None, default: str = DEFAULT_REGION) -> str:
    """The request's region: its credential scope's, else the default."""
    return info.region if info is not None and info.region else default


def root_account_for_key(access_key_id: str) -> str:
    """The account a key freehold did not issue stands for: its own digits, or the default."""
    return access_key_id if _ACCOUNT_ID.fullmatch(access_key_id) else DEFAULT_ACCOUNT


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_credential(
    issued: IssuedCredential, info: SignatureInfo, flavor: sigv4.Flavor, now: datetime
) -> None:
    """The session token must be the one issued with the key (none for long-term keys),
    and a temporary key must not be past its expiration."""
    presented = info.session_token or ""
    expected = issued.session_token or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise sigv4.credential_error("invalid_token", flavor, info.access_key_id)
    if issued.expiration is not None and _aware(now) >= _aware(issued.expiration):
        raise sigv4.credential_error("expired_token", flavor, info.access_key_id)


def _verify_with_any(
    request: HttpRequest, info: SignatureInfo, secrets: tuple[str, ...], now: datetime, service: str
) -> None:
    """Verify with the first secret that matches; the last failure when none does."""
    failure: ServiceError | None = None
    for secret in secrets:
        try:
            sigv4.verify_signature(request, info, secret, now, service=service)
            return
        except ServiceError as error:
            if error.code != "SignatureDoesNotMatch":
                raise
            failure = error
    assert failure is not None
    raise failure


def authenticate_sigv2_query(
    request: HttpRequest, query: presigned.SigV2Query, resolver: CredentialResolver | None, strict: bool,
    now: datetime,
) -> Principal:
    """The principal of an S3 URL presigned with SigV2 (AWSAccessKeyId/Signature/Expires)."""
    issued = resolver.resolve(query.access_key_id) if resolver is not None else None
    if issued is None:
        if strict:
            raise sigv4.credential_error("unknown_key", "s3", query.access_key_id)
        presigned.verify_sigv2(request, query, presigned.dev_secrets(query.access_key_id), now)
        return Principal.root(root_account_for_key(query.access_key_id), query.access_key_id)
    if (query.session_token or "") != (issued.session_token or ""):
        raise sigv4.credential_error("invalid_token", "s3", query.access_key_id)
    if issued.expiration is not None and _aware(now) >= _aware(issued.expiration):
        raise sigv4.credential_error("expired_token", "s3", query.access_key_id)
    presigned.verify_sigv2(request, query, (issued.secret_access_key,), now)
    return issued.principal


def _takes_unsigned(request: HttpRequest, service: str, operation: Any) -> bool:
    """Whether an unsigned request may reach this operation in strict mode."""
    if service == "s3":
        return True
    if operation is None:
        from freehold.protocol.parser import parser_for

        try:
            operation = parser_for(service).operation(request)
        except ServiceError:
            return False
    return operation.auth_type == "none" or "smithy.api#noAuth" in (operation.auth or ())


def authenticate(
    request: HttpRequest,
    info: SignatureInfo | None,
    resolver: CredentialResolver | None,
    strict: bool,
    service: str,
    now: datetime,
    *,
    on_issued: Callable[[IssuedCredential], None] | None = None,
    operation: Any = None,
) -> Principal:
    """The principal of a request (as received, before routing rewrites). Raises ServiceError.

    `service` is the botocore name of the routed service; it picks the error codes.
    `on_issued` is told about each issued credential that authenticated a request (the
    gateway records key use with it). `operation` (the botocore OperationModel, when the
    caller knows it) tells whether an unsigned request is allowed in strict mode; without it
    the operation is read from the request."""
    if info is None:
        if strict and not _takes_unsigned(request, service, operation):
            raise sigv4.missing_authentication_error(sigv4.error_flavor(request, None, service))
        return Principal.anonymous()
    issued = resolver.resolve(info.access_key_id) if resolver is not None else None
    if issued is None:
        if strict:
            flavor = sigv4.error_flavor(request, info.service, service)
            raise sigv4.credential_error("unknown_key", flavor, info.access_key_id)
        if info.presigned:
            # Presigned URLs authorize whoever holds them: always verified (gateway/presigned.py
            # says which secrets a key freehold did not issue may have).
            _verify_with_any(request, info, presigned.dev_secrets(info.access_key_id), now, service)
        return Principal.root(root_account_for_key(info.access_key_id), info.access_key_id)
    _check_credential(issued, info, sigv4.error_flavor(request, info.service, service), now)
    if strict or info.presigned:
        sigv4.verify_signature(request, info, issued.secret_access_key, now, service=service)
    if on_issued is not None:
        on_issued(issued)
    principal = issued.principal
    if principal.access_key_id != info.access_key_id or principal.session_token != issued.session_token:
        principal = replace(principal, access_key_id=info.access_key_id, session_token=issued.session_token)
    return principal
