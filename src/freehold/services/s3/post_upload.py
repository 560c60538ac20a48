"""Browser uploads with an HTML form: POST multipart/form-data to a bucket, authorized by a
signed POST policy (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).

The policy (base64 JSON: expiration and conditions) is signed with SigV4 (x-amz-signature over
the policy with the credential scope's key) or SigV2 (`signature`, HMAC-SHA1). Every form
field except the signature, the file, the policy and `x-ignore-*` must be covered by a
condition; conditions are exact matches ({"key": v}, ["eq", "$key", v]), prefixes
(["starts-with", "$key", p]) and ["content-length-range", min, max].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from freehold.gateway import presigned, sigv4
from freehold.gateway.context import Principal
from freehold.gateway.identity import CredentialResolver, root_account_for_key
from freehold.protocol.errors import ServiceError

# Fields no condition needs to cover: the signature and what it is made of (boto3's
# generate_presigned_post lists the credential, algorithm and date in the policy anyway).
UNCHECKED = frozenset({"policy", "x-amz-signature", "signature", "file", "awsaccesskeyid", "x-amz-credential",
                       "x-amz-algorithm", "x-amz-date", "x-amz-security-token"})


@dataclass
class FormFile:
    filename: str
    content_type: str | None
    data: bytes


def parse_form(body: bytes, content_type: str) -> tuple[dict[str, str], FormFile | None]:
    """The fields (names lowercased, first value wins) and the file of a multipart/form-data body."""
    boundary = ""
    for piece in content_type.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ServiceError("MalformedPOSTRequest",
                           "The body of your POST request is not well-formed multipart/form-data.", 400)
    fields: dict[str, str] = {}
    upload: FormFile | None = None
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disposition, part_type = "", None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
            elif name.strip().lower() == "content-type":
                part_type = value.strip()
        params = _disposition_params(disposition)
        field = params.get("name", "").lower()
        if field == "file":
            upload = FormFile(params.get("filename", ""), part_type, content)
            break  # S3 ignores every field after the file
        if field and field not in fields:
            fields[field] = content.decode("utf-8", "replace")
    return fields, upload


def _disposition_params(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for piece in text.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        result[name.strip().lower()] = value.strip().strip('"')
    return result


def _denied(message: str) -> ServiceError:
    return ServiceError("AccessDenied", message, 403)


def _secrets_of(access_key_id: str, resolver: CredentialResolver | None) -> tuple[tuple[str, ...], Principal]:
    issued = resolver.resolve(access_key_id) if resolver is not None else None
    if issued is None:
        return presigned.dev_secrets(access_key_id), Principal.root(root_account_for_key(access_key_id), access_key_id)
    return (issued.secret_access_key,), issued.principal


def verify_policy_signature(fields: dict[str, str], resolver: CredentialResolver | None) -> Principal:
    """The principal whose key signed the form's policy; AccessDenied / SignatureDoesNotMatch."""
    policy = fields.get("policy")
    if policy is None:
        raise _denied("Bucket POST must contain a field named 'policy'.  If it is specified, please check the "
                      "order of the fields.")
    if "x-amz-signature" in fields:
        credential = fields.get("x-amz-credential", "")
        scope = credential.split("/")
        if len(scope) != 5 or fields.get("x-amz-algorithm") != sigv4.ALGORITHM:
            raise ServiceError("InvalidArgument", "POST requires exactly one of the x-amz-credential, "
                               "x-amz-algorithm and x-amz-signature fields to be well formed", 400)
        secrets, principal = _secrets_of(scope[0], resolver)
        for secret in secrets:
            key = sigv4.signing_key(secret, scope[1], scope[2], scope[3])
            if hmac.compare_digest(hmac.new(key, policy.encode(), hashlib.sha256).hexdigest(),
                                   fields["x-amz-signature"]):
                return principal
    elif "signature" in fields and "awsaccesskeyid" in fields:
        secrets, principal = _secrets_of(fields["awsaccesskeyid"], resolver)
        for secret in secrets:
            digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
            if hmac.compare_digest(base64.b64encode(digest).decode(), fields["signature"]):
                return principal
    else:
        raise _denied("Bucket POST must contain a field named 'x-amz-signature' (or 'signature' with "
                      "'AWSAccessKeyId').")
    raise ServiceError("SignatureDoesNotMatch", presigned.MISMATCH, 403)


def check_policy(fields: dict[str, str], bucket: str, size: int, now: datetime) -> None:
    """The policy's expiration and every condition, against the form (key already substituted)."""
    try:
        document: dict[str, Any] = json.loads(base64.b64decode(fields["policy"], validate=True))
    except (binascii.Error, ValueError):
        raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", 400) from None
    expiration = document.get("expiration")
    try:
        expires = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: "
                           f"'{expiration}'", 400) from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if now > expires:
        raise _denied("Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": bucket}
    covered: set[str] = set()
    for condition in document.get("conditions") or []:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != str(expected):
                    raise _denied("Invalid according to Policy: Policy Condition failed: "
                                  + json.dumps(["eq", f"${name}", expected]))
        elif isinstance(condition, list) and len(condition) == 3:
            operator, name, expected = condition
            operator = str(operator).lower()
            if operator == "content-length-range":
                if not int(name) <= size <= int(expected):
                    message = "Your proposed upload exceeds the maximum allowed size" if size > int(expected) \
                        else "Your proposed upload is smaller than the minimum allowed size"
                    code = "EntityTooLarge" if size > int(expected) else "EntityTooSmall"
                    raise ServiceError(code, message, 400, fields={
                        "ProposedSize": str(size), "MaxSizeAllowed" if code == "EntityTooLarge" else
                        "MinSizeAllowed": str(expected if code == "EntityTooLarge" else name)})
                continue
            field = str(name).lstrip("$").lower()
            covered.add(field)
            actual = values.get(field, "")
            ok = actual == expected if operator == "eq" else actual.startswith(str(expected)) \
                if operator == "starts-with" else False
            if not ok:
                raise _denied("Invalid according to Policy: Policy Condition failed: " + json.dumps(condition))
        else:
            raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Condition: value must be a "
                               "string.", 400)
    extra = sorted(f for f in fields if f not in UNCHECKED and f not in covered and not f.startswith("x-ignore-"))
    if extra:
        raise _denied("Invalid according to Policy: Extra input fields: " + ", ".join(extra))
