"""Objects: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject, object tagging and ACL.

Writes stream the body into a blob (bodies.py), then commit the version row (store.py) in one
transaction that also checks conditional writes; reads stream the blob back, whole or a range.
Versioning decides what a write replaces (store.put) and what a delete leaves behind (a delete
marker in versioned buckets), as https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html
describes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import OUTPUT_STATUS
from freehold.protocol.serializer_values import to_datetime as as_datetime
from freehold.services.base import Params, short_sql
from freehold.services.s3 import conditions
from freehold.services.s3.bodies import StoredBody, read_object, receive_small, store_body, store_bytes, trailers_of
from freehold.services.s3.bucket_configs import CANNED_ACLS, canned_grants, check_tag_set
from freehold.services.s3.checksums import MEMBERS
from freehold.services.s3.core import S3Core, owner, stream_in_thread
from freehold.services.s3.models import (
    INLINE_MAX,
    NULL_VERSION,
    STANDARD,
    Bucket,
    ObjectVersion,
    check_key,
    decode_uri,
    check_metadata,
    invalid_argument,
    invalid_request,
    malformed_xml,
    method_not_allowed,
    no_such_bucket,
    no_such_key,
    no_such_version,
    now,
    parse_range,
    quote_etag,
    to_datetime,
)
from freehold.state.blobs import BlobNotFound
from freehold.state.database import WriteLockBusy

# Bodies up to this size are returned as bytes; larger ones stream from the blob store.
INLINE_READ = 256 * 1024
# Response members GET/HEAD take from the stored object's attributes.
CONTENT_MEMBERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl",
                   "WebsiteRedirectLocation")
OVERRIDES = {"ResponseContentType": "ContentType", "ResponseContentEncoding": "ContentEncoding",
             "ResponseContentDisposition": "ContentDisposition", "ResponseContentLanguage": "ContentLanguage",
             "ResponseCacheControl": "CacheControl", "ResponseExpires": "Expires"}
STORAGE_CLASSES = frozenset({"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                             "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE"})
ARCHIVED = frozenset({"GLACIER", "DEEP_ARCHIVE"})
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
_VERSION_ID = re.compile(r"[A-Za-z0-9._\-]{1,1024}")
MAX_DELETE_KEYS = 1000
MAX_OBJECT_TAGS = 10
# Reads of an object whose blob an overwrite deleted under them start over this many times.
READ_ATTEMPTS = 3


def object_attributes(params: Params) -> dict[str, Any]:
    """The headers stored with an object from a Put/Copy/CreateMultipartUpload request."""
    attributes: dict[str, Any] = {"ContentType": params.get("ContentType") or DEFAULT_CONTENT_TYPE}
    for name in CONTENT_MEMBERS[1:]:
        if params.get(name):
            attributes[name] = params[name]
    if params.get("Expires") is not None:
        attributes["Expires"] = as_datetime(params["Expires"]).timestamp()
    metadata = params.get("Metadata")
    if metadata:
        check_metadata(metadata)
        attributes["Metadata"] = {k.lower(): v for k, v in metadata.items()}
    acl = params.get("ACL")
    if acl:
        attributes["ACL"] = acl
    attributes["ServerSideEncryption"] = params.get("ServerSideEncryption") or "AES256"
    if params.get("SSEKMSKeyId"):
        attributes["SSEKMSKeyId"] = params["SSEKMSKeyId"]
    return attributes


def storage_class_of(params: Params) -> str:
    storage_class = params.get("StorageClass") or STANDARD
    if storage_class not in STORAGE_CLASSES:
        raise ServiceError("InvalidStorageClass", "The storage class you specified is not valid", 400,
                           fields={"StorageClassRequested": storage_class})
    return str(storage_class)


def tags_from_header(text: str | None) -> dict[str, str]:
    """x-amz-tagging: URL-encoded `k1=v1&k2=v2`."""
    if not text:
        return {}
    pairs = parse_qsl(text, keep_blank_values=True)
    return check_tag_set([{"Key": k, "Value": v} for k, v in pairs], MAX_OBJECT_TAGS)


def check_version_id(version_id: str | None) -> None:
    if version_id is not None and version_id != NULL_VERSION and not _VERSION_ID.fullmatch(version_id):
        raise invalid_argument("Invalid version id specified", "versionId", version_id)


def describe(obj: ObjectVersion, bucket: Bucket, params: Params) -> Params:
    """The response members GET and HEAD share."""
    out: Params = {
        "LastModified": to_datetime(obj.last_modified),
        "ETag": obj.etag,
        "AcceptRanges": "bytes",
        "ContentLength": obj.size,
        "VersionId": obj.response_version_id(bucket),
        "Metadata": obj.attributes.get("Metadata") or {},
        "ServerSideEncryption": obj.attributes.get("ServerSideEncryption"),
        "SSEKMSKeyId": obj.attributes.get("SSEKMSKeyId"),
    }
    for name in CONTENT_MEMBERS:
        if obj.attributes.get(name):
            out[name] = obj.attributes[name]
    if obj.attributes.get("Expires") is not None:
        out["Expires"] = to_datetime(obj.attributes["Expires"])
    if obj.storage_class != STANDARD:
        out["StorageClass"] = obj.storage_class
    if obj.tags:
        out["TagCount"] = len(obj.tags)
    if params.get("ChecksumMode") == "ENABLED":
        for name in MEMBERS.values():
            if obj.attributes.get(name):
                out[name] = obj.attributes[name]
        if obj.attributes.get("ChecksumType"):
            out["ChecksumType"] = obj.attributes["ChecksumType"]
    for param, member in OVERRIDES.items():
        if params.get(param) is not None:
            out[member] = params[param] if member != "Expires" else as_datetime(params[param])
    return out


class ObjectOperations(S3Core):
    # -- reading -------------------------------------------------------------------------------
    def readable(self, ctx: RequestContext, params: Params, head: bool) -> tuple[Bucket, ObjectVersion]:
        """The version a GET/HEAD reads, after S3's delete-marker and condition rules."""
        bucket = self.bucket_of(ctx, params["Bucket"])
        key, version_id = params["Key"], params.get("VersionId")
        check_version_id(version_id)
        if version_id is not None:
            obj = self.store.version(bucket.name, key, version_id)
            if obj is None:
                raise no_such_version(key, version_id) if not head else ServiceError("NoSuchVersion", "", 404)
            if obj.delete_marker:
                raise method_not_allowed({"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id,
                                          "Last-Modified": _http_date(obj.last_modified)})
        else:
            obj = self.store.latest(bucket.name, key)
            if obj is None:
                raise no_such_key(key)
            if obj.delete_marker:
                error = no_such_key(key)
                error.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id}
                raise error
        conditions.check_read(params, obj)
        if obj.storage_class in ARCHIVED and not head:
            raise ServiceError("InvalidObjectState", "The operation is not valid for the object's storage class",
                               403, fields={"StorageClass": obj.storage_class})
        return bucket, obj

    def _read_plan(self, obj: ObjectVersion, params: Params, out: Params) -> tuple[int, int] | None:
        """The inclusive byte range to send (None: empty body), setting range members."""
        part_number = params.get("PartNumber")
        if part_number is not None:
            sizes = obj.attributes.get("PartSizes") or [obj.size]
            if part_number < 1 or part_number > len(sizes):
                raise ServiceError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                                   fields={"PartNumberRequested": str(part_number), "ActualPartCount": str(len(sizes))})
            start = sum(sizes[: part_number - 1])
            end = start + sizes[part_number - 1] - 1
            out["PartsCount"] = len(sizes) if obj.attributes.get("PartSizes") else None
            if len(sizes) > 1 or obj.attributes.get("PartSizes"):
                out["ContentRange"] = f"bytes {start}-{end}/{obj.size}"
                out[OUTPUT_STATUS] = 206
            out["ContentLength"] = end - start + 1
            return (start, end) if end >= start else None
        byte_range = parse_range(params.get("Range"), obj.size)
        if byte_range is None:
            return (0, obj.size - 1) if obj.size else None
        out["ContentRange"] = f"bytes {byte_range.start}-{byte_range.end}/{obj.size}"
        out["ContentLength"] = byte_range.length
        out[OUTPUT_STATUS] = 206
        for name in MEMBERS.values():  # a range's checksum is not the object's
            out.pop(name, None)
        return byte_range.start, byte_range.end

    async def get_object(self, ctx: RequestContext, params: Params) -> Params:
        if self.db.inline_writes:
            # SQLite in this process: a small object is one indexed SELECT away, cheaper than the
            # hand-over to a worker thread. Objects in blobs are read in a thread (disk I/O).
            out = self._get_object_once(ctx, params, rows_only=True)
            if out is not None:
                return out
        return await asyncio.to_thread(self._get_object, ctx, params)

    def _get_object(self, ctx: RequestContext, params: Params) -> Params:
        attempts = READ_ATTEMPTS
        while True:
            try:
                out = self._get_object_once(ctx, params)
                assert out is not None
                return out
            except BlobNotFound:
                # An overwrite committed between reading the row and opening its blob, and
                # deleted the old blob: read again, and see the new version (as on AWS).
                attempts -= 1
                if attempts <= 0:
                    raise

    def _get_object_once(self, ctx: RequestContext, params: Params, rows_only: bool = False) -> Params | None:
        """GetObject's answer; with `rows_only`, None when the body is in the blob store."""
        bucket, obj = self.readable(ctx, params, head=False)
        if rows_only and obj.inline is None and obj.size:
            return None
        out = describe(obj, bucket, params)
        span = self._read_plan(obj, params, out)
        if span is None:
            out["Body"] = b""
            return out
        start, end = span
        chunks = read_object(self.blobs, obj, start, end)
        if end - start + 1 <= INLINE_READ:
            out["Body"] = b"".join(chunks)
        else:
            out["Body"] = stream_in_thread(chunks)
        return out

    @short_sql  # reads a row or two: on the event loop where the database allows it
    def head_object(self, ctx: RequestContext, params: Params) -> Params:
        bucket, obj = self.readable(ctx, params, head=True)
        out = describe(obj, bucket, params)
        self._read_plan(obj, params, out)
        return out

    # -- writing -------------------------------------------------------------------------------
    async def put_object(self, ctx: RequestContext, params: Params) -> Params:
        body = params.get("Body")
        await self.check_chunk_signatures(ctx, body)
        data, stream = await receive_small(body)
        if data is not None:  # the common case: one step for everything
            if len(data) <= INLINE_MAX and self.db.inline_writes:
                # A small object is a row: no disk write but the commit. Run on the event loop
                # while the write lock is free (as @short_sql operations do); if it is taken the
                # transaction raises before its first statement, and the step runs in a thread.
                try:
                    with self.db.no_wait():
                        return self._put_in_memory(ctx, params, data, body)
                except WriteLockBusy:
                    pass
            return await asyncio.to_thread(self._put_in_memory, ctx, params, data, body)
        bucket = await asyncio.to_thread(self.bucket_of, ctx, params["Bucket"])
        await asyncio.to_thread(self.check_object_acl, bucket, params.get("ACL"))
        storage_class, attributes, tags = self._put_arguments(params)
        stored = await store_body(self.blobs, stream, params, ctx.request, trailer_source=body)
        return await asyncio.to_thread(self._commit_put, bucket, params, stored, storage_class, attributes, tags)

    def _put_in_memory(self, ctx: RequestContext, params: Params, data: bytes, body: Any) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        self.check_object_acl(bucket, params.get("ACL"))
        storage_class, attributes, tags = self._put_arguments(params)
        stored = store_bytes(self.blobs, data, params, ctx.request, trailers_of(body))
        return self._commit_put(bucket, params, stored, storage_class, attributes, tags, just_read=True)

    @staticmethod
    def _put_arguments(params: Params) -> tuple[str, dict[str, Any], dict[str, str]]:
        check_key(params["Key"])
        if params.get("WriteOffsetBytes") is not None:
            raise ServiceError("NotImplemented", "This bucket does not support Write Offset Bytes", 501)
        return storage_class_of(params), object_attributes(params), tags_from_header(params.get("Tagging"))

    def _commit_put(self, bucket: Bucket, params: Params, stored: StoredBody, storage_class: str,
                    attributes: dict[str, Any], tags: dict[str, str], just_read: bool = False) -> Params:
        try:
            obj = self.new_version(bucket, params["Key"], stored, storage_class, attributes, tags)
            self.commit(bucket, obj, params, just_read=just_read)
        except BaseException:
            if stored.blob:
                self.blobs.delete(stored.blob)
            raise
        out: Params = {"ETag": obj.etag, "VersionId": obj.response_version_id(bucket),
                       "ServerSideEncryption": attributes["ServerSideEncryption"], "Size": obj.size}
        for name in MEMBERS.values():
            if obj.attributes.get(name):
                out[name] = obj.attributes[name]
        if obj.attributes.get("ChecksumType"):
            out["ChecksumType"] = obj.attributes["ChecksumType"]
        return out

    @staticmethod
    def new_version(bucket: Bucket, key: str, stored: StoredBody, storage_class: str, attributes: dict[str, Any],
                    tags: dict[str, str]) -> ObjectVersion:
        attributes = dict(attributes)
        for algorithm, value in stored.checksums.items():
            attributes[MEMBERS[algorithm]] = value
            attributes["ChecksumType"] = "FULL_OBJECT"
        return ObjectVersion(
            bucket=bucket.name, key=key, version_id="", seq=0, is_latest=True, delete_marker=False, size=stored.size,
            etag=quote_etag(stored.md5), last_modified=now(), storage_class=storage_class,
            segments=[(stored.blob, stored.size)] if stored.blob else [], attributes=attributes, tags=tags,
            inline=stored.inline,
        )

    def commit(self, bucket: Bucket, obj: ObjectVersion, params: Params, completing: str | None = None,
               just_read: bool = False) -> None:
        """Make `obj` the key's latest version (conditional writes checked in the same
        transaction); delete the blobs it replaced. `just_read`: `bucket` was read in this very
        request step, so its versioning state need not be read again."""
        conditional = params.get("IfMatch") is not None or params.get("IfNoneMatch") is not None

        def check(current: ObjectVersion | None) -> None:
            conditions.check_write(params, current, obj.key)

        if not just_read:
            # The versioning state as it is now: an upload may have taken a while.
            fresh = self.store.bucket(bucket.name)
            if fresh is None:
                raise no_such_bucket(bucket.name)
            bucket = fresh
        freed = self.store.put(obj, bucket.versioning, check if conditional else None, completing)
        self.free_blobs(freed)

    # -- deleting ------------------------------------------------------------------------------
    def delete_object(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return self.delete_one(bucket, params["Key"], params.get("VersionId"), params)

    def delete_one(self, bucket: Bucket, key: str, version_id: str | None, params: Params) -> Params:
        check_version_id(version_id)
        if version_id is not None:
            removed = self.store.delete_version(bucket.name, key, version_id)
            if removed is None:
                return {"VersionId": version_id}
            self.free_blobs([blob for blob, _ in removed.segments])
            return {"VersionId": version_id, "DeleteMarker": True if removed.delete_marker else None}
        if params.get("IfMatch") is not None:
            current = self.store.latest(bucket.name, key)
            if current is None or current.delete_marker:
                raise no_such_key(key)
            if not conditions.etag_matches(params["IfMatch"], current.etag):
                raise conditions.precondition_failed("If-Match")
        if not bucket.versioning:
            current = self.store.latest(bucket.name, key)
            if current is not None:
                removed = self.store.delete_version(bucket.name, key, current.version_id)
                if removed is not None:
                    self.free_blobs([blob for blob, _ in removed.segments])
            return {}
        marker = ObjectVersion(bucket=bucket.name, key=key, version_id="", seq=0, is_latest=True, delete_marker=True,
                               size=0, etag="", last_modified=now())
        self.free_blobs(self.store.put(marker, bucket.versioning))
        return {"DeleteMarker": True, "VersionId": marker.version_id}

    def delete_objects(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        request = params.get("Delete") or {}
        entries = request.get("Objects") or []
        if not entries or len(entries) > MAX_DELETE_KEYS:
            raise malformed_xml()
        quiet = bool(request.get("Quiet"))
        deleted: list[Params] = []
        errors: list[Params] = []
        for entry in entries:
            key, version_id = entry.get("Key", ""), entry.get("VersionId")
            try:
                check_key(key)
                result = self.delete_one(bucket, key, version_id, entry)
            except ServiceError as error:
                errors.append({"Key": key, "VersionId": version_id, "Code": error.code, "Message": error.message})
                continue
            if quiet:
                continue
            item: Params = {"Key": key}
            if version_id is not None:
                item["VersionId"] = version_id
                if result.get("DeleteMarker"):
                    item["DeleteMarker"] = True
                    item["DeleteMarkerVersionId"] = version_id
            elif result.get("DeleteMarker"):
                item["DeleteMarker"] = True
                item["DeleteMarkerVersionId"] = result["VersionId"]
            deleted.append(item)
        return {"Deleted": deleted or None, "Errors": errors or None}

    # -- copying -------------------------------------------------------------------------------
    def copy_source(self, ctx: RequestContext, text: str, params: Params, prefix: str) -> tuple[Bucket, ObjectVersion]:
        """The object a CopySource (`bucket/key[?versionId=...]`, URL-encoded) names."""
        source = text.lstrip("/")
        path, _, query = source.partition("?")
        source_bucket, _, source_key = decode_uri(path).partition("/")
        version_id = None
        if query:
            version_id = dict(parse_qsl(query, keep_blank_values=True)).get("versionId")
            if not version_id:
                raise invalid_argument("Invalid version id specified", "x-amz-copy-source", text)
        if not source_bucket or not source_key:
            raise invalid_argument("Invalid copy source object key", "x-amz-copy-source", text)
        bucket = self.bucket_of(ctx, source_bucket)
        check_version_id(version_id)
        if version_id is not None:
            obj = self.store.version(bucket.name, source_key, version_id)
            if obj is None:
                raise no_such_version(source_key, version_id)
            if obj.delete_marker:
                raise invalid_request("The source of a copy request may not specifically refer to a delete marker by version id.")
        else:
            obj = self.store.latest(bucket.name, source_key)
            if obj is None or obj.delete_marker:
                raise no_such_key(source_key)
        conditions.check_read(params, obj, prefix)
        if obj.storage_class in ARCHIVED:
            raise ServiceError("InvalidObjectState", "Operation is not valid for the source object's storage class",
                               403)
        return bucket, obj

    def copy_object(self, ctx: RequestContext, params: Params) -> Params:
        attempts = READ_ATTEMPTS
        while True:
            try:
                return self._copy_object_once(ctx, params)
            except BlobNotFound:
                # The source was overwritten (its old blob deleted) while being read: nothing
                # was committed yet, so copy again from the source's new version.
                attempts -= 1
                if attempts <= 0:
                    raise

    def _copy_object_once(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        key = params["Key"]
        check_key(key)
        source_bucket, source = self.copy_source(ctx, params["CopySource"], params, "CopySourceIf")
        directive = params.get("MetadataDirective") or "COPY"
        tagging_directive = params.get("TaggingDirective") or "COPY"
        if directive not in ("COPY", "REPLACE"):
            raise invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
        if tagging_directive not in ("COPY", "REPLACE"):
            raise invalid_argument("Unknown tagging directive.", "x-amz-tagging-directive", tagging_directive)
        same = source_bucket.name == bucket.name and source.key == key
        changes = directive == "REPLACE" or params.get("StorageClass") or params.get("WebsiteRedirectLocation") \
            or params.get("ServerSideEncryption") or params.get("SSEKMSKeyId")
        if same and not changes and params.get("CopySource", "").find("versionId") < 0:
            raise invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the "
                "object's metadata, storage class, website redirect location or encryption attributes."
            )
        if directive == "REPLACE":
            attributes = object_attributes(params)
        else:
            attributes = {k: v for k, v in source.attributes.items()
                          if k not in MEMBERS.values() and k not in ("ChecksumType", "PartSizes", "PartsCount")}
            if params.get("ServerSideEncryption"):
                attributes["ServerSideEncryption"] = params["ServerSideEncryption"]
        tags = tags_from_header(params.get("Tagging")) if tagging_directive == "REPLACE" else dict(source.tags)
        storage_class = storage_class_of(params) if params.get("StorageClass") else source.storage_class
        if not params.get("StorageClass") and storage_class in ARCHIVED:
            storage_class = STANDARD
        algorithm = params.get("ChecksumAlgorithm") or next(
            (name for name, member in MEMBERS.items() if source.attributes.get(member)), None)
        stored = self.copy_bytes(source, algorithm)
        try:
            obj = self.new_version(bucket, key, stored, storage_class, attributes, tags)
            self.commit(bucket, obj, params)
        except BaseException:
            if stored.blob:
                self.blobs.delete(stored.blob)
            raise
        result: Params = {"ETag": obj.etag, "LastModified": to_datetime(obj.last_modified)}
        for name in MEMBERS.values():
            if obj.attributes.get(name):
                result[name] = obj.attributes[name]
        return {
            "CopyObjectResult": result,
            "VersionId": obj.response_version_id(bucket),
            "CopySourceVersionId": source.response_version_id(source_bucket),
            "ServerSideEncryption": obj.attributes.get("ServerSideEncryption"),
        }

    def copy_bytes(self, source: ObjectVersion, algorithm: str | None, span: tuple[int, int] | None = None) -> StoredBody:
        """A new blob with the source's bytes (or a range of them), with its digests."""
        from freehold.services.s3.checksums import b64, new_hasher

        start, end = span if span is not None else (0, source.size - 1)
        hasher = new_hasher(algorithm) if algorithm else None
        if end - start + 1 <= INLINE_MAX:
            data = b"".join(read_object(self.blobs, source, start, end)) if end >= start else b""
            if hasher is not None:
                hasher.update(data)
            checksums = {algorithm: b64(hasher.digest())} if hasher is not None and algorithm else {}
            return StoredBody(None, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest(), checksums,
                              inline=data)

        def chunks() -> Any:
            for chunk in read_object(self.blobs, source, start, end):
                if hasher is not None:
                    hasher.update(chunk)
                yield chunk

        info = self.blobs.write(chunks())
        checksums = {algorithm: b64(hasher.digest())} if hasher is not None and algorithm else {}
        return StoredBody(info.key, info.size, info.md5, checksums)

    def get_object_attributes(self, ctx: RequestContext, params: Params) -> Params:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html: the ETag
        without quotes, the checksum, parts (sizes of a multipart object), storage class, size."""
        bucket, obj = self._version_for(ctx, params)
        wanted = set(params.get("ObjectAttributes") or [])
        out: Params = {"LastModified": to_datetime(obj.last_modified), "VersionId": obj.response_version_id(bucket)}
        if "ETag" in wanted:
            out["ETag"] = obj.etag.strip('"')
        if "StorageClass" in wanted:
            out["StorageClass"] = obj.storage_class
        if "ObjectSize" in wanted:
            out["ObjectSize"] = obj.size
        if "Checksum" in wanted:
            checksum = {m: obj.attributes[m] for m in MEMBERS.values() if obj.attributes.get(m)}
            if checksum:
                out["Checksum"] = {**checksum, "ChecksumType": obj.attributes.get("ChecksumType", "FULL_OBJECT")}
        sizes = obj.attributes.get("PartSizes")
        if "ObjectParts" in wanted and sizes:
            marker = int(params.get("PartNumberMarker") or 0)
            max_parts = params.get("MaxParts")
            limit = 1000 if max_parts is None else int(max_parts)
            numbers = list(range(marker + 1, len(sizes) + 1))
            page = numbers[:limit]
            parts: Params = {"TotalPartsCount": len(sizes), "PartNumberMarker": marker, "MaxParts": limit,
                             "IsTruncated": len(numbers) > limit,
                             "Parts": [{"PartNumber": n, "Size": sizes[n - 1]} for n in page]}
            if len(numbers) > limit and page:
                parts["NextPartNumberMarker"] = page[-1]
            out["ObjectParts"] = parts
        return out

    # -- object tagging and ACL ----------------------------------------------------------------
    def _version_for(self, ctx: RequestContext, params: Params) -> tuple[Bucket, ObjectVersion]:
        bucket = self.bucket_of(ctx, params["Bucket"])
        key, version_id = params["Key"], params.get("VersionId")
        check_version_id(version_id)
        obj = self.store.version(bucket.name, key, version_id) if version_id else self.store.latest(bucket.name, key)
        if obj is None:
            raise no_such_version(key, version_id) if version_id else no_such_key(key)
        if obj.delete_marker:
            raise method_not_allowed({"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id})
        return bucket, obj

    def put_object_tagging(self, ctx: RequestContext, params: Params) -> Params:
        tags = check_tag_set((params.get("Tagging") or {}).get("TagSet") or [], MAX_OBJECT_TAGS)
        bucket, obj = self._version_for(ctx, params)
        self.store.update_tags(bucket.name, obj.key, obj.version_id, tags)
        return {"VersionId": obj.response_version_id(bucket)}

    def get_object_tagging(self, ctx: RequestContext, params: Params) -> Params:
        bucket, obj = self._version_for(ctx, params)
        return {"TagSet": [{"Key": k, "Value": v} for k, v in obj.tags.items()],
                "VersionId": obj.response_version_id(bucket)}

    def delete_object_tagging(self, ctx: RequestContext, params: Params) -> Params:
        bucket, obj = self._version_for(ctx, params)
        self.store.update_tags(bucket.name, obj.key, obj.version_id, {})
        return {"VersionId": obj.response_version_id(bucket)}

    def get_object_acl(self, ctx: RequestContext, params: Params) -> Params:
        bucket, obj = self._version_for(ctx, params)
        acl = obj.attributes.get("ACL") or "private"
        return {"Owner": owner(bucket.account_id), "Grants": canned_grants(acl, bucket.account_id)}

    def put_object_acl(self, ctx: RequestContext, params: Params) -> Params:
        bucket, obj = self._version_for(ctx, params)
        self.check_object_acl(bucket, params.get("ACL") or "private")
        return {}

    def check_object_acl(self, bucket: Bucket, acl: str | None) -> None:
        """A canned ACL on an object: known, and allowed by the bucket's ownership controls
        (BucketOwnerEnforced, the default since 2023, disables ACLs)."""
        if acl is None:
            return
        if acl not in CANNED_ACLS:
            raise invalid_argument("Invalid canned ACL", "x-amz-acl", acl)
        ownership = (self.store.config(bucket.name, "ownership") or {}).get("Rules", [{}])[0].get("ObjectOwnership")
        if ownership == "BucketOwnerEnforced" and acl not in ("private", "bucket-owner-full-control"):
            raise ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def _http_date(epoch: float) -> str:
    from freehold.protocol.serializer_values import rfc822

    return rfc822(epoch)
