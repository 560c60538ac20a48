"""Bucket lifecycle: CreateBucket (with S3's LocationConstraint rules), HeadBucket, ListBuckets,
GetBucketLocation, DeleteBucket, and the versioning state.

LocationConstraint rules (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html):
the us-east-1 endpoint accepts any constraint except `us-east-1` itself (no constraint means
us-east-1); every other regional endpoint requires the constraint to name its own region.
"""

from __future__ import annotations

import base64
from typing import ClassVar

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.s3.core import S3Core, owner
from freehold.services.s3.models import Bucket, check_bucket_name, now, to_datetime
from freehold.services.s3.store import BucketExists

US_EAST_1 = "us-east-1"
# ObjectOwnership of new buckets since April 2023: ACLs disabled.
DEFAULT_OWNERSHIP = "BucketOwnerEnforced"
MAX_BUCKETS_PAGE = 10000


def _illegal_constraint(constraint: str) -> ServiceError:
    named = "unspecified" if not constraint else constraint
    return ServiceError(
        "IllegalLocationConstraintException",
        f"The {named} location constraint is incompatible for the region specific endpoint this request was sent to.",
        400,
    )


class BucketOperations(S3Core):
    LEGACY_REGIONS: ClassVar[dict[str, str]] = {"EU": "eu-west-1"}

    def create_bucket(self, ctx: RequestContext, params: Params) -> Params:
        name = params["Bucket"]
        check_bucket_name(name)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint") or ""
        if ctx.region == US_EAST_1:
            if constraint == US_EAST_1:
                raise ServiceError("InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
                                   fields={"LocationConstraint": constraint})
            region = self.LEGACY_REGIONS.get(constraint, constraint) or US_EAST_1
        else:
            if self.LEGACY_REGIONS.get(constraint, constraint) != ctx.region:
                raise _illegal_constraint(constraint)
            region = ctx.region
        ownership = params.get("ObjectOwnership") or DEFAULT_OWNERSHIP
        acl = params.get("ACL")
        if acl and acl != "private" and ownership == DEFAULT_OWNERSHIP:
            raise ServiceError(
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                400,
            )
        bucket = Bucket(name=name, account_id=ctx.account_id, region=region, created=now())
        try:
            self.store.create_bucket(bucket)
        except BucketExists as exists:
            if exists.owner != ctx.account_id:
                raise ServiceError(
                    "BucketAlreadyExists",
                    "The requested bucket name is not available. The bucket namespace is shared by all users "
                    "of the system. Please select a different name and try again.",
                    409,
                    fields={"BucketName": name},
                ) from None
            if ctx.region != US_EAST_1:
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409,
                    fields={"BucketName": name},
                ) from None
            # us-east-1 answers a repeated create of your own bucket with success (legacy).
            return {"Location": f"/{name}"}
        self.store.put_config(name, "ownership", {"Rules": [{"ObjectOwnership": ownership}]})
        # New buckets block public access by default (since April 2023).
        self.store.put_config(name, "public_access_block", {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        })
        if acl:
            self.store.put_config(name, "acl", acl)
        if params.get("ObjectLockEnabledForBucket"):
            self.store.set_versioning(name, "Enabled")
            self.store.put_config(name, "object_lock", {"ObjectLockEnabled": "Enabled"})
        return {"Location": f"/{name}"}

    def head_bucket(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    def get_bucket_location(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return {"LocationConstraint": None if bucket.region == US_EAST_1 else bucket.region}

    def list_buckets(self, ctx: RequestContext, params: Params) -> Params:
        limit = params.get("MaxBuckets")
        if limit is not None and not 1 <= int(limit) <= MAX_BUCKETS_PAGE:
            raise ServiceError("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000", 400,
                               fields={"ArgumentName": "max-buckets", "ArgumentValue": str(limit)})
        page = int(limit) if limit is not None else MAX_BUCKETS_PAGE
        after = ""
        token = params.get("ContinuationToken")
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise ServiceError("InvalidArgument", "The continuation token provided is incorrect", 400,
                                   fields={"ArgumentName": "continuation-token", "ArgumentValue": token}) from None
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        found: list[Bucket] = []
        more = False
        while True:
            batch = self.store.buckets(ctx.account_id, after, prefix, page + 1)
            for bucket in batch:
                after = bucket.name
                if region and bucket.region != region:
                    continue
                if len(found) == page:
                    more = True
                    break
                found.append(bucket)
            if more or len(batch) < page + 1:
                break
        result: Params = {
            "Buckets": [
                {"Name": b.name, "CreationDate": to_datetime(b.created), "BucketRegion": b.region} for b in found
            ],
            "Owner": owner(ctx.account_id),
        }
        if prefix:
            result["Prefix"] = prefix
        if more and found:
            result["ContinuationToken"] = base64.urlsafe_b64encode(found[-1].name.encode()).decode()
        return result

    def delete_bucket(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        if not self.store.delete_bucket(bucket.name):
            raise ServiceError(
                "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, fields={"BucketName": bucket.name}
            )
        return {}

    # -- versioning ----------------------------------------------------------------------------
    def put_bucket_versioning(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        status = (params.get("VersioningConfiguration") or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            from freehold.services.s3.models import malformed_xml

            raise malformed_xml()
        if status == "Suspended" and self.store.config(bucket.name, "object_lock"):
            raise ServiceError("InvalidBucketState",
                               "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                               409)
        self.store.set_versioning(bucket.name, status)
        return {}

    def get_bucket_versioning(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return {"Status": bucket.versioning} if bucket.versioning else {}
