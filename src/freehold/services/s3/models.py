"""S3's domain objects and rules: buckets, object versions, names, ETags, the errors S3 answers.

Error messages are S3's own, from https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from freehold.protocol.errors import ServiceError

NULL_VERSION = "null"
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000
STANDARD = "STANDARD"
INLINE_MAX = 8 * 1024

# Regions S3 accepts as a LocationConstraint (botocore's BucketLocationConstraint enum plus the
# partitions freehold might be pointed at); 'EU' is the legacy alias of eu-west-1.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def now() -> float:
    return time.time()


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def new_version_id() -> str:
    """32 URL-safe characters, like S3's version ids."""
    return secrets.token_urlsafe(24)


def new_upload_id() -> str:
    return secrets.token_urlsafe(48)


def quote_etag(hex_digest: str) -> str:
    return f'"{hex_digest}"'


def multipart_etag(part_md5s: list[str]) -> str:
    """md5 of the concatenated binary part md5s, then `-<part count>` (S3's multipart ETag)."""
    joined = b"".join(bytes.fromhex(m) for m in part_md5s)
    return f'"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(part_md5s)}"'


# -- errors ------------------------------------------------------------------------------------


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": bucket})


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


def no_such_version(key: str, version_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchVersion", "The specified version does not exist.", 404, fields={"Key": key, "VersionId": version_id}
    )


def invalid_argument(message: str, name: str, value: str | None) -> ServiceError:
    return ServiceError(
        "InvalidArgument", message, 400, fields={"ArgumentName": name, "ArgumentValue": value or ""}
    )


def malformed_xml() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)


def method_not_allowed(headers: dict[str, str] | None = None) -> ServiceError:
    return ServiceError(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
        headers=headers,
    )


# -- names -------------------------------------------------------------------------------------


def check_bucket_name(name: str) -> None:
    """S3's general purpose bucket naming rules
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)."""
    valid = bool(_BUCKET_NAME.fullmatch(name)) and ".." not in name and ".-" not in name and "-." not in name
    if valid:
        try:
            ipaddress.IPv4Address(name)
            valid = False
        except ValueError:
            pass
    if valid and (name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"))):
        valid = False
    if not valid:
        raise ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400, fields={"BucketName": name})


def decode_uri(text: str) -> str:
    """Percent-decoding of a key from a path or the x-amz-copy-source header. Bytes that are not
    UTF-8 are refused as S3 refuses them (400 InvalidURI) rather than replaced by U+FFFD, which
    would make two different keys one."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400) from None


def check_key(key: str) -> None:
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ServiceError(
            "KeyTooLongError", "Your key is too long", 400, fields={"Size": str(len(key.encode())), "MaxSizeAllowed": "1024"}
        )
    if not key:
        raise invalid_request("A key must be specified")


def check_metadata(metadata: dict[str, str] | None) -> None:
    """User metadata: at most 2 KB (names and values, UTF-8)."""
    if not metadata:
        return
    size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise ServiceError(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)},
        )


# -- domain objects ----------------------------------------------------------------------------


@dataclass
class Bucket:
    name: str
    account_id: str
    region: str
    created: float
    versioning: str = ""  # '', 'Enabled' or 'Suspended'

    @property
    def versioned(self) -> bool:
        return self.versioning == "Enabled"


@dataclass
class ObjectVersion:
    """One version of an object (or a delete marker), as stored.

    `segments` are the blobs holding its bytes, in order: one for a simple upload, one per
    part for a completed multipart upload (never concatenated: completing is instant).
    `attributes` holds the response members stored with the object (ContentType, Metadata,
    checksums, ...) under their boto3 names."""

    bucket: str
    key: str
    version_id: str
    seq: int
    is_latest: bool
    delete_marker: bool
    size: int
    etag: str
    last_modified: float
    storage_class: str = STANDARD
    segments: list[tuple[str, int]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inline: bytes | None = None  # the bytes of a small object, kept in its row instead of a blob

    @property
    def parts_count(self) -> int | None:
        count = self.attributes.get("PartsCount")
        return int(count) if count else None

    def response_version_id(self, bucket: Bucket) -> str | None:
        """The VersionId S3 reports: none for objects of a never-versioned bucket."""
        if self.version_id == NULL_VERSION and not bucket.versioning:
            return None
        return self.version_id


@dataclass
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """An HTTP Range for an object of `size` bytes; None means the whole object.

    S3 serves the first range of a list, ignores syntactically invalid ranges (whole object),
    and answers InvalidRange (416) for a range starting past the end."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?", header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise invalid_range(header, size)
        return ByteRange(max(0, size - suffix), size - 1) if size else None
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise invalid_range(header, size)
    return ByteRange(start, min(end, size - 1))


def invalid_range(header: str, size: int) -> ServiceError:
    return ServiceError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        fields={"RangeRequested": header, "ActualObjectSize": str(size)},
        headers={"Content-Range": f"bytes */{size}"},
    )
