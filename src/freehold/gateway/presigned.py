"""Presigned URLs: verified on every request, in every mode, because a presigned URL is how an
anonymous holder of the link is authorized (a browser uploading to S3, a shared download).

Two flavours reach S3:
* SigV4 query auth (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Expires), which
  sigv4.py parses and verifies;
* SigV2 query auth (AWSAccessKeyId, Signature, Expires), which boto3 and `aws s3 presign` still
  produce for the us-east-1 endpoint: HMAC-SHA1 over the method, Content-MD5, Content-Type,
  Expires, the x-amz-* values and the canonical resource
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth).

Which secret verifies the signature: the secret freehold issued with the key (root key pairs,
IAM user keys, STS sessions). A key freehold did not issue (local development keys) cannot be
looked up, so the rule is the local-development convention the AWS tooling ecosystem uses
(LocalStack's documented defaults, the aws CLI examples for local endpoints): its secret is
`test`, or the key itself (`test`/`test`, `minioadmin`/`minioadmin`). A presigned URL signed
with any other secret for a key freehold does not know answers SignatureDoesNotMatch: sign
with such a key pair, or with credentials freehold issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from freehold.gateway import routing
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest

DEV_SECRET = "test"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing "
    "method."
)

# The sub-resources SigV2 signs (the same list as botocore's HmacV1Auth.QSAOfInterest).
SIGNED_SUBRESOURCES = frozenset({
    "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber", "policy",
    "requestPayment", "torrent", "versioning", "versionId", "versions", "website", "uploads", "uploadId",
    "response-content-type", "response-content-language", "response-expires", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
    "storageClass", "notification", "replication", "analytics", "metrics", "inventory", "select", "select-type",
    "object-lock",
})


def dev_secrets(access_key_id: str) -> tuple[str, ...]:
    """The secrets a key freehold did not issue may have (see the module docstring)."""
    return (DEV_SECRET,) if access_key_id == DEV_SECRET else (DEV_SECRET, access_key_id)


@dataclass(frozen=True)
class SigV2Query:
    access_key_id: str
    signature: str
    expires: int
    session_token: str | None


def parse_sigv2_query(request: HttpRequest) -> SigV2Query | None:
    """The SigV2 query parameters of a presigned URL, None when it has none."""
    if "AWSAccessKeyId=" not in request.query_string or "Signature=" not in request.query_string:
        return None
    params = request.query()
    key, signature, expires = params.get("AWSAccessKeyId"), params.get("Signature"), params.get("Expires")
    if not key or not signature or not expires:
        raise ServiceError("AccessDenied", "Query-string authentication requires the Signature, Expires and "
                           "AWSAccessKeyId parameters", 403)
    try:
        when = int(expires)
    except ValueError:
        raise ServiceError("AccessDenied", "Invalid date (should be seconds since epoch): " + expires, 403) from None
    return SigV2Query(key, signature, when, params.get("x-amz-security-token"))


def sigv2_string_to_sign(request: HttpRequest, query: SigV2Query) -> str:
    params = request.query()

    def value(name: str) -> str:
        found = request.headers.get(name)
        return (found if found is not None else params.get(name, "")).strip()

    amz: dict[str, str] = {}
    for name, item in request.headers:
        if name.lower().startswith("x-amz-"):
            amz[name.lower()] = ",".join(v.strip() for v in request.headers.get_all(name))
    for name, item in request.query_items():
        if name.lower().startswith("x-amz-") and name.lower() not in amz:
            amz[name.lower()] = item.strip()
    lines = [request.method.upper(), value("content-md5"), value("content-type"), str(query.expires)]
    lines += [f"{name}:{amz[name]}" for name in sorted(amz)]
    lines.append(_canonical_resource(request))
    return "\n".join(lines)


def _canonical_resource(request: HttpRequest) -> str:
    _, bucket = routing.s3_host(request)
    path = request.path or "/"
    resource = f"/{bucket}{path}" if bucket else path
    signed = []
    for piece in request.query_string.split("&"):
        name, sep, item = piece.partition("=")
        if name in SIGNED_SUBRESOURCES:
            signed.append((name, f"{name}={unquote(item)}" if sep else name))
    if signed:
        resource += "?" + "&".join(text for _, text in sorted(signed, key=lambda pair: pair[0]))
    return resource


def verify_sigv2(request: HttpRequest, query: SigV2Query, secrets: tuple[str, ...], now: datetime) -> None:
    """Raise S3's AccessDenied (expired) or SignatureDoesNotMatch unless one secret verifies."""
    moment = now if now.tzinfo else now.replace(tzinfo=UTC)
    if moment.timestamp() > query.expires:
        raise ServiceError("AccessDenied", "Request has expired", 403, fields={
            "Expires": datetime.fromtimestamp(query.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ServerTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    to_sign = sigv2_string_to_sign(request, query)
    for secret in secrets:
        digest = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode("ascii"), query.signature):
            return
    raise ServiceError("SignatureDoesNotMatch", MISMATCH, 403, fields={
        "AWSAccessKeyId": query.access_key_id, "StringToSign": to_sign, "SignatureProvided": query.signature,
    })
