"""Chunk signatures of SigV4 streaming uploads, checked as the body streams in.

With `x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (and `...-PAYLOAD-TRAILER`) the
header signature (the "seed") covers only the headers; every chunk of the aws-chunked body then
carries a signature of its own, chained from the previous one:

    <hex size>;chunk-signature=<signature>\\r\\n<bytes>\\r\\n ... 0;chunk-signature=<sig>\\r\\n

    string to sign = "AWS4-HMAC-SHA256-PAYLOAD" \\n <x-amz-date> \\n <scope> \\n
                     <previous signature> \\n <SHA-256 of ""> \\n <SHA-256 of the chunk's bytes>

signed with the request's signing key; the first chunk chains from the seed and the final,
empty chunk is signed too, so a body cannot be cut short, reordered or altered
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html). With trailers the
trailing headers are signed last, chained from the final chunk's signature:

    string to sign = "AWS4-HMAC-SHA256-TRAILER" \\n <x-amz-date> \\n <scope> \\n
                     <final chunk's signature> \\n <SHA-256 of "name:value\\n" per trailer>

sent as the `x-amz-trailer-signature` trailer
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html).

`ChunkSignatures` is the verifier protocol.chunked_stream.AwsChunkedStream (a streamed body) and
protocol.parser_chunked.decode_aws_chunked (a body read whole) call for each chunk; it raises S3's
SignatureDoesNotMatch (403) at the first bad signature, before the body ends, so the request is
abandoned and nothing is stored. Only strict mode verifies (in default mode header signatures are
not checked either): once the gateway has verified the request's seed signature it attaches the
verifier to a streamed body (`attach`) or checks a body read whole (`verify_whole`) before the
body is parsed, for every operation. A signed declaration freehold cannot verify (SigV4a's ECDSA
chunks, a presigned or unsigned seed) is refused, never let through unchecked.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from freehold.gateway import sigv4
from freehold.gateway.context import SignatureInfo
from freehold.protocol.chunked_stream import AwsChunkedStream
from freehold.protocol.errors import ServiceError
from freehold.protocol.parser_chunked import decode_aws_chunked

SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
# SigV4a streaming: chunks signed with ECDSA, chained from a SigV4a seed, which freehold does not
# verify (it takes only AWS4-HMAC-SHA256 header signatures), so strict mode refuses them.
ECDSA_PAYLOADS = ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
TRAILER_SIGNATURE = "x-amz-trailer-signature"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SIGNATURE_EXTENSION = b"chunk-signature="


def mismatch(access_key_id: str, to_sign: str = "", provided: str = "") -> ServiceError:
    """S3's SignatureDoesNotMatch (403), as for a bad header signature."""
    fields = {"AWSAccessKeyId": access_key_id}
    if to_sign:
        fields["StringToSign"] = to_sign
    if provided:
        fields["SignatureProvided"] = provided
    return sigv4.auth_error("mismatch", "s3", sigv4.MISMATCH_MESSAGE, **fields)


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, chunk_sha256: str) -> str:
    return "\n".join((CHUNK_ALGORITHM, amz_date, scope, previous, EMPTY_SHA256, chunk_sha256))


def trailer_string_to_sign(amz_date: str, scope: str, previous: str, trailers: list[tuple[str, str]]) -> str:
    canonical = "".join(f"{name.lower()}:{value}\n" for name, value in trailers)
    return "\n".join((TRAILER_ALGORITHM, amz_date, scope, previous, hashlib.sha256(canonical.encode()).hexdigest()))


def sign(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class ChunkSignatures:
    """Verifies the chain of chunk signatures (and the trailer signature) of one body."""

    def __init__(self, key: bytes, info: SignatureInfo, trailer: bool) -> None:
        self._key = key
        self._amz_date = info.amz_date
        self._scope = f"{info.date}/{info.region}/{info.service}/{sigv4.TERMINATOR}"
        self._access_key_id = info.access_key_id
        self._previous = info.signature  # the seed: the verified header signature
        self._trailer = trailer
        self._provided = ""
        self._digest = hashlib.sha256()

    @classmethod
    def for_secret(cls, secret_key: str, info: SignatureInfo, trailer: bool) -> ChunkSignatures:
        return cls(sigv4.signing_key(secret_key, info.date, info.region, info.service), info, trailer)

    def begin_chunk(self, extensions: bytes) -> None:
        provided = b""
        for extension in extensions.split(b";"):
            extension = extension.strip()
            if extension.startswith(_SIGNATURE_EXTENSION):
                provided = extension[len(_SIGNATURE_EXTENSION):]
        if not provided:  # a signed stream's chunk without its signature
            raise mismatch(self._access_key_id)
        self._provided = provided.decode("latin-1")
        self._digest = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._digest.update(data)

    def end_chunk(self) -> None:
        to_sign = chunk_string_to_sign(self._amz_date, self._scope, self._previous, self._digest.hexdigest())
        expected = sign(self._key, to_sign)
        if not hmac.compare_digest(expected.encode(), self._provided.encode()):
            raise mismatch(self._access_key_id, to_sign, self._provided)
        self._previous = expected

    def end_trailers(self, trailers: list[tuple[str, str]]) -> None:
        if not self._trailer:
            if trailers:  # trailers no signature covers (the mode declared none): not taken
                raise mismatch(self._access_key_id)
            return
        signed = [(n, v) for n, v in trailers if n.lower() != TRAILER_SIGNATURE]
        provided = next((v for n, v in trailers if n.lower() == TRAILER_SIGNATURE), "")
        to_sign = trailer_string_to_sign(self._amz_date, self._scope, self._previous, signed)
        expected = sign(self._key, to_sign)
        if not provided or not hmac.compare_digest(expected.encode(), provided.encode()):
            raise mismatch(self._access_key_id, to_sign, provided)


def signed_streaming(headers: Any) -> str | None:
    """The signed streaming mode a request declares (SIGNED_PAYLOAD[_TRAILER]), else None."""
    declared = (headers.get("x-amz-content-sha256") or "").strip().upper()
    return declared if declared in (SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER) else None


def declares_signed_chunks(headers: Any) -> bool:
    """Whether the body claims to be signed chunk by chunk (SigV4 or SigV4a)."""
    declared = (headers.get("x-amz-content-sha256") or "").strip().upper()
    return declared in (SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER, *ECDSA_PAYLOADS)


def _verifier(headers: Any, info: SignatureInfo | None, secret_key: str | None) -> ChunkSignatures | None:
    """The verifier for a request declaring signed chunks; None when it declares none. Refused
    (SignatureDoesNotMatch) when the chain cannot be checked: no SigV4 header signature to seed
    it (unsigned, presigned), no key, or ECDSA chunks."""
    if not declares_signed_chunks(headers):
        return None
    mode = signed_streaming(headers)
    if mode is None or info is None or secret_key is None or info.presigned:
        raise mismatch(info.access_key_id if info is not None else "")
    return ChunkSignatures.for_secret(secret_key, info, trailer=mode == SIGNED_PAYLOAD_TRAILER)


def attach(body: Any, headers: Any, info: SignatureInfo | None, secret_key: str | None) -> None:
    """Make the aws-chunked `body` verify its chunk signatures as it is read. The request must
    declare a signed streaming payload; `secret_key` is its credential's secret (the gateway
    verified the seed signature with it). A signed declaration without a chunked body to check,
    or without a key to check it with, is refused."""
    verifier = _verifier(headers, info, secret_key)
    if verifier is None:
        return
    if not isinstance(body, AwsChunkedStream):
        raise mismatch(info.access_key_id if info is not None else "")
    if body.verifier is None:
        body.verifier = verifier


def verify_whole(body: bytes, headers: Any, info: SignatureInfo | None, secret_key: str | None) -> None:
    """Check every chunk signature (and the trailer signature) of an aws-chunked body read whole,
    before anything parses it: the same decoder the parser then runs over the same bytes, so
    what was verified is what is parsed."""
    verifier = _verifier(headers, info, secret_key)
    if verifier is not None:
        decode_aws_chunked(body, verifier)
