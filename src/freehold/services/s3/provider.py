"""The S3 provider: the operation methods of the subject modules, put together.

    buckets.py          CreateBucket, HeadBucket, ListBuckets, DeleteBucket, versioning state
    bucket_configs.py   tagging, ownership controls, public access block, ACL, policy, CORS, encryption
    objects.py          Put/Get/Head/Delete(s)/Copy object, object tagging and ACL
    listing.py          ListObjects v1/v2, ListObjectVersions
    multipart.py        multipart uploads
    website.py          website configuration and the website endpoint
    lifecycle.py        lifecycle configuration and its expiration worker
    notifications.py    event notification configuration (stored and validated)
    bucket_settings.py  accelerate, request payment, logging, replication, object lock (read by Terraform)
    web.py              CORS preflights and headers, POST policy uploads (the gateway's serve_web)
"""

from __future__ import annotations

from typing import ClassVar

from freehold.services.s3.bucket_configs import BucketConfigOperations
from freehold.services.s3.buckets import BucketOperations
from freehold.services.s3.bucket_settings import BucketSettingOperations
from freehold.services.s3.lifecycle import LifecycleOperations
from freehold.services.s3.listing import ListingOperations
from freehold.services.s3.multipart import MultipartOperations
from freehold.services.s3.notifications import NotificationOperations
from freehold.services.s3.web import WebOperations


class S3Provider(BucketOperations, BucketConfigOperations, BucketSettingOperations, ListingOperations,
                 MultipartOperations, WebOperations, LifecycleOperations, NotificationOperations):
    service: ClassVar[str] = "s3"
    partial: ClassVar[dict[str, str]] = {
        "PutObject": "SSE-C and object lock are not supported; CRC32C/CRC64NVME are computed in pure Python "
                     "(slow) and only when the client asks; no default CRC64NVME checksum is added",
        "GetObject": "SSE-C is not supported",
        "CreateBucket": "ObjectLockEnabledForBucket is recorded but object lock is not enforced",
        "PutBucketAcl": "grants are stored as the canned ACL they amount to",
        "PutObjectAcl": "canned ACLs are checked against the bucket's ownership controls but not stored per grant",
        "PutBucketPolicy": "the policy is validated and stored; only its public (Principal *) statements are "
                           "evaluated, for anonymous requests, until the IAM issue's evaluator arrives",
        "ListMultipartUploads": "a delimiter groups uploads page by page",
        "PutBucketLifecycleConfiguration": "expiration actions are applied by a background worker (as soon as "
                                           "objects are old enough, not at the next midnight UTC); transitions "
                                           "are stored only",
        "PutBucketNotificationConfiguration": "validated and stored; events are delivered with the events issue",
        "PutBucketLogging": "stored; no access logs are written",
    }

    def start(self) -> None:
        self.store.migrate()
        # Temp files of uploads a crash interrupted (never visible as objects).
        self.blobs.remove_stale_temp_files()
        self.start_lifecycle_worker()

    def stop(self) -> None:
        self.stop_lifecycle_worker()

    def reset(self) -> None:
        """All S3 state lives in SQL and the blob store."""
