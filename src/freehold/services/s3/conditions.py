"""Conditional requests: If-Match / If-None-Match / If-(Un)Modified-Since on reads, and the
conditional writes (If-None-Match: * and If-Match on PutObject, CompleteMultipartUpload, CopyObject).

Reads follow RFC 7232 as S3 documents it
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax):
If-Match true wins over a false If-Unmodified-Since (200), If-None-Match false wins over a
true If-Modified-Since (304). Writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.serializer_values import rfc822, to_datetime
from freehold.services.s3.models import ObjectVersion, no_such_key


def _etags(header: str) -> list[str]:
    return [item.strip().strip('"') for item in header.split(",") if item.strip()]


def etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    return any(item == "*" or item == bare for item in _etags(header))


def _seconds(value: Any) -> float:
    moment: datetime = to_datetime(value)
    return moment.timestamp()


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        fields={"Condition": condition},
    )


def check_read(params: dict[str, Any], obj: ObjectVersion, prefix: str = "If") -> None:
    """Raise 412 PreconditionFailed or 304 NotModified as the read's conditions say.

    `prefix` is 'CopySourceIf' for CopyObject/UploadPartCopy (which fail all four with 412)."""
    copy = prefix != "If"
    if_match = params.get(f"{prefix}Match")
    if_none_match = params.get(f"{prefix}NoneMatch")
    modified_since = params.get(f"{prefix}ModifiedSince")
    unmodified_since = params.get(f"{prefix}UnmodifiedSince")
    # HTTP dates have whole seconds: compare the object's time truncated to the second.
    modified = math.floor(obj.last_modified)
    header = "x-amz-copy-source-if-" if copy else "If-"
    if if_match is not None:
        if not etag_matches(if_match, obj.etag):
            raise precondition_failed(f"{header}Match" if not copy else "x-amz-copy-source-If-Match")
    elif unmodified_since is not None and modified > _seconds(unmodified_since):
        raise precondition_failed(f"{header}Unmodified-Since" if not copy else "x-amz-copy-source-If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(if_none_match, obj.etag):
            if copy:
                raise precondition_failed("x-amz-copy-source-If-None-Match")
            raise not_modified(obj)
    elif modified_since is not None and modified <= _seconds(modified_since):
        if copy:
            raise precondition_failed("x-amz-copy-source-If-Modified-Since")
        raise not_modified(obj)


def not_modified(obj: ObjectVersion) -> ServiceError:
    return ServiceError(
        "NotModified", "Not Modified", 304, headers={"ETag": obj.etag, "Last-Modified": rfc822(obj.last_modified)}
    )


def check_write(params: dict[str, Any], current: ObjectVersion | None, key: str) -> None:
    """Conditional writes: If-None-Match '*' needs no current object; If-Match needs the
    current object to have that ETag (NoSuchKey when there is none)."""
    if_none_match = params.get("IfNoneMatch")
    if_match = params.get("IfMatch")
    exists = current is not None and not current.delete_marker
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise ServiceError(
                "NotImplemented", "A header you provided implies functionality that is not implemented", 501,
                fields={"Header": "If-None-Match"},
            )
        if exists:
            raise precondition_failed("If-None-Match")
    if if_match is not None:
        if not exists:
            raise no_such_key(key)
        assert current is not None
        if not etag_matches(if_match, current.etag):
            raise precondition_failed("If-Match")
