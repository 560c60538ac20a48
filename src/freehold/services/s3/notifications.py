"""Event notification configuration: validated and stored; delivery of the events comes with
the events issue (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html).

S3 checks each destination's ARN, event names and key filter rules (at most one prefix and one
suffix), and gives every configuration without an Id a generated one.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.services.base import Params
from freehold.services.s3.core import S3Core
from freehold.services.s3.models import invalid_argument

DESTINATIONS = {
    "TopicConfigurations": ("TopicArn", re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+")),
    "QueueConfigurations": ("QueueArn", re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+")),
    "LambdaFunctionConfigurations": (
        "LambdaFunctionArn", re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?"),
    ),
}
_EVENT = re.compile(
    r"s3:(ReducedRedundancyLostObject|ObjectCreated:(\*|Put|Post|Copy|CompleteMultipartUpload)|"
    r"ObjectRemoved:(\*|Delete|DeleteMarkerCreated)|ObjectRestore:(\*|Post|Completed|Delete)|"
    r"Replication:(\*|OperationFailedReplication|OperationNotTracked|OperationMissedThreshold|"
    r"OperationReplicatedAfterThreshold)|LifecycleTransition|IntelligentTiering|ObjectAcl:Put|"
    r"LifecycleExpiration:(\*|Delete|DeleteMarkerCreated)|ObjectTagging:(\*|Put|Delete))"
)


def check_notification(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as stored (Ids filled in); S3's InvalidArgument for a bad entry."""
    stored: dict[str, Any] = {}
    for kind, (arn_member, pattern) in DESTINATIONS.items():
        entries = []
        for entry in config.get(kind) or []:
            arn = entry.get(arn_member) or ""
            if not pattern.fullmatch(arn):
                raise invalid_argument("The ARN is not well formed", arn_member, arn)
            events = entry.get("Events") or []
            if not events:
                raise invalid_argument("A specified event is not supported for notifications.", "Event", "")
            for event in events:
                if not _EVENT.fullmatch(event):
                    raise invalid_argument("The event is not supported for notifications", "Event", event)
            rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            names = [str(r.get("Name", "")).lower() for r in rules]
            if any(n not in ("prefix", "suffix") for n in names):
                raise invalid_argument("filter rule name must be either prefix or suffix", "FilterRule.Name",
                                       ",".join(names))
            if len(set(names)) != len(names):
                raise invalid_argument("Cannot specify more than one prefix rule in a filter." if
                                       names.count("prefix") > 1 else
                                       "Cannot specify more than one suffix rule in a filter.", "FilterRule.Name",
                                       ",".join(names))
            entries.append({**entry, "Id": entry.get("Id") or str(uuid.uuid4())})
        if entries:
            stored[kind] = entries
    if "EventBridgeConfiguration" in config:
        stored["EventBridgeConfiguration"] = {}
    return stored


class NotificationOperations(S3Core):
    def put_bucket_notification_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        stored = check_notification(params.get("NotificationConfiguration") or {})
        self.store.put_config(bucket.name, "notification", stored)
        return {}

    def get_bucket_notification_configuration(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        return dict(self.store.config(bucket.name, "notification") or {})
