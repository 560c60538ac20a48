"""What every part of the S3 provider shares: the store, bucket lookup, blob clean-up, owners.

The provider is split by subject (buckets.py, bucket_configs.py, objects.py, listing.py,
multipart.py); each part is a mixin over `S3Core`, and provider.py puts them together.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from freehold.gateway import chunk_signatures
from freehold.gateway.context import RequestContext
from freehold.protocol.chunked_stream import AwsChunkedStream
from freehold.protocol.errors import ServiceError
from freehold.services.base import Provider, ServiceRuntime
from freehold.services.s3.models import Bucket, no_such_bucket
from freehold.services.s3.public_access import anonymous_allowed
from freehold.services.s3.store import S3Store

log = logging.getLogger("freehold.s3")

# How many read chunks one worker-thread hop fetches when streaming an object out.
_CHUNKS_PER_HOP = 4


def canonical_user_id(account_id: str) -> str:
    """A stable 64-hex canonical user id per account, the shape S3 gives owners."""
    return hashlib.sha256(f"freehold-s3-owner:{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict[str, str]:
    return {"ID": canonical_user_id(account_id), "DisplayName": account_id}


class S3Core(Provider):
    """Shared state and helpers of the S3 provider parts."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = S3Store(runtime.db)

    def bucket_of(self, ctx: RequestContext, name: str) -> Bucket:
        """The bucket, which must exist; S3 answers 403 for someone else's bucket."""
        bucket = self.store.bucket(name)
        if bucket is None:
            raise no_such_bucket(name)
        expected = ctx.params.get("ExpectedBucketOwner") if isinstance(ctx.params, dict) else None
        if expected is not None and expected != bucket.account_id:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
            raise ServiceError("AccessDenied", "Access Denied", 403)
        if ctx.principal.kind == "anonymous":
            key = ctx.params.get("Key") if isinstance(ctx.params, dict) else None
            if not self.anonymous_may(bucket, ctx.operation_name, key):
                raise ServiceError("AccessDenied", "Access Denied", 403)
        elif bucket.account_id != ctx.account_id:
            # Cross-account access is the policy evaluator's business; without a grant S3
            # denies it. Until bucket policies are evaluated, other accounts are refused.
            raise ServiceError("AccessDenied", "Access Denied", 403)
        return bucket

    def anonymous_may(self, bucket: Bucket, operation: str, key: str | None) -> bool:
        """Whether an unsigned request may run `operation`: public canned ACLs and public
        bucket-policy statements (public_access.py) decide."""
        return anonymous_allowed(self.store.config(bucket.name, "acl"), self.store.config(bucket.name, "policy"),
                                 bucket.name, operation, key)

    async def check_chunk_signatures(self, ctx: RequestContext, body: Any) -> None:
        """In strict mode, make an upload signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
        verify every chunk's signature as it streams in: a bad one ends the upload with
        SignatureDoesNotMatch before anything is stored. The gateway verified the seed (header)
        signature with the same credential. The gateway attaches the verifier to every request
        it streams (pipeline.check_chunk_signatures); this covers a body handed over otherwise."""
        if not self.settings.strict_auth or not chunk_signatures.declares_signed_chunks(ctx.request.headers):
            return
        if isinstance(body, AwsChunkedStream) and body.verifier is not None:
            return
        from freehold.services.iam.credentials import IssuedCredentials

        info = ctx.signature
        secret = None
        if info is not None and not info.presigned:
            issued = await asyncio.to_thread(IssuedCredentials(self.db).resolve, info.access_key_id)
            secret = issued.secret_access_key if issued is not None else None
        chunk_signatures.attach(body, ctx.request.headers, info, secret)

    def free_blobs(self, blobs: list[str]) -> None:
        """Delete blobs no row names any more (after the commit that released them)."""
        for blob in blobs:
            try:
                self.blobs.delete(blob)
            except OSError:  # an orphan is harmless; never fail the request for it
                log.warning("could not delete blob %s", blob)


class ObjectBody(AsyncIterator[bytes]):
    """An object's bytes as GetObject returns them: iterated asynchronously by the gateway (disk
    reads in worker threads, a few chunks per hop, so the event loop never waits on the disk),
    or read synchronously, like boto3's StreamingBody, by a provider calling GetObject in process."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending: list[bytes] = []
        self._done = False

    def _take(self) -> list[bytes]:
        batch: list[bytes] = []
        for chunk in self._chunks:
            batch.append(chunk)
            if len(batch) >= _CHUNKS_PER_HOP:
                break
        return batch

    def __aiter__(self) -> ObjectBody:
        return self

    async def __anext__(self) -> bytes:
        if not self._pending and not self._done:
            self._pending = await asyncio.to_thread(self._take)
            self._done = not self._pending
        if not self._pending:
            self.close()
            raise StopAsyncIteration
        return self._pending.pop(0)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pending
        self._pending = []
        yield from self._chunks

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(self)
        out = bytearray()
        while len(out) < size:
            if not self._pending:
                self._pending = self._take()
                if not self._pending:
                    break
            chunk = self._pending.pop(0)
            room = size - len(out)
            if len(chunk) > room:
                self._pending.insert(0, chunk[room:])
                chunk = chunk[:room]
            out += chunk
        return bytes(out)

    def close(self) -> None:
        close: Any = getattr(self._chunks, "close", None)
        if callable(close):
            close()


def stream_in_thread(chunks: Iterator[bytes]) -> ObjectBody:
    return ObjectBody(chunks)
