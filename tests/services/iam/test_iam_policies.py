"""Managed policies, their versions and attachments, groups and OIDC providers, through boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_helpers import S3_READ, TRUST_LAMBDA, error_of, unique


def _document(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def test_customer_policy_lifecycle(iam: Any) -> None:
    name = unique("policy")
    created = iam.create_policy(PolicyName=name, Path="/app/", PolicyDocument=json.dumps(S3_READ),
                                Description="reads", Tags=[{"Key": "a", "Value": "b"}])["Policy"]
    arn = f"arn:aws:iam::000000000000:policy/app/{name}"
    assert created["Arn"] == arn and created["PolicyId"].startswith("ANPA")
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    assert created["IsAttachable"] is True and "Description" not in created
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "reads" and got["Tags"] == [{"Key": "a", "Value": "b"}]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == S3_READ and version["IsDefaultVersion"] is True

    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(S3_READ))
    assert error_of(excinfo) == (
        "EntityAlreadyExists", f"A policy called {name} already exists. Duplicate names are not allowed.", 409)

    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy(PolicyArn=arn)
    assert error_of(excinfo) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_policy_versions(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=unique("versions"), PolicyDocument=_document("s3:GetObject"))["Policy"]["Arn"]
    for i in range(2, 6):
        made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document(f"s3:Put{i}"),
                                         SetAsDefault=(i == 3))["PolicyVersion"]
        assert made["VersionId"] == f"v{i}" and "Document" not in made
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document("s3:Put6"))
    assert error_of(excinfo) == ("LimitExceeded", "A managed policy can have up to 5 versions. Before you create a "
                                 "new version, you must delete an existing version.", 409)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    # Version ids keep counting up after a delete.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document("s3:X"))["PolicyVersion"]["VersionId"] == "v6"
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_of(excinfo) == ("NoSuchEntity", f"Policy {arn} version v2 does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as excinfo:
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v9")
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v6")
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v6")["PolicyVersion"]["IsDefaultVersion"] is True

    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(excinfo)[0:2] == ("DeleteConflict", "This policy has more than one version. Before you delete a "
                                      "policy, you must delete the policy's versions. The default version is deleted "
                                      "with the policy.")
    for version_id in ("v1", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    iam.delete_policy(PolicyArn=arn)


def test_aws_managed_policies_are_built_in(iam: Any) -> None:
    arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["PolicyName"] == "AWSLambdaBasicExecutionRole" and policy["Path"] == "/service-role/"
    document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    assert document["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    aws_names = [p["PolicyName"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]]
    assert {"AdministratorAccess", "AWSLambdaBasicExecutionRole", "AmazonS3ReadOnlyAccess"} <= set(aws_names)
    assert all(p["Arn"].startswith("arn:aws:iam::aws:") for p in iam.list_policies(Scope="AWS")["Policies"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_list_policies_scope_and_only_attached(iam: Any) -> None:
    prefix = f"/{unique('scope')}/"
    names = sorted(unique(f"lp{i}") for i in range(3))
    arns = [iam.create_policy(PolicyName=n, Path=prefix, PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
            for n in names]
    local = iam.list_policies(Scope="Local", PathPrefix=prefix)
    assert [p["PolicyName"] for p in local["Policies"]] == names
    paged = iam.get_paginator("list_policies").paginate(
        Scope="Local", PathPrefix=prefix, PaginationConfig={"PageSize": 1})
    assert [p["PolicyName"] for page in paged for p in page["Policies"]] == names
    role = unique("attacher")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.attach_role_policy(RoleName=role, PolicyArn=arns[1])
    attached = iam.list_policies(Scope="Local", PathPrefix=prefix, OnlyAttached=True)["Policies"]
    assert [(p["PolicyName"], p["AttachmentCount"]) for p in attached] == [(names[1], 1)]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=arns[1])
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)


def test_list_entities_for_policy(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=unique("shared"), PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    user, role, group = unique("eu"), unique("er"), unique("eg")
    iam.create_user(UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.create_group(GroupName=group)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*"}}),
         "Policy statement must contain resources."),
        (json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*"}}),
         "Policy statement must contain actions."),
        (json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
         "Policy document must be version 2012-10-17 or greater."),
        (json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                                           "Principal": "*"}}),
         "Policy document should not specify a principal."),
        (json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "GetObject", "Resource": "*"}}),
         "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}}),
         'Resource bucket must be in ARN format or "*".'),
    ],
)
def test_malformed_identity_policies(iam: Any, document: str, message: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=unique("bad"), PolicyDocument=document)
    assert error_of(excinfo) == ("MalformedPolicyDocument", message, 400)


def test_policy_tags(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=unique("tagged"), PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "x", "Value": "1"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["nothing"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "x", "Value": "1"}]


def test_groups(iam: Any) -> None:
    group, user = unique("group"), unique("member")
    created = iam.create_group(GroupName=group, Path="/g/")["Group"]
    assert created["GroupId"].startswith("AGPA") and created["Arn"].endswith(f":group/g/{group}")
    with pytest.raises(ClientError) as excinfo:
        iam.create_group(GroupName=group)
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Group with name {group} already exists.", 409)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user] and got["IsTruncated"] is False
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=json.dumps(S3_READ))
    assert iam.get_group_policy(GroupName=group, PolicyName="p")["PolicyDocument"] == S3_READ
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as excinfo:
        iam.remove_user_from_group(GroupName=group, UserName=user)
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {user} cannot be found.", 404)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_group_policy(GroupName=group, PolicyName="p")
    renamed = unique("group2")
    iam.update_group(GroupName=group, NewGroupName=renamed)
    assert renamed in [g["GroupName"] for g in iam.list_groups(PathPrefix="/g/")["Groups"]]
    iam.delete_group(GroupName=renamed)
    with pytest.raises(ClientError) as excinfo:
        iam.get_group(GroupName=renamed)
    assert error_of(excinfo) == ("NoSuchEntity", f"The group with name {renamed} cannot be found.", 404)


def test_open_id_connect_providers(iam: Any) -> None:
    host = f"{unique('idp')}.example.com"
    url = f"https://{host}/tenant"
    arn = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=["app-1"], ThumbprintList=["a" * 40], Tags=[{"Key": "k", "Value": "v"}],
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::000000000000:oidc-provider/{host}/tenant"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == f"{host}/tenant"  # without the scheme, as AWS reports it
    assert got["ClientIDList"] == ["app-1"] and got["ThumbprintList"] == ["a" * 40]
    with pytest.raises(ClientError) as excinfo:
        iam.create_open_id_connect_provider(Url=url, ClientIDList=["x"])
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Provider with url {url} already exists.", 409)
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-1")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["b" * 40])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["app-2"] and got["ThumbprintList"] == ["b" * 40]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as excinfo:
        iam.create_open_id_connect_provider(Url="http://insecure.example.com", ClientIDList=["x"])
    assert error_of(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["c" * 40] * 6)
    assert error_of(excinfo) == ("InvalidInput", "Thumbprint list must contain fewer than 5 entries.", 400)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_of(excinfo) == ("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}", 404)


def test_policies_survive_restart(freehold: Any) -> None:
    iam = freehold.client("iam")
    arn = iam.create_policy(PolicyName=unique("kept"), PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document("sqs:*"), SetAsDefault=True)
    freehold.restart()
    iam = freehold.client("iam")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"] == json.loads(
        _document("sqs:*"))
