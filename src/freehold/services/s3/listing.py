"""Listing: ListObjects (v1), ListObjectsV2 and ListObjectVersions, with prefixes, delimiters
and common prefixes, markers and continuation tokens, max-keys and encoding-type=url.

Keys are walked in code-point order straight from an index; a common prefix is reported once
and the walk then jumps past every key under it, so a folder of a million keys costs one query.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, unquote_plus

from freehold.gateway.context import RequestContext
from freehold.protocol.specs import service_model
from freehold.services.base import Params
from freehold.services.s3.checksums import MEMBERS
from freehold.services.s3.core import S3Core, owner
from freehold.services.s3.models import Bucket, ObjectVersion, decode_uri, invalid_argument, to_datetime

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
            found = obj.key.find(delimiter, len(prefix)) if delimiter else -1
            if found < 0:
                if count == max_keys:
                    page.truncated = True
                    return page
                count += 1
                page.entries.append(obj)
                page.last, page.last_version = obj.key, obj
                start, inclusive, after_seq = obj.key, False, obj.seq
                continue
            common = obj.key[: found + len(delimiter)]
            # A common prefix up to the marker was listed before (resuming after NextMarker or a
            # token): only skipped. A new one is listed once.
            if first_inclusive or common > marker:
                if count == max_keys:
                    page.truncated = True
                    return page
                count += 1
                page.prefixes.append(common)
                page.last, page.last_version = common, None
            # Either way the walk jumps past every key under it.
            start, inclusive, after_seq = successor(common), True, None
            jumped = True
            break
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


def checksum_members(obj: ObjectVersion) -> Params:
    """ChecksumAlgorithm and ChecksumType of a listed object (none when it has no checksum)."""
    algorithms = [name for name, member in MEMBERS.items() if obj.attributes.get(member)]
    if not algorithms:
        return {}
    return {"ChecksumAlgorithm": algorithms, "ChecksumType": obj.attributes.get("ChecksumType", "FULL_OBJECT")}


@functools.cache
def _query_members(operation: str) -> dict[str, str]:
    """Query-string name -> member, for an S3 operation's string members in the query string
    (prefix, delimiter, marker, start-after, continuation-token, key-marker, upload-id-marker...)."""
    shape = service_model("s3").operation_model(operation).input_shape
    return {member.serialization["name"]: name for name, member in shape.members.items()
            if member.serialization.get("location") == "querystring" and member.type_name == "string"}


def refuse_non_utf8_query(ctx: RequestContext, operation: str, params: Params) -> None:
    """A list parameter whose percent-decoding is not UTF-8 is refused with the error S3 gives a
    key that is not UTF-8 (400 InvalidURI, "Couldn't parse the specified URI."). The protocol
    layer decodes query values leniently (U+FFFD for each bad byte), so `prefix=%FF` would
    otherwise list under another prefix. Only values that are what the parser made of this
    request's query are checked (an in-process call carries its caller's request)."""
    members = _query_members(operation)
    for pair in ctx.request.query_string.split("&"):
        name, _, raw = pair.partition("=")
        member = members.get(unquote_plus(name))
        if member is not None and "%" in raw:
            text = raw.replace("+", " ")
            if params.get(member) == unquote(text):
                decode_uri(text)


@dataclass(frozen=True)
class Listing:
    """What the list operations share: the bucket, how names are encoded in the answer, the
    prefix, the delimiter and the page size."""

    bucket: Bucket
    encode: Callable[[str | None], str | None]
    prefix: str
    delimiter: str
    max_keys: int

    def answer(self, params: Params, page: Page) -> Params:
        """The members every listing answer has (Name, Prefix, MaxKeys, IsTruncated, EncodingType,
        CommonPrefixes, Delimiter)."""
        out: Params = {
            "Name": self.bucket.name, "Prefix": self.encode(self.prefix), "MaxKeys": self.max_keys,
            "IsTruncated": page.truncated, "EncodingType": params.get("EncodingType"),
            "CommonPrefixes": [{"Prefix": self.encode(p)} for p in page.prefixes] or None,
        }
        if self.delimiter:
            out["Delimiter"] = self.encode(self.delimiter)
        return out


class ListingOperations(S3Core):
    def _listing(self, ctx: RequestContext, operation: str, params: Params) -> Listing:
        refuse_non_utf8_query(ctx, operation, params)
        bucket = self.bucket_of(ctx, params["Bucket"])
        return Listing(bucket, encoder(params), params.get("Prefix") or "", params.get("Delimiter") or "",
                       max_keys_of(params))

    def _latest_fetch(self, bucket: Bucket) -> Fetch:
        def fetch(start: str, inclusive: bool, after_seq: int | None, end: str | None, limit: int) -> list[ObjectVersion]:
            return self.store.list_latest(bucket.name, start, inclusive, end, limit)

        return fetch

    def _content(self, obj: ObjectVersion, bucket: Bucket, with_owner: bool, encode: Callable[[str | None], str | None]) -> Params:
        entry: Params = {"Key": encode(obj.key), "LastModified": to_datetime(obj.last_modified), "ETag": obj.etag,
                         "Size": obj.size, "StorageClass": obj.storage_class, **checksum_members(obj)}
        if with_owner:
            entry["Owner"] = owner(bucket.account_id)
        return entry

    def list_objects(self, ctx: RequestContext, params: Params) -> Params:
        listing = self._listing(ctx, "ListObjects", params)
        encode, marker = listing.encode, params.get("Marker") or ""
        page = walk(self._latest_fetch(listing.bucket), listing.prefix, listing.delimiter, marker, False, None,
                    listing.max_keys)
        out = listing.answer(params, page)
        out["Marker"] = encode(marker)
        out["Contents"] = [self._content(o, listing.bucket, True, encode) for o in page.entries] or None
        if listing.delimiter and page.truncated:
            out["NextMarker"] = encode(page.last)
        return out

    def list_objects_v2(self, ctx: RequestContext, params: Params) -> Params:
        listing = self._listing(ctx, "ListObjectsV2", params)
        start_after = params.get("StartAfter") or ""
        token = params.get("ContinuationToken")
        start = _untoken(token) if token is not None else start_after
        page = walk(self._latest_fetch(listing.bucket), listing.prefix, listing.delimiter, start, False, None,
                    listing.max_keys)
        with_owner = bool(params.get("FetchOwner"))
        out = listing.answer(params, page)
        out["KeyCount"] = len(page.entries) + len(page.prefixes)
        out["Contents"] = [self._content(o, listing.bucket, with_owner, listing.encode) for o in page.entries] or None
        out["ContinuationToken"] = token
        if start_after:
            out["StartAfter"] = listing.encode(start_after)
        if page.truncated:
            out["NextContinuationToken"] = _token(page.last)
        return out

    def list_object_versions(self, ctx: RequestContext, params: Params) -> Params:
        listing = self._listing(ctx, "ListObjectVersions", params)
        bucket, encode = listing.bucket, listing.encode
        key_marker = params.get("KeyMarker") or ""
        version_marker = params.get("VersionIdMarker")
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

        page = walk(fetch, listing.prefix, listing.delimiter, key_marker, False, after_seq, listing.max_keys)
        versions: list[Params] = []
        markers: list[Params] = []
        for obj in page.entries:
            identity = {"VersionId": obj.version_id, "IsLatest": obj.is_latest}
            if obj.delete_marker:
                markers.append({"Key": encode(obj.key), "LastModified": to_datetime(obj.last_modified),
                                "Owner": owner(bucket.account_id), **identity})
            else:
                versions.append({**self._content(obj, bucket, True, encode), **identity})
        out = listing.answer(params, page)
        out.update({"KeyMarker": encode(key_marker), "VersionIdMarker": version_marker,
                    "Versions": versions or None, "DeleteMarkers": markers or None})
        if page.truncated:
            out["NextKeyMarker"] = encode(page.last)
            if page.last_version is not None:
                out["NextVersionIdMarker"] = page.last_version.version_id
        return out
