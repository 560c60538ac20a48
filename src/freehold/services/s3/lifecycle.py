"""Lifecycle configuration (validated, stored) and the background worker that applies its
expiration actions (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html):

* Expiration (Days after creation, or a Date): current objects expire - removed in unversioned
  buckets, hidden behind a delete marker in versioned ones, as S3 does;
* NoncurrentVersionExpiration (NoncurrentDays): old versions are removed for good;
* AbortIncompleteMultipartUpload (DaysAfterInitiation): stale uploads are aborted.

Transitions are stored but change nothing (freehold has one storage tier). The worker keeps no
state of its own: each pass scans the configured buckets from SQL, so it resumes after a
restart; its period is FREEHOLD_S3_LIFECYCLE_INTERVAL seconds (default 60). S3 rounds
expiration to the next midnight UTC; freehold expires objects as soon as they are old enough.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.serializer_values import to_datetime as as_datetime
from freehold.services.base import Params
from freehold.services.s3.core import S3Core
from freehold.services.s3.models import Bucket, ObjectVersion, invalid_argument, invalid_request, malformed_xml, now

log = logging.getLogger("freehold.s3.lifecycle")

DAY = 86400.0
BATCH = 1000
ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
           "AbortIncompleteMultipartUpload")


def lifecycle_interval() -> float:
    try:
        return max(0.2, float(os.environ.get("FREEHOLD_S3_LIFECYCLE_INTERVAL", "60")))
    except ValueError:
        return 60.0


def check_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rules or len(rules) > 1000:
        raise malformed_xml()
    seen: set[str] = set()
    for rule in rules:
        rule_id = rule.get("ID") or ""
        if len(rule_id) > 255:
            raise invalid_argument("ID length should not exceed allowed limit of 255", "ID", rule_id)
        if rule_id and rule_id in seen:
            raise invalid_argument("Rule ID must be unique. Found same ID for more than one rule", "ID", rule_id)
        seen.add(rule_id)
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise malformed_xml()
        if "Filter" in rule and "Prefix" in rule:
            raise malformed_xml()
        if not any(rule.get(action) for action in ACTIONS):
            raise invalid_request("At least one action needs to be specified in a rule")
        expiration = rule.get("Expiration") or {}
        if "Days" in expiration and int(expiration["Days"]) <= 0:
            raise invalid_argument("'Days' for Expiration action must be a positive integer", "Days",
                                   str(expiration["Days"]))
        if "Date" in expiration:
            moment = as_datetime(expiration["Date"])
            if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
                raise invalid_argument("'Date' must be at midnight GMT", "Date", str(expiration["Date"]))
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        if "NoncurrentDays" in noncurrent and int(noncurrent["NoncurrentDays"]) <= 0:
            raise invalid_argument("'NoncurrentDays' in NoncurrentVersionExpiration action must be a positive "
                                   "integer", "NoncurrentDays", str(noncurrent["NoncurrentDays"]))
        abort = rule.get("AbortIncompleteMultipartUpload") or {}
        if "DaysAfterInitiation" in abort and int(abort["DaysAfterInitiation"]) <= 0:
            raise invalid_argument("'DaysAfterInitiation' in AbortIncompleteMultipartUpload action must be a "
                                   "positive integer", "DaysAfterInitiation", str(abort["DaysAfterInitiation"]))
    return [_storable(rule) for rule in rules]


def _storable(rule: dict[str, Any]) -> dict[str, Any]:
    """Timestamps as ISO text, so that the rule survives JSON."""
    stored = dict(rule)
    expiration = stored.get("Expiration")
    if expiration and "Date" in expiration:
        stored["Expiration"] = {**expiration, "Date": as_datetime(expiration["Date"]).isoformat()}
    return stored


def _prefix(rule: dict[str, Any]) -> str:
    if "Prefix" in rule:
        return str(rule["Prefix"] or "")
    selector = rule.get("Filter") or {}
    return str(selector.get("Prefix") or (selector.get("And") or {}).get("Prefix") or "")


def _matches(rule: dict[str, Any], obj: ObjectVersion) -> bool:
    if not obj.key.startswith(_prefix(rule)):
        return False
    selector = rule.get("Filter") or {}
    both = selector.get("And") or {}
    tags = ([selector["Tag"]] if selector.get("Tag") else []) + list(both.get("Tags") or [])
    if any(obj.tags.get(t["Key"]) != t.get("Value") for t in tags):
        return False
    larger = selector.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan"))
    smaller = selector.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan"))
    if larger is not None and not obj.size > int(larger):
        return False
    return smaller is None or obj.size < int(smaller)


class LifecycleOperations(S3Core):
    _lifecycle_thread: threading.Thread | None = None
    _lifecycle_stop: threading.Event | None = None

    def put_bucket_lifecycle_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        rules = check_rules((params.get("LifecycleConfiguration") or {}).get("Rules") or [])
        self.store.put_config(bucket.name, "lifecycle", rules)
        return {"TransitionDefaultMinimumObjectSize": params.get("TransitionDefaultMinimumObjectSize")
                or "all_storage_classes_128K"}

    def get_bucket_lifecycle_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        rules = self.store.config(bucket.name, "lifecycle")
        if rules is None:
            raise ServiceError("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404,
                               fields={"BucketName": bucket.name})
        for rule in rules:
            if (rule.get("Expiration") or {}).get("Date"):
                rule["Expiration"]["Date"] = datetime.fromisoformat(rule["Expiration"]["Date"])
        return {"Rules": rules, "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K"}

    def delete_bucket_lifecycle(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        self.store.delete_config(bucket.name, "lifecycle")
        return {}

    # -- the worker ----------------------------------------------------------------------------
    def start_lifecycle_worker(self) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self._lifecycle_loop, args=(stop,), name="freehold-s3-lifecycle",
                                  daemon=True)
        self._lifecycle_stop, self._lifecycle_thread = stop, thread
        thread.start()

    def stop_lifecycle_worker(self) -> None:
        if self._lifecycle_stop is not None:
            self._lifecycle_stop.set()
        if self._lifecycle_thread is not None:
            self._lifecycle_thread.join(timeout=10)
        self._lifecycle_thread = self._lifecycle_stop = None

    def _lifecycle_loop(self, stop: threading.Event) -> None:
        interval = lifecycle_interval()
        while not stop.wait(interval):
            try:
                self.apply_lifecycle(now())
            except Exception:  # one failed pass must not end the worker
                log.exception("lifecycle pass failed")

    def apply_lifecycle(self, moment: float) -> int:
        """One pass over every bucket with a lifecycle configuration; how many things it removed."""
        done = 0
        for bucket_name, rules in self.store.configs_of_kind("lifecycle"):
            bucket = self.store.bucket(bucket_name)
            if bucket is None:
                continue
            for rule in rules:
                if rule.get("Status") == "Enabled":
                    done += self._apply_lifecycle_rule(bucket, rule, moment)
        return done

    def _apply_lifecycle_rule(self, bucket: Bucket, rule: dict[str, Any], moment: float) -> int:
        done = 0
        expiration = rule.get("Expiration") or {}
        cutoff: float | None = None
        if "Days" in expiration:
            cutoff = moment - int(expiration["Days"]) * DAY
        elif "Date" in expiration and datetime.fromisoformat(expiration["Date"]).timestamp() <= moment:
            cutoff = moment
        prefix = _prefix(rule)
        if cutoff is not None:
            for obj in self.store.list_latest(bucket.name, prefix, True, None, BATCH):
                if not obj.key.startswith(prefix):
                    break
                if obj.last_modified <= cutoff and _matches(rule, obj):
                    self._expire(bucket, obj)
                    done += 1
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        if "NoncurrentDays" in noncurrent:
            limit = moment - int(noncurrent["NoncurrentDays"]) * DAY
            newer: dict[str, float] = {}
            for obj in self.store.list_versions(bucket.name, prefix, True, None, None, BATCH):
                if not obj.key.startswith(prefix):
                    break
                # A version becomes noncurrent when the next newer one is written.
                became_noncurrent = newer.get(obj.key)
                newer[obj.key] = obj.last_modified
                if not obj.is_latest and became_noncurrent is not None and became_noncurrent <= limit \
                        and _matches(rule, obj):
                    removed = self.store.delete_version(bucket.name, obj.key, obj.version_id)
                    if removed is not None:
                        self.free_blobs([blob for blob, _ in removed.segments])
                        done += 1
        abort = rule.get("AbortIncompleteMultipartUpload") or {}
        if "DaysAfterInitiation" in abort:
            started_before = moment - int(abort["DaysAfterInitiation"]) * DAY
            for upload in self.store.uploads(bucket.name, prefix, "", None, BATCH):
                if upload.key.startswith(prefix) and upload.initiated <= started_before:
                    self.free_blobs(self.store.finish_upload(upload.upload_id))
                    done += 1
        return done

    def _expire(self, bucket: Bucket, obj: ObjectVersion) -> None:
        fresh = self.store.bucket(bucket.name)
        if fresh is None:
            return
        if not fresh.versioning:
            removed = self.store.delete_version(bucket.name, obj.key, obj.version_id)
            if removed is not None:
                self.free_blobs([blob for blob, _ in removed.segments])
            return
        marker = ObjectVersion(bucket=bucket.name, key=obj.key, version_id="", seq=0, is_latest=True,
                               delete_marker=True, size=0, etag="", last_modified=now())
        self.free_blobs(self.store.put(marker, fresh.versioning))

