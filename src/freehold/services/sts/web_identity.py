"""Checking the OpenID Connect token of sts:AssumeRoleWithWebIdentity.

What is verified, always:
- the token is a compact JWS (three base64url parts, JSON header and claims) with an `alg`;
- `iss` is present and names an OpenID Connect provider registered in IAM in the role's
  account (https:// optional, as AWS matches it), or is cognito-identity.amazonaws.com
  (Cognito identity pools, which need no IAM provider);
- `aud` (string or list) contains one of that provider's client ids (not checked for
  cognito-identity, whose audience is the identity pool, checked by the role's trust policy);
- `exp` is present and not in the past (`nbf`, when present, not in the future).

What is verified only when freehold knows the issuer's keys: the signature. Keys are known
when registered with `register_issuer_keys(issuer, jwks)` - freehold's own issuers (its
Cognito user pools and identity pools) register theirs, and tests can register a test
issuer's. freehold never fetches keys from the network (it runs offline); a token from an
issuer whose keys it does not know is accepted on its claims alone in default mode, and
refused (InvalidIdentityToken) with --strict-auth. A token whose issuer's
keys are known must be signed by one of them, with an asymmetric algorithm; `alg: none` is
then rejected.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # joserfc is imported when a token is verified, not at start-up
    from joserfc.jwk import KeySet

from freehold.protocol.errors import ServiceError

COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]

_keys_lock = threading.Lock()
_issuer_keys: dict[str, "KeySet"] = {}


def issuer_key(issuer: str) -> str:
    """Issuers compare without scheme and trailing slash, as IAM names OIDC providers."""
    name = issuer.removeprefix("https://")
    return name.rstrip("/")


def register_issuer_keys(issuer: str, jwks: dict[str, Any]) -> None:
    """Make freehold verify the signatures of `issuer`'s tokens with these public keys."""
    from joserfc.jwk import KeySet

    key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    with _keys_lock:
        _issuer_keys[issuer_key(issuer)] = key_set


def forget_issuer_keys(issuer: str) -> None:
    with _keys_lock:
        _issuer_keys.pop(issuer_key(issuer), None)


def known_keys(issuer: str) -> "KeySet | None":
    with _keys_lock:
        return _issuer_keys.get(issuer_key(issuer))


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidIdentityToken", message)


NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
NOT_VALIDATED = (
    "The web identity token that was passed could not be validated by AWS. Get a new identity token "
    "from the identity provider and then retry the request."
)
NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)


@dataclass(frozen=True)
class WebIdentityToken:
    header: dict[str, Any]
    claims: dict[str, Any]
    raw: str

    @property
    def issuer(self) -> str:
        return str(self.claims.get("iss", ""))

    @property
    def audiences(self) -> list[str]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return [aud]
        if isinstance(aud, list):
            return [str(a) for a in aud]
        return []

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub", ""))


def _b64json(part: str) -> dict[str, Any]:
    padded = part + "=" * (-len(part) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def parse_token(token: str) -> WebIdentityToken:
    """The header and claims of a compact JWS, without verifying anything yet."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise invalid(NOT_A_JWT)
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeError):
        raise invalid(NOT_A_JWT) from None
    if not isinstance(header.get("alg"), str):
        raise invalid(NOT_A_JWT)
    return WebIdentityToken(header, claims, token.strip())


def check_times(token: WebIdentityToken, now: float) -> None:
    exp = token.claims.get("exp")
    if exp is None:
        raise invalid("Missing a required claim: exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise invalid(NOT_VALIDATED)
    if exp <= now:
        # AWS's message, missing space included.
        raise ServiceError(
            "ExpiredTokenException",
            f"Token expired: current date/time {int(now)} must be before the expiration date/time{int(exp)}",
        )
    nbf = token.claims.get("nbf")
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and nbf > now:
        raise invalid(NOT_VALIDATED)


def check_audience(token: WebIdentityToken, client_ids: list[str]) -> str:
    """The audience the token was issued for that the provider accepts."""
    audiences = token.audiences
    if not audiences:
        raise invalid("Missing a required claim: aud")
    for audience in audiences:
        if audience in client_ids:
            return audience
    raise invalid("Incorrect token audience")


def check_signature(token: WebIdentityToken) -> bool:
    """Verify the signature when the issuer's keys are known; True if it was verified."""
    keys = known_keys(token.issuer)
    if keys is None:
        return False
    kid = token.header.get("kid")
    if kid is not None and all(key.kid != kid for key in keys):
        raise invalid(NO_KEY)
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        jwt.decode(token.raw, keys, algorithms=SIGNING_ALGORITHMS)
    except (JoseError, ValueError):
        raise invalid(NOT_VALIDATED) from None
    return True
