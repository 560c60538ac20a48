"""AWS Signature Version 4: reading a request's signature and verifying it.

A signature comes in the `Authorization` header or, for presigned URLs, in the query string
(`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
`X-Amz-Signature`, `X-Amz-Security-Token`). Verification rebuilds the canonical request the
way AWS does (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
the path double-encoded after dot-segment removal for every service but S3, which signs the
path exactly as sent; the query re-encoded and sorted; the signed headers trimmed; and the
payload hash, which S3 takes from `x-amz-content-sha256` (a hash it checks, UNSIGNED-PAYLOAD,
or a STREAMING-* marker) and other services compute from the body.

Errors follow the service's protocol family (the `_CODES` table): query services say
SignatureDoesNotMatch/IncompleteSignature, json services the coral `...Exception` codes (400,
or 403 for rest-json), S3 its own codes and messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Literal
from urllib.parse import quote, unquote_to_bytes

from freehold.gateway import routing
from freehold.gateway.context import SignatureInfo
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # seven days, the lifetime of a SigV4 signing key
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# x-amz-content-sha256 values that stand for the payload instead of its hash (S3).
PAYLOAD_MARKERS = (
    "UNSIGNED-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_S3_CREDENTIAL_FORMAT = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'

Flavor = Literal["s3", "query", "json", "rest"]
ErrorKind = Literal["mismatch", "incomplete", "unknown_key", "invalid_token", "expired_token", "missing"]

# (code, HTTP status) of each authentication failure, by protocol family. The json services
# answer with coral's `...Exception` codes and 400; the REST-json ones (Lambda, API Gateway,
# Scheduler, SESv2) use the same codes with 403.
_CODES: dict[Flavor, dict[ErrorKind, tuple[str, int]]] = {
    "query": {
        "mismatch": ("SignatureDoesNotMatch", 403),
        "incomplete": ("IncompleteSignature", 400),
        "unknown_key": ("InvalidClientTokenId", 403),
        "invalid_token": ("InvalidClientTokenId", 403),
        "expired_token": ("ExpiredToken", 403),
        "missing": ("MissingAuthenticationToken", 403),
    },
    "json": {
        "mismatch": ("InvalidSignatureException", 400),
        "incomplete": ("IncompleteSignatureException", 400),
        "unknown_key": ("UnrecognizedClientException", 400),
        "invalid_token": ("UnrecognizedClientException", 400),
        "expired_token": ("ExpiredTokenException", 400),
        "missing": ("MissingAuthenticationTokenException", 400),
    },
    "rest": {
        "mismatch": ("InvalidSignatureException", 403),
        "incomplete": ("IncompleteSignatureException", 403),
        "unknown_key": ("UnrecognizedClientException", 403),
        "invalid_token": ("UnrecognizedClientException", 403),
        "expired_token": ("ExpiredTokenException", 403),
        "missing": ("MissingAuthenticationTokenException", 403),
    },
    "s3": {
        "mismatch": ("SignatureDoesNotMatch", 403),
        "incomplete": ("AuthorizationHeaderMalformed", 400),
        "unknown_key": ("InvalidAccessKeyId", 403),
        "invalid_token": ("InvalidToken", 400),
        "expired_token": ("ExpiredToken", 400),
        # S3 has no such error: an unsigned request is anonymous and bucket ACLs/policies decide.
        "missing": ("AccessDenied", 403),
    },
}

_CREDENTIAL_MESSAGES: dict[Flavor, dict[str, str]] = {
    "s3": {
        "unknown_key": "The AWS Access Key Id you provided does not exist in our records.",
        "invalid_token": "The provided token is malformed or otherwise invalid.",
        "expired_token": "The provided token has expired.",
    },
}
_DEFAULT_CREDENTIAL_MESSAGES = {
    "unknown_key": "The security token included in the request is invalid.",
    "invalid_token": "The security token included in the request is invalid.",
    "expired_token": "The security token included in the request is expired",
}


# --------------------------------------------------------------------------- error flavors


def error_flavor(request: HttpRequest, signing_name: str | None = None, service: str | None = None) -> Flavor:
    """The protocol family whose authentication errors this request gets."""
    if service is None and signing_name:
        service = routing.service_for_signing_name(request, signing_name)
    if service is None:
        found = routing.route(request, None)
        service = found.service if found is not None else None
    if service is None:
        return "query"
    if service == "s3":
        return "s3"
    protocols = routing.protocols_of(service)
    query_capable = "query" in protocols or service in routing.QUIRKS.extra_query_services
    if protocols[0] == "query" or (query_capable and routing.query_action(request)[0]):
        return "query"
    return "rest" if protocols[0].startswith("rest-") else "json"


def auth_error(kind: ErrorKind, flavor: Flavor, message: str, **fields: str) -> ServiceError:
    code, status = _CODES[flavor][kind]
    return ServiceError(code, message, status, fields=dict(fields) or None)


def credential_error(
    kind: Literal["unknown_key", "invalid_token", "expired_token"], flavor: Flavor, access_key_id: str = ""
) -> ServiceError:
    """Unknown access key, a session token that does not belong to it, or an expired one."""
    message = _CREDENTIAL_MESSAGES.get(flavor, _DEFAULT_CREDENTIAL_MESSAGES)[kind]
    if flavor == "s3" and kind == "unknown_key":
        return auth_error(kind, flavor, message, AWSAccessKeyId=access_key_id)
    return auth_error(kind, flavor, message)


def missing_authentication_error(flavor: Flavor) -> ServiceError:
    """An unsigned request to an operation that needs credentials (AWS's common error
    MissingAuthenticationToken; coral's MissingAuthenticationTokenException for json services)."""
    message = "Missing Authentication Token" if flavor == "rest" else "Request is missing Authentication Token"
    return auth_error("missing", flavor, message)


def _s3_query_error(message: str) -> ServiceError:
    return ServiceError("AuthorizationQueryParametersError", message, 400)


# --------------------------------------------------------------------------- parsing


def _credential_scope(credential: str) -> list[str] | None:
    parts = credential.split("/")
    return parts if len(parts) == 5 and all(parts) else None


def _date_from_headers(request: HttpRequest) -> str:
    """The request time as YYYYMMDDTHHMMSSZ: X-Amz-Date, else the HTTP Date header; '' if none."""
    amz = request.headers.get("x-amz-date")
    if amz:
        return amz.strip()
    date = request.headers.get("date")
    if date:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            return ""
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    return ""


def parse_signature(request: HttpRequest) -> SignatureInfo | None:
    """What the request's SigV4 signature says, or None when it carries none.

    Raises ServiceError (the service's own code) for a malformed signature."""
    has_query_auth = "X-Amz-" in request.query_string and any(
        key in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature") for key, _ in request.query_items()
    )
    authorization = request.headers.get("authorization")
    if authorization is not None and has_query_auth and error_flavor(request) == "s3":
        raise ServiceError(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified",
            400,
            fields={"ArgumentName": "Authorization", "ArgumentValue": authorization},
        )
    if authorization is not None:
        return _parse_header(request, authorization)
    if has_query_auth:
        return _parse_query(request)
    return None


def _parse_header(request: HttpRequest, authorization: str) -> SignatureInfo:
    algorithm, _, rest = authorization.strip().partition(" ")
    known: list[Flavor] = []

    def flavor() -> Flavor:
        # Which error family answers: needed only once something is wrong (it routes the
        # request, which a well-formed signature never needs here).
        if not known:
            credential_match = re.search(r"Credential=([^,\s]+)", authorization)
            scope_guess = _credential_scope(credential_match.group(1)) if credential_match else None
            known.append(error_flavor(request, scope_guess[3] if scope_guess else None))
        return known[0]

    if algorithm != ALGORITHM:
        if flavor() == "s3":
            if algorithm == "AWS":  # Signature Version 2, retired by S3 in newer regions
                raise ServiceError(
                    "InvalidRequest",
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                    400,
                )
            raise ServiceError(
                "InvalidArgument",
                "Unsupported Authorization Type",
                400,
                fields={"ArgumentName": "Authorization", "ArgumentValue": authorization},
            )
        rest = ""  # an unknown scheme lacks every SigV4 component
    components: dict[str, str] = {}
    for piece in rest.split(","):
        piece = piece.strip()
        if not piece:
            continue
        key, eq, value = piece.partition("=")
        if not eq:
            if flavor() == "s3":
                raise auth_error(
                    "incomplete",
                    flavor(),
                    "The authorization header is malformed; the authorization "
                    'component "' + piece + '" is malformed.',
                )
            digest = base64.b64encode(hashlib.sha256(piece.encode()).digest()).decode()
            raise auth_error(
                "incomplete",
                flavor(),
                "Invalid key=value pair (missing equal-sign) in Authorization "
                f"header (hashed with SHA-256 and encoded with Base64): '{digest}'.",
            )
        components[key.strip()] = value.strip()
    amz_date = _date_from_headers(request)
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not components.get(name)]
    if (missing or not amz_date) and flavor() == "s3":
        if missing:
            raise auth_error(
                "incomplete",
                flavor(),
                "The authorization header is malformed; the authorization header "
                "requires three components: Credential, SignedHeaders, and Signature.",
            )
        if not amz_date:
            raise ServiceError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403
            )
    elif missing or not amz_date:
        problems = [f"Authorization header requires '{name}' parameter." for name in missing]
        if not amz_date:
            problems.append(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            )
        raise auth_error("incomplete", flavor(), " ".join(problems) + f" Authorization={authorization}")
    scope = _credential_scope(components["Credential"])
    if scope is None or scope[4] != TERMINATOR:
        raise _bad_credential(flavor(), components["Credential"], scope, presigned=False)
    return SignatureInfo(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(h.strip().lower() for h in components["SignedHeaders"].split(";") if h.strip()),
        signature=components["Signature"],
        amz_date=amz_date,
        session_token=request.headers.get("x-amz-security-token"),
    )


def _bad_credential(
    flavor: Flavor, credential: str, scope: list[str] | None, *, presigned: bool
) -> ServiceError:
    if flavor == "s3":
        if presigned:
            return _s3_query_error(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
                + _S3_CREDENTIAL_FORMAT
            )
        return auth_error(
            "incomplete",
            flavor,
            "The authorization header is malformed; the Credential is mal-formed; " + _S3_CREDENTIAL_FORMAT,
        )
    if scope is None:
        return auth_error(
            "incomplete",
            flavor,
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'",
        )
    return auth_error(
        "mismatch",
        flavor,
        f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{scope[4]}'.",
    )


def _parse_query(request: HttpRequest) -> SignatureInfo:
    params = request.query()
    credential = params.get("X-Amz-Credential", "")
    scope_guess = _credential_scope(credential)
    flavor = error_flavor(request, scope_guess[3] if scope_guess else None)
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
    missing = [name for name in required if not params.get(name)]
    if flavor == "s3":
        if missing or not params.get("X-Amz-Expires"):
            raise _s3_query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                "X-Amz-Expires parameters."
            )
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise _s3_query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    elif missing:
        problems = [f"AWS query-string parameters must include '{name}'." for name in missing]
        raise auth_error(
            "incomplete", flavor, " ".join(problems) + " Re-examine the query-string parameters."
        )
    elif params["X-Amz-Algorithm"] != ALGORITHM:
        raise auth_error("incomplete", flavor, f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'")
    amz_date = params["X-Amz-Date"]
    if not _AMZ_DATE.fullmatch(amz_date):
        message = "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        raise _s3_query_error(message) if flavor == "s3" else auth_error("incomplete", flavor, message)
    expires = _parse_expires(params.get("X-Amz-Expires"), flavor)
    if scope_guess is None or scope_guess[4] != TERMINATOR:
        raise _bad_credential(flavor, credential, scope_guess, presigned=True)
    return SignatureInfo(
        access_key_id=scope_guess[0],
        date=scope_guess[1],
        region=scope_guess[2],
        service=scope_guess[3],
        signed_headers=tuple(
            h.strip().lower() for h in params["X-Amz-SignedHeaders"].split(";") if h.strip()
        ),
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        session_token=params.get("X-Amz-Security-Token") or request.headers.get("x-amz-security-token"),
        presigned=True,
        expires=expires,
    )


def _parse_expires(raw: str | None, flavor: Flavor) -> int | None:
    if raw is None or raw == "":
        return None
    fail = _s3_query_error if flavor == "s3" else (lambda m: auth_error("incomplete", flavor, m))
    try:
        expires = int(raw)
    except ValueError:
        raise fail("X-Amz-Expires should be a number") from None
    if expires < 0:
        raise fail("X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGNED_EXPIRES:
        raise fail(f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_EXPIRES}")
    return expires


# --------------------------------------------------------------------------- canonical request


def _uri_encode(data: bytes | str, safe: str = "-_.~") -> str:
    return quote(data, safe=safe)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal; AWS also collapses consecutive slashes."""
    if not path:
        return "/"
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    trailing = "/" if path.endswith("/") and output else ""
    return "/" + "/".join(output) + trailing


def canonical_uri(path: str, *, s3: bool) -> str:
    """S3 signs the path as sent; the others the normalized path, percent-encoded once more."""
    if s3:
        return path or "/"
    return _uri_encode(_remove_dot_segments(path), safe="/~")


def canonical_query(query_string: str, *, exclude_signature: bool) -> str:
    """Each name and value decoded and re-encoded (RFC 3986, space as %20), sorted.

    A raw `+` is a space, as AWS reads query strings; a plus sign is sent as %2B (botocore's
    own AWSRequest(params=...) puts `+` on the wire and signs %20)."""
    pairs: list[tuple[str, str]] = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        key, _, value = piece.replace("+", " ").partition("=")
        key_enc = _uri_encode(unquote_to_bytes(key))
        if exclude_signature and key_enc == "X-Amz-Signature":
            continue
        pairs.append((key_enc, _uri_encode(unquote_to_bytes(value))))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_headers(request: HttpRequest, signed_headers: tuple[str, ...]) -> str:
    lines = []
    for name in signed_headers:
        values = request.headers.get_all(name)
        lines.append(f"{name}:" + ",".join(" ".join(v.split()) for v in values))
    return "\n".join(lines) + "\n"


def payload_hash(request: HttpRequest, info: SignatureInfo, *, s3: bool) -> str:
    """The hashed-payload line. S3 trusts (and checks) x-amz-content-sha256; the others hash the body."""
    declared = request.headers.get("x-amz-content-sha256")
    if s3:
        if declared is None and info.presigned:
            declared = request.query().get("X-Amz-Content-Sha256") or "UNSIGNED-PAYLOAD"
        if declared is None:
            raise ServiceError(
                "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400
            )
        if declared in PAYLOAD_MARKERS:
            return declared
        if not _HEX64.fullmatch(declared):
            raise ServiceError(
                "InvalidArgument",
                "x-amz-content-sha256 must be "
                + ", ".join(PAYLOAD_MARKERS[:-1])
                + f" or {PAYLOAD_MARKERS[-1]} "
                "or a valid sha256 value.",
                400,
                fields={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": declared},
            )
        if request.stream is not None:
            # A streamed payload is hashed as it is stored; the S3 provider compares then.
            return declared
        computed = hashlib.sha256(request.body).hexdigest()
        if computed != declared.lower():
            raise ServiceError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                fields={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
            )
        return declared
    if declared in PAYLOAD_MARKERS:
        return declared
    return hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256


def canonical_request(request: HttpRequest, info: SignatureInfo, *, s3: bool) -> str:
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path, s3=s3),
            canonical_query(request.query_string, exclude_signature=info.presigned),
            canonical_headers(request, info.signed_headers),
            ";".join(info.signed_headers),
            payload_hash(request, info, s3=s3),
        )
    )


def string_to_sign(info: SignatureInfo, canonical: str) -> str:
    scope = f"{info.date}/{info.region}/{info.service}/{TERMINATOR}"
    return "\n".join((ALGORITHM, info.amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()))


@lru_cache(maxsize=1024)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def compute_signature(secret_key: str, info: SignatureInfo, to_sign: str) -> str:
    key = signing_key(secret_key, info.date, info.region, info.service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- verification


def _parse_amz_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def check_request_time(
    request: HttpRequest, info: SignatureInfo, now: datetime, *, service: str | None = None
) -> None:
    """Reject a request signed more than 15 minutes away from `now`, or a presigned URL past its
    X-Amz-Expires. Needs no secret, so it also runs when signatures are not verified."""
    flavor = error_flavor(request, info.service, service)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    signed_at = _parse_amz_date(info.amz_date)
    if signed_at is None:
        message = "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        if flavor == "s3":
            raise ServiceError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403
            )
        raise auth_error("incomplete", flavor, message)
    if info.presigned and flavor == "s3":
        # S3 honours X-Amz-Expires (up to 7 days) and nothing else.
        expires_at = signed_at + timedelta(seconds=info.expires or 0)
        if now > expires_at:
            raise ServiceError(
                "AccessDenied",
                "Request has expired",
                403,
                fields={
                    "X-Amz-Expires": str(info.expires or 0),
                    "Expires": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        if signed_at - now > MAX_SKEW:
            raise ServiceError("AccessDenied", "Request is not valid yet", 403)
        return
    if info.presigned and info.expires is not None and now > signed_at + timedelta(seconds=info.expires):
        expired_at = signed_at + timedelta(seconds=info.expires)
        raise auth_error(
            "mismatch", flavor, f"Signature expired: {_fmt(expired_at)} is now earlier than {_fmt(now)}."
        )
    if now - signed_at > MAX_SKEW or signed_at - now > MAX_SKEW:
        if flavor == "s3":
            raise ServiceError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
                fields={
                    "RequestTime": info.amz_date,
                    "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "MaxAllowedSkewMilliseconds": "900000",
                },
            )
        if signed_at < now:
            raise auth_error(
                "mismatch",
                flavor,
                f"Signature expired: {info.amz_date} is now earlier than "
                f"{_fmt(now - MAX_SKEW)} ({_fmt(now)} - 15 min.)",
            )
        raise auth_error(
            "mismatch",
            flavor,
            f"Signature not yet current: {info.amz_date} is still later than "
            f"{_fmt(now + MAX_SKEW)} ({_fmt(now)} + 15 min.)",
        )


def verify_signature(
    request: HttpRequest, info: SignatureInfo, secret_key: str, now: datetime, *, service: str | None = None
) -> None:
    """Check time and signature of a request (as received, before any routing rewrite).

    `service` is the botocore service name when routing already knows it; it picks the error
    codes (ses and sesv2 share a signing name but not a protocol). Raises ServiceError."""
    flavor = error_flavor(request, info.service, service)
    check_request_time(request, info, now, service=service)
    if info.date != info.amz_date[:8]:
        if flavor == "s3":
            message = "Invalid credential date. Date is not the same as X-Amz-Date."
            if info.presigned:
                raise _s3_query_error(message)
            raise auth_error("incomplete", flavor, "The authorization header is malformed; " + message)
        raise auth_error(
            "mismatch",
            flavor,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            f"version of date from HTTP: '{info.date}' != '{info.amz_date[:8]}', from "
            f"'{info.amz_date}'.",
        )
    canonical = canonical_request(request, info, s3=flavor == "s3")
    to_sign = string_to_sign(info, canonical)
    expected = compute_signature(secret_key, info, to_sign)
    if not hmac.compare_digest(expected.encode(), info.signature.encode()):
        if flavor == "s3":
            raise auth_error(
                "mismatch",
                flavor,
                MISMATCH_MESSAGE,
                AWSAccessKeyId=info.access_key_id,
                StringToSign=to_sign,
                SignatureProvided=info.signature,
                CanonicalRequest=canonical,
            )
        raise auth_error("mismatch", flavor, MISMATCH_MESSAGE)
