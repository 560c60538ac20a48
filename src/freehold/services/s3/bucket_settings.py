"""The bucket settings that tools such as Terraform read on every refresh: transfer
acceleration, request payment, server access logging, replication and object lock
configuration. They are stored and returned as S3 does; none changes how freehold serves data.
"""

from __future__ import annotations

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.s3.core import S3Core
from freehold.services.s3.models import malformed_xml


class BucketSettingOperations(S3Core):
    def put_bucket_accelerate_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        status = (params.get("AccelerateConfiguration") or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        if "." in bucket.name:
            raise ServiceError("InvalidRequest", "S3 Transfer Acceleration is not supported for buckets with periods "
                               "(.) in their names", 400)
        self.store.put_config(bucket.name, "accelerate", status)
        return {}

    def get_bucket_accelerate_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        status = self.store.config(bucket.name, "accelerate")
        return {"Status": status} if status else {}

    def put_bucket_request_payment(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        payer = (params.get("RequestPaymentConfiguration") or {}).get("Payer")
        if payer not in ("Requester", "BucketOwner"):
            raise malformed_xml()
        self.store.put_config(bucket.name, "request_payment", payer)
        return {}

    def get_bucket_request_payment(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return {"Payer": self.store.config(bucket.name, "request_payment") or "BucketOwner"}

    def put_bucket_logging(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        enabled = (params.get("BucketLoggingStatus") or {}).get("LoggingEnabled")
        if enabled:
            target = enabled.get("TargetBucket") or ""
            if self.store.bucket(target) is None:
                raise ServiceError("InvalidTargetBucketForLogging", "The target bucket for logging does not exist",
                                   400, fields={"TargetBucket": target})
            self.store.put_config(bucket.name, "logging", enabled)
        else:
            self.store.delete_config(bucket.name, "logging")
        return {}

    def get_bucket_logging(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        enabled = self.store.config(bucket.name, "logging")
        return {"LoggingEnabled": enabled} if enabled else {}

    def get_bucket_replication(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        raise ServiceError("ReplicationConfigurationNotFoundError", "The replication configuration was not found",
                           404, fields={"BucketName": bucket.name})

    def get_object_lock_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        config = self.store.config(bucket.name, "object_lock")
        if not config:
            raise ServiceError("ObjectLockConfigurationNotFoundError",
                               "Object Lock configuration does not exist for this bucket", 404,
                               fields={"BucketName": bucket.name})
        return {"ObjectLockConfiguration": config}
