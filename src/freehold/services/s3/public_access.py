"""What anonymous (unsigned) requests may do to a bucket until the IAM issue's policy evaluator
arrives: what a public canned ACL grants, and what bucket-policy statements granting `*` allow.

Only unconditional Allow statements for the principal `*` (or {"AWS": "*"}) count, with actions
and resources matched by IAM's wildcards; an explicit Deny for `*` wins. This is the slice of
policy evaluation that public buckets (websites, public/ prefixes) need.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

# The IAM action of each S3 operation an anonymous caller typically performs.
ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket", "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject", "GetObjectTagging": "s3:GetObjectTagging",
}
ACL_READS = {"GetObject", "HeadObject", "ListObjects", "ListObjectsV2", "HeadBucket"}


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(text).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.IGNORECASE)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))


def policy_allows_anonymous(policy_text: str | None, action: str, resource: str) -> bool:
    if not policy_text:
        return False
    try:
        document = json.loads(policy_text)
    except ValueError:
        return False
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements or []
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not _is_everyone(statement.get("Principal")):
            continue
        actions = _listed(statement.get("Action"))
        resources = _listed(statement.get("Resource"))
        if not any(_pattern(a).match(action) for a in actions):
            continue
        if not any(_pattern(r).match(resource) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow" and not statement.get("Condition"):
            allowed = True
    return allowed


def anonymous_allowed(acl: str | None, policy_text: str | None, bucket: str, operation: str, key: str | None) -> bool:
    """Whether an unsigned request may run `operation` (on `key`, if any) in the bucket."""
    if acl in ("public-read", "public-read-write") and operation in ACL_READS:
        return True
    if acl == "public-read-write" and operation in ("PutObject", "DeleteObject"):
        return True
    action = ACTIONS.get(operation)
    if action is None:
        return False
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None and action != "s3:ListBucket" else "")
    return policy_allows_anonymous(policy_text, action, resource)
