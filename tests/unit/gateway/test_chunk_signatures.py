"""Chunk signatures of SigV4 streaming uploads: AWS's published example, chaining, tampering,
trailers."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator

import pytest

from freehold.gateway import chunk_signatures, sigv4
from freehold.gateway.chunk_signatures import ChunkSignatures, attach, verify_whole
from freehold.gateway.context import SignatureInfo
from freehold.protocol.chunked_stream import AwsChunkedStream
from freehold.protocol.errors import ServiceError

# The example of https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html: a PUT
# of 66,560 bytes of 'a' in chunks of 65,536 and 1,024 bytes, with its published signatures.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
FIRST = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
SECOND = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
FINAL = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
INFO = SignatureInfo(
    access_key_id="AKIAIOSFODNN7EXAMPLE", date="20130524", region="us-east-1", service="s3",
    signed_headers=("content-encoding", "content-length", "host", "x-amz-content-sha256", "x-amz-date",
                    "x-amz-decoded-content-length", "x-amz-storage-class"),
    signature=SEED, amz_date="20130524T000000Z",
)
KEY = sigv4.signing_key(SECRET, INFO.date, INFO.region, INFO.service)


def _example_body(first: str = FIRST, second: str = SECOND, final: str = FINAL, data: bytes = b"a") -> bytes:
    return (
        f"10000;chunk-signature={first}\r\n".encode() + data * 65536 + b"\r\n"
        + f"400;chunk-signature={second}\r\n".encode() + b"a" * 1024 + b"\r\n"
        + f"0;chunk-signature={final}\r\n\r\n".encode()
    )


def _decode(body: bytes, verifier: ChunkSignatures | None, piece: int = 7000) -> tuple[bytes, list[tuple[str, str]]]:
    async def source() -> AsyncIterator[bytes]:
        for start in range(0, len(body), piece):
            yield body[start : start + piece]

    async def run() -> tuple[bytes, list[tuple[str, str]]]:
        stream = AwsChunkedStream(source())
        stream.verifier = verifier
        data = b"".join([chunk async for chunk in stream])
        return data, stream.trailers

    return asyncio.run(run())


def _signed_body(payloads: list[bytes], trailers: list[tuple[str, str]] | None = None,
                 info: SignatureInfo = INFO) -> bytes:
    """An aws-chunked body signed the way the AWS documentation describes."""
    scope = f"{info.date}/{info.region}/{info.service}/aws4_request"
    previous = info.signature
    out = b""
    for payload in [*payloads, b""]:
        to_sign = chunk_signatures.chunk_string_to_sign(info.amz_date, scope, previous,
                                                        hashlib.sha256(payload).hexdigest())
        previous = chunk_signatures.sign(KEY, to_sign)
        out += f"{len(payload):x};chunk-signature={previous}\r\n".encode() + payload
        out += b"\r\n" if payload else b""
    if trailers is not None:
        to_sign = chunk_signatures.trailer_string_to_sign(info.amz_date, scope, previous, trailers)
        for name, value in trailers:
            out += f"{name}:{value}\r\n".encode()
        out += f"x-amz-trailer-signature:{chunk_signatures.sign(KEY, to_sign)}\r\n".encode()
    return out + b"\r\n"


def test_aws_published_example_verifies() -> None:
    data, _ = _decode(_example_body(), ChunkSignatures(KEY, INFO, trailer=False))
    assert data == b"a" * 66560


def test_published_example_is_reproduced_by_the_signer() -> None:
    assert _signed_body([b"a" * 65536, b"a" * 1024]) == _example_body()


@pytest.mark.parametrize(
    "body",
    [
        _example_body(data=b"b"),  # the first chunk's bytes altered
        _example_body(first=SECOND),  # a wrong signature
        _example_body(final=FIRST),  # the final chunk's signature wrong
        _example_body(first=FIRST.upper()),  # signatures are lowercase hex
    ],
    ids=["altered-bytes", "wrong-chunk-signature", "wrong-final-signature", "uppercase"],
)
def test_tampered_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ServiceError) as caught:
        _decode(body, ChunkSignatures(KEY, INFO, trailer=False))
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status == 403


def test_reordered_chunks_are_refused() -> None:
    first = _signed_body([b"x" * 100, b"y" * 100])
    chunks = first.split(b"\r\n")
    # swap the two data chunks (header + payload) keeping each one's own signature
    swapped = b"\r\n".join([chunks[2], chunks[3], chunks[0], chunks[1], *chunks[4:]])
    with pytest.raises(ServiceError) as caught:
        _decode(swapped, ChunkSignatures(KEY, INFO, trailer=False))
    assert caught.value.code == "SignatureDoesNotMatch"


def test_missing_chunk_signature_is_refused() -> None:
    body = b"5\r\nhello\r\n0\r\n\r\n"
    with pytest.raises(ServiceError) as caught:
        _decode(body, ChunkSignatures(KEY, INFO, trailer=False))
    assert caught.value.code == "SignatureDoesNotMatch"


def test_the_error_comes_before_the_body_ends() -> None:
    """A bad first chunk stops the stream before the rest is handed on."""
    body = _example_body(first=SECOND)

    async def run() -> int:
        async def source() -> AsyncIterator[bytes]:
            yield body

        stream = AwsChunkedStream(source())
        stream.verifier = ChunkSignatures(KEY, INFO, trailer=False)
        received = 0
        with pytest.raises(ServiceError):
            async for chunk in stream:
                received += len(chunk)
        return received

    assert asyncio.run(run()) <= 65536


def test_signed_trailers_verify_and_are_returned() -> None:
    trailers = [("x-amz-checksum-crc32", "sOO8/Q==")]
    body = _signed_body([b"hello world"], trailers)
    data, seen = _decode(body, ChunkSignatures(KEY, INFO, trailer=True), piece=5)
    assert data == b"hello world" and seen == trailers


@pytest.mark.parametrize("change", ["value", "signature", "missing"])
def test_tampered_trailers_are_refused(change: str) -> None:
    body = _signed_body([b"hello world"], [("x-amz-checksum-crc32", "sOO8/Q==")])
    if change == "value":
        body = body.replace(b"sOO8/Q==", b"AAAAAA==")
    elif change == "signature":
        head, _, _ = body.rpartition(b"x-amz-trailer-signature:")
        body = head + b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n"
    else:
        body = body.rpartition(b"x-amz-trailer-signature:")[0] + b"\r\n"
    with pytest.raises(ServiceError) as caught:
        _decode(body, ChunkSignatures(KEY, INFO, trailer=True))
    assert caught.value.code == "SignatureDoesNotMatch"


def test_attach_only_for_signed_streaming_payloads() -> None:
    async def empty() -> AsyncIterator[bytes]:
        yield b"0\r\n\r\n"

    stream = AwsChunkedStream(empty())
    attach(stream, {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, INFO, SECRET)
    assert stream.verifier is None
    attach(stream, {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, INFO, SECRET)
    assert isinstance(stream.verifier, ChunkSignatures)
    with pytest.raises(ServiceError):  # a signed declaration over a body that is not chunked
        attach(b"raw", {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, INFO, SECRET)
    with pytest.raises(ServiceError):  # no key to verify with
        attach(stream, {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, INFO, None)


SIGNED = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
SIGNED_TRAILER = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"}


def test_verify_whole_takes_the_published_example() -> None:
    verify_whole(_example_body(), SIGNED, INFO, SECRET)
    verify_whole(_signed_body([b"hello world"], [("x-amz-checksum-crc32", "sOO8/Q==")]), SIGNED_TRAILER, INFO, SECRET)


@pytest.mark.parametrize(
    "body",
    [
        _example_body(data=b"b"),
        _example_body(first="0" * 64, second="0" * 64, final="0" * 64),
        _example_body(final=FIRST),
        _signed_body([b"x" * 100]).replace(b"0;chunk-signature", b"0;chunk-sig"),  # final unsigned
        _example_body()[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n",  # a trailer nothing signs
    ],
    ids=["altered-bytes", "zero-signatures", "wrong-final-signature", "unsigned-final-chunk", "unsigned-trailer"],
)
def test_verify_whole_refuses_tampered_bodies(body: bytes) -> None:
    with pytest.raises(ServiceError) as caught:
        verify_whole(body, SIGNED, INFO, SECRET)
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status == 403


def test_verify_whole_refuses_a_tampered_trailer() -> None:
    body = _signed_body([b"hello world"], [("x-amz-checksum-crc32", "sOO8/Q==")]).replace(b"sOO8/Q==", b"AAAAAA==")
    with pytest.raises(ServiceError) as caught:
        verify_whole(body, SIGNED_TRAILER, INFO, SECRET)
    assert caught.value.code == "SignatureDoesNotMatch"


def test_verify_whole_ignores_other_declarations() -> None:
    for declared in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "UNSIGNED-PAYLOAD", hashlib.sha256(b"").hexdigest()):
        verify_whole(b"anything", {"x-amz-content-sha256": declared}, None, None)
    verify_whole(b"anything", {}, None, None)


@pytest.mark.parametrize("case", ["ecdsa", "ecdsa-trailer", "presigned", "unsigned", "no-key"])
def test_unverifiable_signed_declarations_are_refused(case: str) -> None:
    """Signed chunks freehold cannot check are refused, never taken unchecked."""
    headers, info, secret = SIGNED, INFO, SECRET
    if case.startswith("ecdsa"):
        suffix = "-TRAILER" if case == "ecdsa-trailer" else ""
        headers = {"x-amz-content-sha256": "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" + suffix}
    elif case == "presigned":
        info = dataclasses.replace(INFO, presigned=True)
    elif case == "unsigned":
        info = None
    else:
        secret = None
    with pytest.raises(ServiceError) as caught:
        verify_whole(_example_body(), headers, info, secret)
    assert caught.value.code == "SignatureDoesNotMatch"

    async def empty() -> AsyncIterator[bytes]:
        yield b"0\r\n\r\n"

    with pytest.raises(ServiceError):
        attach(AwsChunkedStream(empty()), headers, info, secret)


def test_unsigned_trailers_refused_when_streamed_too() -> None:
    body = _example_body()[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    with pytest.raises(ServiceError) as caught:
        _decode(body, ChunkSignatures(KEY, INFO, trailer=False))
    assert caught.value.code == "SignatureDoesNotMatch"
