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
from collections.abc import AsyncIterable, AsyncIterator
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


# S3 reads at most this much of the form before the file (fields, their headers, boundaries).
MAX_PRE_DATA = 20480
# POST uploads are single PUTs: at most 5 GB, whatever the policy allows.
MAX_POST_SIZE = 5 * 1024**3
# What is read (and ignored) after the file part, at most: S3 ignores every field after it.
MAX_EPILOGUE = 64 * 1024


def malformed() -> ServiceError:
    return ServiceError("MalformedPOSTRequest",
                        "The body of your POST request is not well-formed multipart/form-data.", 400)


def _pre_data_too_large() -> ServiceError:
    # AWS's own spelling ("preceeding").
    return ServiceError("MaxPostPreDataLengthExceeded",
                        "Your POST request fields preceeding the upload file was too large.", 400,
                        fields={"MaxPostPreDataLengthBytes": str(MAX_PRE_DATA)})


@dataclass
class FormFile:
    """The form's file part: its name and type, and its content as it streams in."""

    filename: str
    content_type: str | None
    body: AsyncIterator[bytes]


class _FormReader:
    """multipart/form-data read from a stream: the fields before the file whole (at most
    MAX_PRE_DATA bytes), then the file's content piece by piece, so memory does not grow
    with the upload."""

    def __init__(self, chunks: AsyncIterable[bytes], boundary: bytes) -> None:
        self._chunks = chunks.__aiter__()
        self._buf = bytearray()
        self._eof = False
        self._pre_data = 0
        self.delimiter = b"--" + boundary
        self.marker = b"\r\n" + self.delimiter  # what ends a part's content

    async def _more(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _take(self, count: int, skip: int = 0) -> bytes:
        with memoryview(self._buf) as view:
            out = bytes(view[:count])
        del self._buf[: count + skip]
        return out

    async def _until(self, token: bytes) -> bytes:
        """The form data before `token` (which is consumed too), counted as pre-file data."""
        start = 0
        while True:
            at = self._buf.find(token, start)
            if at >= 0:
                self._pre_data += at + len(token)
                if self._pre_data > MAX_PRE_DATA:
                    raise _pre_data_too_large()
                return self._take(at, len(token))
            if self._pre_data + len(self._buf) > MAX_PRE_DATA + len(token):
                raise _pre_data_too_large()
            start = max(0, len(self._buf) - len(token) + 1)
            if not await self._more():
                raise malformed()

    async def _prefix(self, size: int) -> bytes:
        while len(self._buf) < size and await self._more():
            pass
        return bytes(self._buf[:size])

    async def fields_and_file(self) -> tuple[dict[str, str], FormFile | None]:
        fields: dict[str, str] = {}
        await self._until(self.delimiter)  # the preamble, usually empty
        while True:
            after = await self._prefix(2)
            if after == b"--":  # the closing delimiter: a form without a file
                return fields, None
            if after == b"\r\n":
                del self._buf[:2]
            head = await self._until(b"\r\n\r\n")
            disposition, part_type = "", None
            try:
                # Strictly: the file name becomes the key's ${filename}, and a lossy decoding
                # would give two different names one key.
                head_text = head.decode("utf-8")
            except UnicodeDecodeError:
                raise malformed() from None
            for line in head_text.split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-disposition":
                    disposition = value
                elif name.strip().lower() == "content-type":
                    part_type = value.strip()
            params = _disposition_params(disposition)
            field = params.get("name", "").lower()
            if field == "file":  # S3 ignores every field after the file
                return fields, FormFile(params.get("filename", ""), part_type, self._file_content())
            content = await self._until(self.marker)
            if field and field not in fields:
                try:
                    fields[field] = content.decode("utf-8")
                except UnicodeDecodeError:  # never a lossy key: two names would be one object
                    raise malformed() from None

    async def _file_content(self) -> AsyncIterator[bytes]:
        """The file part's bytes up to the next delimiter; what follows is read and ignored
        (MAX_EPILOGUE at most: beyond that the connection is closed unread)."""
        marker = self.marker
        keep = len(marker) - 1  # a marker may straddle two incoming chunks
        while True:
            at = self._buf.find(marker)
            if at >= 0:
                if at:
                    yield self._take(at)
                del self._buf[: len(marker)]
                break
            if len(self._buf) > keep:
                yield self._take(len(self._buf) - keep)
            if not await self._more():
                raise malformed()  # the file part never ended
        ignored = len(self._buf)
        self._buf.clear()
        while ignored <= MAX_EPILOGUE and await self._more():
            ignored += len(self._buf)
            self._buf.clear()


async def read_form(chunks: AsyncIterable[bytes], content_type: str) -> tuple[dict[str, str], FormFile | None]:
    """The fields (names lowercased, first value wins) of a multipart/form-data body up to its
    file part, and that part with its content still to be read (`FormFile.body`)."""
    boundary = ""
    for piece in content_type.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise malformed()
    return await _FormReader(chunks, boundary.encode("latin-1")).fields_and_file()


async def sized(body: AsyncIterator[bytes], size_range: tuple[int, int] | None) -> AsyncIterator[bytes]:
    """`body`, ended with EntityTooLarge as soon as it grows past the policy's
    content-length-range (or 5 GB), and with EntityTooSmall at its end if short of it: the
    upload is abandoned before it becomes an object."""
    low, high = size_range if size_range is not None else (0, MAX_POST_SIZE)
    high = min(high, MAX_POST_SIZE)
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > high:
            raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
                               fields={"ProposedSize": str(size), "MaxSizeAllowed": str(high)})
        yield chunk
    if size < low:
        raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400,
                           fields={"ProposedSize": str(size), "MinSizeAllowed": str(low)})


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


def check_policy(fields: dict[str, str], bucket: str, now: datetime) -> tuple[int, int] | None:
    """The policy's expiration and every condition, against the form (key already substituted).
    The content-length-range condition (min, max) is returned: the file is still to come, and
    `sized` checks it as the bytes arrive."""
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
    size_range: tuple[int, int] | None = None
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
                try:
                    size_range = (int(name), int(expected))
                except (TypeError, ValueError):
                    raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range "
                                       "condition.", 400) from None
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
    return size_range
