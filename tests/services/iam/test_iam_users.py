"""IAM users and access keys through boto3 against a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_helpers import S3_READ, error_of, unique


def test_create_get_update_delete_user(iam: Any) -> None:
    name = unique("alice")
    created = iam.create_user(UserName=name, Path="/team/", Tags=[{"Key": "env", "Value": "dev"}])["User"]
    assert created["UserName"] == name
    assert created["Path"] == "/team/"
    assert created["Arn"] == f"arn:aws:iam::000000000000:user/team/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Tags"] == [{"Key": "env", "Value": "dev"}]

    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == created["UserId"]
    assert got["CreateDate"] == created["CreateDate"]

    renamed = unique("alice2")
    iam.update_user(UserName=name, NewUserName=renamed, NewPath="/ops/")
    got = iam.get_user(UserName=renamed)["User"]
    assert got["Arn"] == f"arn:aws:iam::000000000000:user/ops/{renamed}"
    assert got["UserId"] == created["UserId"]
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {name} cannot be found.", 404)

    iam.delete_user(UserName=renamed)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=renamed)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_user_names_are_unique_without_regard_to_case(iam: Any) -> None:
    name = unique("Bob")
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName=name.upper())
    assert error_of(excinfo) == ("EntityAlreadyExists", f"User with name {name.upper()} already exists.", 409)
    # Lookups ignore case too.
    assert iam.get_user(UserName=name.lower())["User"]["UserName"] == name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"UserName": "bad name!"}, "1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy "
                                    "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
        ({"UserName": "x" * 65}, f"1 validation error detected: Value '{'x' * 65}' at 'userName' failed to satisfy "
                                 "constraint: Member must have length less than or equal to 64"),
        ({"UserName": "ok", "Path": "nope"}, "The specified value for path is invalid. It must begin and end with / "
                                             "and contain only alphanumeric characters and/or / characters."),
    ],
)
def test_invalid_user_input_is_a_validation_error(iam: Any, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(**kwargs)
    assert error_of(excinfo) == ("ValidationError", message, 400)


def test_list_users_paginates_with_marker_and_path_prefix(iam: Any) -> None:
    prefix = f"/{unique('page')}/"
    names = sorted(unique(f"u{i}") for i in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    assert first["IsTruncated"] is True and first["Marker"]
    assert "Tags" not in first["Users"][0]  # ListUsers leaves tags out, as AWS does
    second = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == names[2:4]
    third = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=second["Marker"])
    assert [u["UserName"] for u in third["Users"]] == names[4:]
    assert third["IsTruncated"] is False and "Marker" not in third
    # botocore's paginator drives the same Marker protocol.
    paged = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [u["UserName"] for page in paged for u in page["Users"]] == names
    with pytest.raises(ClientError) as excinfo:
        iam.list_users(MaxItems=1001)
    assert error_of(excinfo)[0] == "ValidationError"


def test_access_keys_lifecycle_and_quota(iam: Any, freehold: Any) -> None:
    name = unique("keys")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert first["AccessKeyId"][4:].isalnum() and first["AccessKeyId"][4:].upper() == first["AccessKeyId"][4:]
    assert len(first["SecretAccessKey"]) == 40
    assert first["Status"] == "Active" and first["UserName"] == name
    second = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as excinfo:
        iam.create_access_key(UserName=name)
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)

    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)

    never = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}

    # The key authenticates as the user.
    sts = freehold.client("sts", aws_access_key_id=first["AccessKeyId"], aws_secret_access_key=first["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::000000000000:user/{name}"
    # A user calling without UserName manages its own keys.
    as_user = freehold.client("iam", aws_access_key_id=first["AccessKeyId"], aws_secret_access_key=first["SecretAccessKey"])
    assert {k["AccessKeyId"] for k in as_user.list_access_keys()["AccessKeyMetadata"]} == {
        first["AccessKeyId"], second["AccessKeyId"]}
    assert as_user.get_user()["User"]["UserName"] == name

    iam.update_access_key(UserName=name, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[second["AccessKeyId"]] == "Inactive"
    with pytest.raises(ClientError) as excinfo:
        iam.update_access_key(UserName=name, AccessKeyId=second["AccessKeyId"], Status="Sleeping")
    assert error_of(excinfo)[0] == "ValidationError"

    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
    iam.delete_access_key(UserName=name, AccessKeyId=first["AccessKeyId"])
    iam.delete_access_key(UserName=name, AccessKeyId=second["AccessKeyId"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_access_key(UserName=name, AccessKeyId=second["AccessKeyId"])
    assert error_of(excinfo) == (
        "NoSuchEntity", f"The Access Key with id {second['AccessKeyId']} cannot be found", 404)
    iam.delete_user(UserName=name)


def test_user_inline_and_attached_policies_block_deletion(iam: Any) -> None:
    name = unique("pol")
    iam.create_user(UserName=name)
    document = json.dumps(S3_READ)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=document)
    got = iam.get_user_policy(UserName=name, PolicyName="read")
    assert got["PolicyDocument"] == S3_READ  # botocore URL-decodes and parses it
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["read"]
    with pytest.raises(ClientError) as excinfo:
        iam.get_user_policy(UserName=name, PolicyName="nope")
    assert error_of(excinfo) == ("NoSuchEntity", "The user policy with name nope cannot be found.", 404)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_user_policy(UserName=name, PolicyName="read")

    arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == [
        {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": arn}]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.detach_user_policy(UserName=name, PolicyArn=arn)
    assert error_of(excinfo) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    iam.delete_user(UserName=name)


def test_user_policy_size_quota(iam: Any) -> None:
    name = unique("big")
    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 1900}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=document)
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=name, PolicyName="two", PolicyDocument=document)
    assert error_of(excinfo) == ("LimitExceeded", f"Maximum policy size of 2048 bytes exceeded for user {name}", 409)


def test_user_tags(iam: Any) -> None:
    name = unique("tags")
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "Team", "Value": "a"}, {"Key": "cost", "Value": "1"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "b"}])  # keys are case-insensitive
    assert iam.list_user_tags(UserName=name)["Tags"] == [
        {"Key": "cost", "Value": "1"}, {"Key": "Team", "Value": "b"}]
    iam.untag_user(UserName=name, TagKeys=["TEAM"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "cost", "Value": "1"}]
    with pytest.raises(ClientError) as excinfo:
        iam.tag_user(UserName=name, Tags=[{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}])
    assert error_of(excinfo) == (
        "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400)
    with pytest.raises(ClientError) as excinfo:
        iam.tag_user(UserName=unique("ghost"), Tags=[{"Key": "k", "Value": "1"}])
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_users_survive_restart(freehold: Any) -> None:
    iam = freehold.client("iam")
    name = unique("durable")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    freehold.restart()
    iam = freehold.client("iam")
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    sts = freehold.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
