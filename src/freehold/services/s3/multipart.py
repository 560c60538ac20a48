"""Multipart uploads: create, upload part (streamed), upload part copy, list parts and uploads,
complete (with S3's part validation), abort.

Parts are blobs that survive restarts (their rows are committed as each part arrives).
Completing makes the object out of the part blobs as they are, in order (no copy), in one
transaction with the end of the upload; the ETag is the MD5 of the parts' binary MD5s with
`-<count>` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.s3.bodies import read_segments, store_body
from freehold.services.s3.checksums import MEMBERS, b64, combine_composite, new_hasher
from freehold.services.s3.core import S3Core, owner
from freehold.services.s3.listing import encoder, refuse_non_utf8_query, successor
from freehold.services.s3.models import (
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    Bucket,
    ObjectVersion,
    check_key,
    invalid_argument,
    malformed_xml,
    multipart_etag,
    new_upload_id,
    now,
    quote_etag,
    to_datetime,
)
from freehold.services.s3.objects import ObjectOperations, object_attributes, storage_class_of, tags_from_header
from freehold.services.s3.store import Part, Upload

MAX_LISTED = 1000


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or "
        "completed.",
        404,
        fields={"UploadId": upload_id},
    )


def invalid_part(upload_id: str, number: int, etag: str) -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
        "specified entity tag may not match the part's entity tag.",
        400,
        fields={"UploadId": upload_id, "PartNumber": str(number), "ETag": etag},
    )


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber",
                               str(number))


class MultipartOperations(ObjectOperations, S3Core):
    def upload_of(self, ctx: RequestContext, params: Params) -> tuple[Bucket, Upload]:
        bucket = self.bucket_of(ctx, params["Bucket"])
        upload = self.store.upload(params["UploadId"])
        if upload is None or upload.bucket != bucket.name or upload.key != params["Key"]:
            raise no_such_upload(params["UploadId"])
        return bucket, upload

    def create_multipart_upload(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        key = params["Key"]
        check_key(key)
        attributes = object_attributes(params)
        algorithm = params.get("ChecksumAlgorithm")
        checksum_type = params.get("ChecksumType")
        if checksum_type and not algorithm:
            raise ServiceError("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                               "x-amz-checksum-algorithm header.", 400)
        if algorithm:
            attributes["ChecksumAlgorithm"] = str(algorithm).upper()
            default_type = "FULL_OBJECT" if attributes["ChecksumAlgorithm"] == "CRC64NVME" else "COMPOSITE"
            attributes["ChecksumType"] = checksum_type or default_type
            if attributes["ChecksumType"] == "COMPOSITE" and attributes["ChecksumAlgorithm"] == "CRC64NVME":
                raise ServiceError("InvalidRequest", "The COMPOSITE checksum type cannot be used with the crc64nvme "
                                   "checksum algorithm.", 400)
        upload_id = new_upload_id()
        self.store.create_upload(upload_id, bucket.name, key, now(), storage_class_of(params), attributes,
                                 tags_from_header(params.get("Tagging")))
        out: Params = {"Bucket": bucket.name, "Key": key, "UploadId": upload_id,
                       "ServerSideEncryption": attributes["ServerSideEncryption"]}
        if algorithm:
            out["ChecksumAlgorithm"] = attributes["ChecksumAlgorithm"]
            out["ChecksumType"] = attributes["ChecksumType"]
        return out

    async def upload_part(self, ctx: RequestContext, params: Params) -> Params:
        check_part_number(params["PartNumber"])
        await self.check_chunk_signatures(ctx, params.get("Body"))
        bucket, upload = await asyncio.to_thread(self.upload_of, ctx, params)
        wanted = upload.attributes.get("ChecksumAlgorithm")
        effective = dict(params)
        if wanted and not any(params.get(m) for m in MEMBERS.values()) and not params.get("ChecksumAlgorithm"):
            effective["ChecksumAlgorithm"] = wanted
        stored = await store_body(self.blobs, params.get("Body"), effective, ctx.request)
        if stored.blob is None:  # an empty part still needs a blob to be a segment
            stored.blob = (await asyncio.to_thread(self.blobs.write, [b""])).key
        etag = quote_etag(stored.md5)
        checksums = {MEMBERS[a]: v for a, v in stored.checksums.items()}
        replaced = await asyncio.to_thread(self.store.put_part, upload.upload_id, params["PartNumber"], stored.blob,
                                           stored.size, etag, now(), checksums)
        if replaced == "":
            self.blobs.delete(stored.blob)
            raise no_such_upload(upload.upload_id)
        if replaced:
            self.free_blobs([replaced])
        return {"ETag": etag, "ServerSideEncryption": upload.attributes.get("ServerSideEncryption"), **checksums}

    def upload_part_copy(self, ctx: RequestContext, params: Params) -> Params:
        check_part_number(params["PartNumber"])
        bucket, upload = self.upload_of(ctx, params)
        source_bucket, source = self.copy_source(ctx, params["CopySource"], params, "CopySourceIf")
        span = (0, source.size - 1)
        text = params.get("CopySourceRange")
        if text:
            span = _copy_range(text, source.size)
        algorithm = upload.attributes.get("ChecksumAlgorithm")
        stored = self.copy_bytes(source, algorithm, span)
        if stored.blob is None:  # parts are always blobs: they become the object's segments
            stored.blob = self.blobs.write([stored.inline or b""]).key
        etag = quote_etag(stored.md5)
        checksums = {MEMBERS[a]: v for a, v in stored.checksums.items()}
        replaced = self.store.put_part(upload.upload_id, params["PartNumber"], stored.blob, stored.size, etag, now(),
                                       checksums)
        if replaced == "":
            self.blobs.delete(stored.blob)
            raise no_such_upload(upload.upload_id)
        if replaced:
            self.free_blobs([replaced])
        return {"CopyPartResult": {"ETag": etag, "LastModified": to_datetime(now()), **checksums},
                "CopySourceVersionId": source.response_version_id(source_bucket)}

    def list_parts(self, ctx: RequestContext, params: Params) -> Params:
        bucket, upload = self.upload_of(ctx, params)
        marker = int(params.get("PartNumberMarker") or 0)
        max_parts = _page_size(params.get("MaxParts"))
        parts = self.store.parts(upload.upload_id, marker, max_parts + 1)
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        out: Params = {
            "Bucket": bucket.name, "Key": upload.key, "UploadId": upload.upload_id, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "StorageClass": upload.storage_class,
            "Initiator": {"ID": owner(bucket.account_id)["ID"], "DisplayName": bucket.account_id},
            "Owner": owner(bucket.account_id),
            "Parts": [{"PartNumber": p.number, "LastModified": to_datetime(p.last_modified), "ETag": p.etag,
                       "Size": p.size, **p.checksums} for p in parts] or None,
        }
        if truncated and parts:
            out["NextPartNumberMarker"] = parts[-1].number
        if upload.attributes.get("ChecksumAlgorithm"):
            out["ChecksumAlgorithm"] = upload.attributes["ChecksumAlgorithm"]
            out["ChecksumType"] = upload.attributes.get("ChecksumType")
        return out

    def list_multipart_uploads(self, ctx: RequestContext, params: Params) -> Params:
        refuse_non_utf8_query(ctx, "ListMultipartUploads", params)
        bucket = self.bucket_of(ctx, params["Bucket"])
        encode = encoder(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        key_marker, upload_marker = params.get("KeyMarker") or "", params.get("UploadIdMarker") or ""
        max_uploads = _page_size(params.get("MaxUploads"))
        start_key, start_upload = (key_marker, upload_marker) if upload_marker else (key_marker, "\U0010ffff")
        if start_key < prefix:
            start_key, start_upload = prefix, ""
        end = successor(prefix) if prefix else None
        uploads: list[Upload] = []
        prefixes: list[str] = []
        truncated = False
        last: tuple[str, str] = ("", "")
        while True:
            batch = self.store.uploads(bucket.name, start_key, start_upload, end, max_uploads + 1)
            for upload in batch:
                start_key, start_upload = upload.key, upload.upload_id
                common = None
                if delimiter:
                    found = upload.key.find(delimiter, len(prefix))
                    if found >= 0:
                        common = upload.key[: found + len(delimiter)]
                if common is not None and prefixes and prefixes[-1] == common:
                    continue
                if len(uploads) + len(prefixes) == max_uploads:
                    truncated = True
                    break
                if common is not None:
                    prefixes.append(common)
                    last = (common, "")
                else:
                    uploads.append(upload)
                    last = (upload.key, upload.upload_id)
            if truncated or len(batch) < max_uploads + 1:
                break
        out: Params = {
            "Bucket": bucket.name, "KeyMarker": encode(key_marker), "UploadIdMarker": upload_marker,
            "Prefix": encode(prefix), "MaxUploads": max_uploads, "IsTruncated": truncated,
            "EncodingType": params.get("EncodingType"),
            "Uploads": [{
                "UploadId": u.upload_id, "Key": encode(u.key), "Initiated": to_datetime(u.initiated),
                "StorageClass": u.storage_class, "Owner": owner(bucket.account_id),
                "Initiator": {"ID": owner(bucket.account_id)["ID"], "DisplayName": bucket.account_id},
                **({"ChecksumAlgorithm": u.attributes["ChecksumAlgorithm"],
                    "ChecksumType": u.attributes.get("ChecksumType")} if u.attributes.get("ChecksumAlgorithm") else {}),
            } for u in uploads] or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = encode(delimiter)
        if truncated:
            out["NextKeyMarker"] = encode(last[0])
            out["NextUploadIdMarker"] = last[1] or None
        return out

    def abort_multipart_upload(self, ctx: RequestContext, params: Params) -> Params:
        bucket, upload = self.upload_of(ctx, params)
        self.free_blobs(self.store.finish_upload(upload.upload_id))
        return {}

    def complete_multipart_upload(self, ctx: RequestContext, params: Params) -> Params:
        bucket, upload = self.upload_of(ctx, params)
        listed = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not listed:
            raise malformed_xml()
        stored = {p.number: p for p in self.store.parts(upload.upload_id)}
        chosen: list[Part] = []
        previous = 0
        for item in listed:
            number = int(item.get("PartNumber") or 0)
            if number <= previous:
                raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                                   "ordered by part number.", 400, fields={"UploadId": upload.upload_id})
            previous = number
            part = stored.get(number)
            etag = str(item.get("ETag") or "")
            if part is None or etag.strip('"') != part.etag.strip('"'):
                raise invalid_part(upload.upload_id, number, etag)
            for member in MEMBERS.values():
                if item.get(member) and part.checksums.get(member) and item[member] != part.checksums[member]:
                    raise invalid_part(upload.upload_id, number, etag)
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise ServiceError(
                    "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", 400,
                    fields={"ProposedSize": str(part.size), "MinSizeAllowed": str(MIN_PART_SIZE),
                            "PartNumber": str(part.number), "ETag": part.etag.strip('"')},
                )
        size = sum(p.size for p in chosen)
        if params.get("MpuObjectSize") is not None and int(params["MpuObjectSize"]) != size:
            raise ServiceError("InvalidRequest", "The provided 'x-amz-mp-object-size' header value "
                               f"{params['MpuObjectSize']} does not match what was computed: {size}", 400)
        attributes = dict(upload.attributes)
        attributes.update(self._completed_checksum(upload, chosen))
        attributes["PartsCount"] = len(chosen)
        attributes["PartSizes"] = [p.size for p in chosen]
        obj = ObjectVersion(
            bucket=bucket.name, key=upload.key, version_id="", seq=0, is_latest=True, delete_marker=False, size=size,
            etag=multipart_etag([p.etag.strip('"') for p in chosen]), last_modified=now(),
            storage_class=upload.storage_class, segments=[(p.blob, p.size) for p in chosen], attributes=attributes,
            tags=upload.tags,
        )
        try:
            self.commit(bucket, obj, params, completing=upload.upload_id)
        except LookupError:
            raise no_such_upload(upload.upload_id) from None
        host = ctx.request.host or "s3.amazonaws.com"
        out: Params = {"Location": f"http://{host}/{bucket.name}/{upload.key}", "Bucket": bucket.name,
                       "Key": upload.key, "ETag": obj.etag, "VersionId": obj.response_version_id(bucket),
                       "ServerSideEncryption": attributes.get("ServerSideEncryption")}
        for member in MEMBERS.values():
            if attributes.get(member):
                out[member] = attributes[member]
                out["ChecksumType"] = attributes.get("ChecksumType")
        return out

    def _completed_checksum(self, upload: Upload, parts: list[Part]) -> dict[str, Any]:
        algorithm = upload.attributes.get("ChecksumAlgorithm")
        if not algorithm:
            return {}
        member = MEMBERS[algorithm]
        if upload.attributes.get("ChecksumType") == "FULL_OBJECT":
            hasher = new_hasher(algorithm)
            for chunk in read_segments(self.blobs, [(p.blob, p.size) for p in parts], 0, sum(p.size for p in parts) - 1):
                hasher.update(chunk)
            return {member: b64(hasher.digest()), "ChecksumType": "FULL_OBJECT"}
        digests = []
        for part in parts:
            value = part.checksums.get(member)
            if value is None:
                return {}
            digests.append(base64.b64decode(value))
        return {member: combine_composite(algorithm, digests), "ChecksumType": "COMPOSITE"}


def _page_size(value: Any) -> int:
    return MAX_LISTED if value is None else max(0, min(int(value), MAX_LISTED))


def _copy_range(text: str, size: int) -> tuple[int, int]:
    """x-amz-copy-source-range: `bytes=first-last`, both required and inside the object."""
    try:
        unit, _, span = text.partition("=")
        first, _, last = span.partition("-")
        start, end = int(first), int(last)
    except ValueError:
        start, end, unit = -1, -1, ""
    if unit.strip() != "bytes" or start < 0 or end < start:
        raise invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last where first "
                               "and last are the zero-based offsets of the first and last bytes to copy",
                               "x-amz-copy-source-range", text)
    if end >= size:
        raise ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                           fields={"RangeRequested": text, "ActualObjectSize": str(size)})
    return start, end
