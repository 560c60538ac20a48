"""Listing: ListObjects (v1), ListObjectsV2 and ListObjectVersions, with prefixes, delimiters
and common prefixes, markers and continuation tokens, max-keys and encoding-type=url.

Keys are walked in code-point order straight from an index; a common prefix is reported once
and the walk then jumps past every key under it, so a folder of a million keys costs one query.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from freehold.gateway.context import RequestContext
from freehold.services.base import Params
from freehold.services.s3.checksums import MEMBERS
from freehold.services.s3.core import S3Core, owner
from freehold.services.s3.models import Bucket, ObjectVersion, invalid_argument, to_datetime

MAX_KEYS = 1000


def successor(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix and ord(prefix[-1]) < 0x10FFFF else prefix + "\U0010ffff"


@dataclass
class Page:
    entries: list[ObjectVersion] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""  # the last key or common prefix returned (the next marker)
    last_version: ObjectVersion | None = None


# fetch(start, inclusive, after_seq, end, limit) -> rows in (key, newest first) order
Fetch = Callable[[str, bool, "int | None", "str | None", int], list[ObjectVersion]]


def walk(fetch: Fetch, prefix: str, delimiter: str, start: str, inclusive: bool, after_seq: int | None,
         max_keys: int) -> Page:
    page = Page()
    end = successor(prefix) if prefix else None
    marker, first_inclusive = start, inclusive
    if start < prefix:
        start, inclusive, after_seq = prefix, True, None
    count = 0
    while count <= max_keys:
        want = max_keys + 1 - count
        batch = fetch(start, inclusive, after_seq, end, want)
        jumped = False
        for obj in batch:
            if delimiter:
                found = obj.key.find(delimiter, len(prefix))
                if found >= 0:
                    common = obj.key[: found + len(delimiter)]
                    if not first_inclusive and common <= marker:
                        # Resuming after a common prefix (NextMarker / token): its keys are done.
                        start, inclusive, after_seq = successor(common), True, None
                        jumped = True
                        break
                    if count == max_keys:
                        page.truncated = True
                        return page
                    page.prefixes.append(common)
                    page.last, page.last_version = common, None
                    count += 1
                    start, inclusive, after_seq = successor(common), True, None
                    jumped = True
                    break
            if count == max_keys:
                page.truncated = True
                return page
            page.entries.append(obj)
            page.last, page.last_version = obj.key, obj
            count += 1
            start, inclusive, after_seq = obj.key, False, obj.seq
        if not jumped and len(batch) < want:
            return page
    return page


def encoder(params: Params) -> Callable[[str | None], str | None]:
    """URL-encodes names in the answer when the request says encoding-type=url."""
    kind = params.get("EncodingType")
    if kind is not None and kind != "url":
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", kind)
    if kind != "url":
        return lambda text: text
    return lambda text: None if text is None else quote(text, safe="/")


def max_keys_of(params: Params) -> int:
    value = params.get("MaxKeys")
    if value is None:
        return MAX_KEYS
    if value < 0:
        raise invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys", str(value))
    return min(int(value), MAX_KEYS)


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(("1:" + text).encode("utf-8")).decode("ascii")


def _untoken(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        text = ""
    if not text.startswith("1:"):
        raise invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    return text[2:]


class ListingOperations(S3Core):
    def _latest_fetch(self, bucket: Bucket) -> Fetch:
        def fetch(start: str, inclusive: bool, after_seq: int | None, end: str | None, limit: int) -> list[ObjectVersion]:
            return self.store.list_latest(bucket.name, start, inclusive, end, limit)

        return fetch

    def _content(self, obj: ObjectVersion, bucket: Bucket, with_owner: bool, encode: Callable[[str | None], str | None]) -> Params:
        entry: Params = {"Key": encode(obj.key), "LastModified": to_datetime(obj.last_modified), "ETag": obj.etag,
                         "Size": obj.size, "StorageClass": obj.storage_class}
        algorithms = [name for name, member in MEMBERS.items() if obj.attributes.get(member)]
        if algorithms:
            entry["ChecksumAlgorithm"] = algorithms
            entry["ChecksumType"] = obj.attributes.get("ChecksumType", "FULL_OBJECT")
        if with_owner:
            entry["Owner"] = owner(bucket.account_id)
        return entry

    def list_objects(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        encode = encoder(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        marker = params.get("Marker") or ""
        max_keys = max_keys_of(params)
        page = walk(self._latest_fetch(bucket), prefix, delimiter, marker, False, None, max_keys)
        out: Params = {
            "Name": bucket.name, "Prefix": encode(prefix), "Marker": encode(marker), "MaxKeys": max_keys,
            "IsTruncated": page.truncated, "EncodingType": params.get("EncodingType"),
            "Contents": [self._content(o, bucket, True, encode) for o in page.entries] or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = encode(delimiter)
            if page.truncated:
                out["NextMarker"] = encode(page.last)
        return out

    def list_objects_v2(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        encode = encoder(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        start_after = params.get("StartAfter") or ""
        token = params.get("ContinuationToken")
        if token is not None:
            start, inclusive = _untoken(token), False
        else:
            start, inclusive = start_after, False
        max_keys = max_keys_of(params)
        page = walk(self._latest_fetch(bucket), prefix, delimiter, start, inclusive, None, max_keys)
        out: Params = {
            "Name": bucket.name, "Prefix": encode(prefix), "MaxKeys": max_keys, "IsTruncated": page.truncated,
            "KeyCount": len(page.entries) + len(page.prefixes), "EncodingType": params.get("EncodingType"),
            "Contents": [self._content(o, bucket, bool(params.get("FetchOwner")), encode) for o in page.entries]
            or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
            "ContinuationToken": token,
        }
        if delimiter:
            out["Delimiter"] = encode(delimiter)
        if start_after:
            out["StartAfter"] = encode(start_after)
        if page.truncated:
            out["NextContinuationToken"] = _token(page.last)
        return out

    def list_object_versions(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        encode = encoder(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker") or ""
        version_marker = params.get("VersionIdMarker")
        max_keys = max_keys_of(params)
        after_seq: int | None = None
        if version_marker:
            if not key_marker:
                raise invalid_argument("A version-id marker cannot be specified without a key marker.",
                                       "version-id-marker", version_marker)
            marked = self.store.version(bucket.name, key_marker, version_marker)
            if marked is None:
                raise invalid_argument("Invalid version id specified", "version-id-marker", version_marker)
            after_seq = marked.seq

        def fetch(start: str, inclusive: bool, seq: int | None, end: str | None, limit: int) -> list[ObjectVersion]:
            return self.store.list_versions(bucket.name, start, inclusive, end, seq, limit)

        page = walk(fetch, prefix, delimiter, key_marker, False, after_seq, max_keys)
        versions: list[Params] = []
        markers: list[Params] = []
        for obj in page.entries:
            entry: Params = {"Key": encode(obj.key), "VersionId": obj.version_id, "IsLatest": obj.is_latest,
                             "LastModified": to_datetime(obj.last_modified), "Owner": owner(bucket.account_id)}
            if obj.delete_marker:
                markers.append(entry)
            else:
                entry.update({"ETag": obj.etag, "Size": obj.size, "StorageClass": obj.storage_class})
                algorithms = [name for name, member in MEMBERS.items() if obj.attributes.get(member)]
                if algorithms:
                    entry["ChecksumAlgorithm"] = algorithms
                    entry["ChecksumType"] = obj.attributes.get("ChecksumType", "FULL_OBJECT")
                versions.append(entry)
        out: Params = {
            "Name": bucket.name, "Prefix": encode(prefix), "KeyMarker": encode(key_marker),
            "VersionIdMarker": version_marker, "MaxKeys": max_keys, "IsTruncated": page.truncated,
            "EncodingType": params.get("EncodingType"), "Versions": versions or None, "DeleteMarkers": markers or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = encode(delimiter)
        if page.truncated:
            out["NextKeyMarker"] = encode(page.last)
            if page.last_version is not None:
                out["NextVersionIdMarker"] = page.last_version.version_id
        return out

