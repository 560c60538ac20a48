"""A bucket's configuration documents: tagging, ownership controls, public access block, ACL,
policy, CORS, default encryption. Each is stored as one document per (bucket, kind); Get of a
missing one answers S3's own NoSuch... error.
"""

from __future__ import annotations

import json
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.s3.core import S3Core, owner
from freehold.services.s3.models import invalid_request, malformed_xml

CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")
CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

NOT_FOUND: dict[str, tuple[str, str]] = {
    "tagging": ("NoSuchTagSet", "The TagSet does not exist"),
    "ownership": ("OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
    "public_access_block": ("NoSuchPublicAccessBlockConfiguration",
                            "The public access block configuration was not found"),
    "policy": ("NoSuchBucketPolicy", "The bucket policy does not exist"),
    "cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
}


def check_tag_set(tags: list[dict[str, str]], limit: int = 50) -> dict[str, str]:
    """S3's tag rules; returns the tags as a dict."""
    result: dict[str, str] = {}
    if len(tags) > limit:
        raise ServiceError("BadRequest", f"Object tags cannot be greater than {limit}" if limit == 10 else
                           "Bucket tag count cannot be greater than 50", 400)
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if key in result:
            raise ServiceError("InvalidTag", "Cannot provide multiple Tags with the same key", 400,
                               fields={"TagKey": key})
        if not key or len(key) > 128:
            raise ServiceError("InvalidTag", "The TagKey you have provided is invalid", 400, fields={"TagKey": key})
        if len(value) > 256:
            raise ServiceError("InvalidTag", "The TagValue you have provided is too long, max length is 256", 400,
                               fields={"TagKey": key, "TagValue": value})
        if key.lower().startswith("aws:"):
            raise ServiceError("InvalidTag", "System tags cannot be added/updated by requester", 400)
        result[key] = value
    return result


def canned_grants(acl: str, account_id: str) -> list[dict[str, Any]]:
    """The grants a canned ACL stands for
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl)."""
    me = {"Grantee": {**owner(account_id), "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
    grants = [me]
    if acl in ("public-read", "public-read-write"):
        grants.append({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"})
    if acl == "public-read-write":
        grants.append({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "WRITE"})
    if acl == "authenticated-read":
        grants.append({"Grantee": {"Type": "Group", "URI": AUTHENTICATED_USERS}, "Permission": "READ"})
    return grants


def acl_from_policy(policy: dict[str, Any]) -> str:
    """The canned ACL an AccessControlPolicy amounts to (what anonymous access is judged by)."""
    permissions = {
        g.get("Permission") for g in policy.get("Grants") or [] if (g.get("Grantee") or {}).get("URI") == ALL_USERS
    }
    if "WRITE" in permissions or "FULL_CONTROL" in permissions:
        return "public-read-write"
    return "public-read" if "READ" in permissions else "private"


class BucketConfigOperations(S3Core):
    def _get_config(self, ctx: RequestContext, bucket_name: str, kind: str) -> Any:
        bucket = self.bucket_of(ctx, bucket_name)
        document = self.store.config(bucket.name, kind)
        if document is None:
            code, message = NOT_FOUND[kind]
            raise ServiceError(code, message, 404, fields={"BucketName": bucket.name})
        return document

    def _put_config(self, ctx: RequestContext, bucket_name: str, kind: str, document: Any) -> Params:
        bucket = self.bucket_of(ctx, bucket_name)
        self.store.put_config(bucket.name, kind, document)
        return {}

    def _delete_config(self, ctx: RequestContext, bucket_name: str, kind: str) -> Params:
        bucket = self.bucket_of(ctx, bucket_name)
        self.store.delete_config(bucket.name, kind)
        return {}

    # -- tagging -------------------------------------------------------------------------------
    def put_bucket_tagging(self, ctx: RequestContext, params: Params) -> Params:
        tags = check_tag_set((params.get("Tagging") or {}).get("TagSet") or [])
        return self._put_config(ctx, params["Bucket"], "tagging", tags)

    def get_bucket_tagging(self, ctx: RequestContext, params: Params) -> Params:
        tags = self._get_config(ctx, params["Bucket"], "tagging")
        return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}

    def delete_bucket_tagging(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "tagging")

    # -- ownership controls and public access block --------------------------------------------
    def put_bucket_ownership_controls(self, ctx: RequestContext, params: Params) -> Params:
        rules = (params.get("OwnershipControls") or {}).get("Rules") or []
        if len(rules) != 1 or rules[0].get("ObjectOwnership") not in (
            "BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"
        ):
            raise malformed_xml()
        return self._put_config(ctx, params["Bucket"], "ownership", {"Rules": rules})

    def get_bucket_ownership_controls(self, ctx: RequestContext, params: Params) -> Params:
        return {"OwnershipControls": self._get_config(ctx, params["Bucket"], "ownership")}

    def delete_bucket_ownership_controls(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "ownership")

    def put_public_access_block(self, ctx: RequestContext, params: Params) -> Params:
        config = params.get("PublicAccessBlockConfiguration") or {}
        document = {name: bool(config.get(name, False)) for name in (
            "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
        return self._put_config(ctx, params["Bucket"], "public_access_block", document)

    def get_public_access_block(self, ctx: RequestContext, params: Params) -> Params:
        return {"PublicAccessBlockConfiguration": self._get_config(ctx, params["Bucket"], "public_access_block")}

    def delete_public_access_block(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "public_access_block")

    # -- ACL -----------------------------------------------------------------------------------
    def put_bucket_acl(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        acl = params.get("ACL")
        policy = params.get("AccessControlPolicy")
        if acl is None and policy is None:
            raise ServiceError("MissingSecurityHeader", "Your request was missing a required header", 400,
                               fields={"MissingHeaderName": "x-amz-acl"})
        canned = acl if acl is not None else acl_from_policy(policy or {})
        ownership = (self.store.config(bucket.name, "ownership") or {}).get("Rules", [{}])[0].get("ObjectOwnership")
        if ownership == "BucketOwnerEnforced" and canned not in ("private", "bucket-owner-full-control"):
            raise ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
        blocked = self.store.config(bucket.name, "public_access_block") or {}
        if canned.startswith("public") and blocked.get("BlockPublicAcls"):
            raise ServiceError("AccessDenied", "Access Denied", 403)
        self.store.put_config(bucket.name, "acl", canned)
        return {}

    def get_bucket_acl(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        acl = self.store.config(bucket.name, "acl") or "private"
        return {"Owner": owner(bucket.account_id), "Grants": canned_grants(acl, bucket.account_id)}

    # -- policy --------------------------------------------------------------------------------
    def put_bucket_policy(self, ctx: RequestContext, params: Params) -> Params:
        text = params.get("Policy") or ""
        check_bucket_policy(text, params["Bucket"])
        blocked = self.store.config(params["Bucket"], "public_access_block") or {}
        if blocked.get("BlockPublicPolicy") and _is_public(json.loads(text)):
            self.bucket_of(ctx, params["Bucket"])
            raise ServiceError("AccessDenied", "Access Denied", 403)
        return self._put_config(ctx, params["Bucket"], "policy", text)

    def get_bucket_policy(self, ctx: RequestContext, params: Params) -> Params:
        return {"Policy": self._get_config(ctx, params["Bucket"], "policy")}

    def delete_bucket_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "policy")

    def get_bucket_policy_status(self, ctx: RequestContext, params: Params) -> Params:
        text = self._get_config(ctx, params["Bucket"], "policy")
        return {"PolicyStatus": {"IsPublic": _is_public(json.loads(text))}}

    # -- CORS ----------------------------------------------------------------------------------
    def put_bucket_cors(self, ctx: RequestContext, params: Params) -> Params:
        rules = (params.get("CORSConfiguration") or {}).get("CORSRules") or []
        if not rules or len(rules) > 100:
            raise malformed_xml()
        for rule in rules:
            if not rule.get("AllowedMethods") or not rule.get("AllowedOrigins"):
                raise malformed_xml()
            for method in rule["AllowedMethods"]:
                if method not in CORS_METHODS:
                    raise invalid_request(f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
            for origin in rule["AllowedOrigins"]:
                if origin.count("*") > 1:
                    raise invalid_request(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        return self._put_config(ctx, params["Bucket"], "cors", rules)

    def get_bucket_cors(self, ctx: RequestContext, params: Params) -> Params:
        return {"CORSRules": self._get_config(ctx, params["Bucket"], "cors")}

    def delete_bucket_cors(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "cors")

    # -- default encryption (SSE-S3 is always on, as on AWS since January 2023) ---------------
    def get_bucket_encryption(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        rules = self.store.config(bucket.name, "encryption") or [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
        ]
        return {"ServerSideEncryptionConfiguration": {"Rules": rules}}

    def put_bucket_encryption(self, ctx: RequestContext, params: Params) -> Params:
        rules = (params.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
        if not rules:
            raise malformed_xml()
        return self._put_config(ctx, params["Bucket"], "encryption", rules)

    def delete_bucket_encryption(self, ctx: RequestContext, params: Params) -> Params:
        return self._delete_config(ctx, params["Bucket"], "encryption")


def check_bucket_policy(text: str, bucket: str) -> None:
    """A bucket policy must be JSON with a Statement list whose entries have Effect, Action,
    Principal and Resources inside the bucket (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html)."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not text.lstrip().startswith("{"):
        raise ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise ServiceError("MalformedPolicy", "Missing required field Statement", 400)
    for statement in statements:
        if not isinstance(statement, dict):
            raise ServiceError("MalformedPolicy", "Statement is not a JSON object", 400)
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise ServiceError("MalformedPolicy", "Invalid effect: " + str(statement.get("Effect")), 400)
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise ServiceError("MalformedPolicy", "Missing required field Principal", 400)
        if "Action" not in statement and "NotAction" not in statement:
            raise ServiceError("MalformedPolicy", "Missing required field Action", 400)
        resources = statement.get("Resource", statement.get("NotResource"))
        if resources is None:
            raise ServiceError("MalformedPolicy", "Missing required field Resource", 400)
        for resource in [resources] if isinstance(resources, str) else resources:
            arn = str(resource)
            if not (arn == f"arn:aws:s3:::{bucket}" or arn.startswith(f"arn:aws:s3:::{bucket}/")):
                raise ServiceError("MalformedPolicy", "Policy has invalid resource", 400)


def _is_public(document: dict[str, Any]) -> bool:
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements or []
    for statement in statements:
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow" and (
            principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))
        ) and not statement.get("Condition"):
            return True
    return False
