"""S3 buckets through boto3: create (LocationConstraint rules), head, list with pagination,
delete (BucketNotEmpty), tagging, ownership controls, public access block, ACLs, policy, CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of, unique


def test_create_head_locate_and_delete(s3: Any) -> None:
    name = unique()
    answer = s3.create_bucket(Bucket=name)
    assert answer["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    # us-east-1 answers a repeated create of one's own bucket with success (legacy behaviour).
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=name)
    assert error_of(excinfo)[2] == 404
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=name)
    assert error_of(excinfo) == ("NoSuchBucket", "The specified bucket does not exist", 404)
    assert excinfo.value.response["Error"]["BucketName"] == name


@pytest.mark.parametrize("name", ["ab", "UPPER-case", "a..b", "192.168.1.1", "-leading", "x" * 64, "under_score"])
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=name)
    code, message, status = error_of(excinfo)
    # botocore itself refuses some names before sending them; the rest are the server's.
    assert (code, message, status) == ("InvalidBucketName", "The specified bucket is not valid.", 400)


def test_location_constraint_rules(s3: Any, freehold: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=unique(), CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error_of(excinfo) == ("InvalidLocationConstraint", "The specified location-constraint is not valid", 400)
    # The us-east-1 endpoint accepts another region's constraint.
    name = unique()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    regional = freehold.client("s3", region="eu-central-1")
    with pytest.raises(ClientError) as excinfo:
        regional.create_bucket(Bucket=unique())
    assert error_of(excinfo) == (
        "IllegalLocationConstraintException",
        "The unspecified location constraint is incompatible for the region specific endpoint this request was "
        "sent to.", 400,
    )
    with pytest.raises(ClientError) as excinfo:
        regional.create_bucket(Bucket=unique(), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_of(excinfo)[0] == "IllegalLocationConstraintException"
    assert "The eu-west-1 location constraint" in error_of(excinfo)[1]
    ok = unique()
    regional.create_bucket(Bucket=ok, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    with pytest.raises(ClientError) as excinfo:
        regional.create_bucket(Bucket=ok, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert error_of(excinfo)[:3] == (
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.", 409,
    )


def test_bucket_names_are_global_across_accounts(s3: Any, freehold: Any) -> None:
    name = unique()
    s3.create_bucket(Bucket=name)
    other = freehold.client("s3", aws_access_key_id="111122223333", aws_secret_access_key="x")
    with pytest.raises(ClientError) as excinfo:
        other.create_bucket(Bucket=name)
    assert error_of(excinfo)[0] == "BucketAlreadyExists"
    assert error_of(excinfo)[2] == 409
    with pytest.raises(ClientError) as excinfo:
        other.head_bucket(Bucket=name)
    assert error_of(excinfo)[2] == 403
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]


def test_list_buckets_paginates(freehold: Any) -> None:
    client = freehold.client("s3", aws_access_key_id="222233334444", aws_secret_access_key="x")
    names = sorted(unique("page") for _ in range(5))
    for name in names:
        client.create_bucket(Bucket=name)
    first = client.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == names[:2]
    assert first["Buckets"][0]["BucketRegion"] == "us-east-1"
    assert first["Owner"]["ID"]
    seen = [b["Name"] for page in client.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2})
            for b in page["Buckets"]]
    assert seen == names
    assert [b["Name"] for b in client.list_buckets(Prefix=names[3][:10])["Buckets"]] == [
        n for n in names if n.startswith(names[3][:10])
    ]
    with pytest.raises(ClientError) as excinfo:
        client.list_buckets(ContinuationToken="%%%not-a-token")
    assert error_of(excinfo)[0] == "InvalidArgument"


def test_delete_non_empty_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(excinfo) == ("BucketNotEmpty", "The bucket you tried to delete is not empty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchTagSet", "The TagSet does not exist", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "dev"},
                                                             {"Key": "team", "Value": ""}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "env", "Value": "dev"},
                                                              {"Key": "team", "Value": ""}]
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert error_of(excinfo) == ("InvalidTag", "Cannot provide multiple Tags with the same key", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "aws:x", "Value": "1"}]})
    assert error_of(excinfo)[0] == "InvalidTag"
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


def test_ownership_controls_and_public_access_block(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_of(excinfo) == ("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.get_public_access_block(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchPublicAccessBlockConfiguration",
                                 "The public access block configuration was not found", 404)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    assert any(g["Grantee"].get("URI") == "http://acs.amazonaws.com/groups/global/AllUsers" for g in grants)
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert error_of(excinfo) == ("OwnershipControlsNotFoundError", "The bucket ownership controls were not found", 404)


def test_create_with_acl_needs_acls_enabled(s3: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=unique(), ACL="public-read")
    assert error_of(excinfo) == ("InvalidBucketAclWithObjectOwnership",
                                 "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
    name = unique()
    s3.create_bucket(Bucket=name, ACL="private", ObjectOwnership="ObjectWriter")
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == \
        "ObjectWriter"


def test_bucket_policy_is_validated_and_stored(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchBucketPolicy", "The bucket policy does not exist", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_policy(Bucket=bucket, Policy="not json")
    assert error_of(excinfo) == ("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
    foreign = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::some-other-bucket/*"}]}
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(foreign))
    assert error_of(excinfo) == ("MalformedPolicy", "Policy has invalid resource", 400)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    with pytest.raises(ClientError) as excinfo:  # BlockPublicPolicy is on by default
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert error_of(excinfo)[:3] == ("AccessDenied", "Access Denied", 403)
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def test_cors_configuration(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404)
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://app.example.com"],
              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]})
    assert error_of(excinfo) == (
        "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is PATCH", 400)
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_versioning_state_and_encryption_default(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_operations_on_a_missing_bucket(s3: Any) -> None:
    name = unique("missing")
    for call in (lambda: s3.list_objects_v2(Bucket=name), lambda: s3.put_object(Bucket=name, Key="k", Body=b"x"),
                 lambda: s3.get_bucket_tagging(Bucket=name), lambda: s3.get_object(Bucket=name, Key="k")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("NoSuchBucket", "The specified bucket does not exist", 404)
