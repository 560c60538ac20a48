"""IAM roles, trust policies and instance profiles through boto3 against a live server."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from iam_helpers import S3_READ, TRUST_LAMBDA, error_of, unique


def test_role_lifecycle(iam: Any) -> None:
    name = unique("role")
    created = iam.create_role(
        RoleName=name, Path="/svc/", AssumeRolePolicyDocument=TRUST_LAMBDA, Description="d1",
        MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}],
    )["Role"]
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["Arn"] == f"arn:aws:iam::000000000000:role/svc/{name}"
    assert created["AssumeRolePolicyDocument"] == json.loads(TRUST_LAMBDA)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Description"] == "d1" and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "k", "Value": "v"}]
    assert role["RoleLastUsed"] == {}

    iam.update_role(RoleName=name, Description="d2", MaxSessionDuration=3600)
    assert iam.update_role_description(RoleName=name, Description="d3")["Role"]["Description"] == "d3"
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def test_policy_documents_come_back_url_encoded_verbatim(iam: Any) -> None:
    """AWS returns a policy document exactly as given (whitespace included), URL-encoded
    per RFC 3986; botocore decodes it. A client without that hook sees the encoded text."""
    name = unique("raw")
    document = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"Service": ' \
               '"ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]\n}'
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)
    raw: dict[str, Any] = {}

    def capture(http_response: Any, **_: Any) -> None:
        raw["body"] = http_response.content

    iam.meta.events.register("after-call.iam.GetRole", capture)
    try:
        iam.get_role(RoleName=name)
    finally:
        iam.meta.events.unregister("after-call.iam.GetRole", capture)
    body = raw["body"].decode()
    encoded = body.split("<AssumeRolePolicyDocument>")[1].split("</AssumeRolePolicyDocument>")[0]
    assert unquote(encoded) == document
    assert "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22" in encoded


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "This policy contains invalid Json"),
        (json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": "sts:AssumeRole",
             "Resource": "*"}]}), "Has prohibited field Resource"),
        (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
         "Missing required field Principal"),
        (json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": "s3:GetObject"}]}),
         "AssumeRole policy may only specify STS AssumeRole actions."),
        (json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:role/does-not-exist"},
             "Action": "sts:AssumeRole"}]}),
         'Invalid principal in policy: "AWS":"arn:aws:iam::000000000000:role/does-not-exist"'),
        (json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": []}, "Action": "sts:AssumeRole"}]}),
         "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
         "The passed in policy has a statement with no principals!"),
    ],
)
def test_malformed_trust_policies(iam: Any, document: str, message: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=document)
    assert error_of(excinfo) == ("MalformedPolicyDocument", message, 400)


def test_trust_policy_may_name_existing_principals(iam: Any) -> None:
    target = unique("target")
    target_arn = iam.create_role(RoleName=target, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [target_arn, "000000000000"]}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=unique("chained"), AssumeRolePolicyDocument=json.dumps(trust))


def test_role_input_limits(iam: Any, freehold: Any) -> None:
    unchecked = freehold.client("iam", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as excinfo:
        unchecked.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST_LAMBDA, MaxSessionDuration=100)
    assert error_of(excinfo)[0:2] == ("ValidationError", "1 validation error detected: Value '100' at "
                                      "'maxSessionDuration' failed to satisfy constraint: Member must have value "
                                      "greater than or equal to 3600")
    name = unique("dup")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=TRUST_LAMBDA)
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Role with name {name.upper()} already exists.", 409)
    long_trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": [f"s{i}.amazonaws.com" for i in range(150)]},
         "Action": "sts:AssumeRole"}]})
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("long"), AssumeRolePolicyDocument=long_trust)
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409)


def test_delete_role_conflicts(iam: Any) -> None:
    name = unique("busy")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    profile = unique("profile")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(S3_READ))

    def conflict() -> str:
        with pytest.raises(ClientError) as excinfo:
            iam.delete_role(RoleName=name)
        code, message, status = error_of(excinfo)
        assert (code, status) == ("DeleteConflict", 409)
        return message

    assert conflict() == "Cannot delete entity, must remove roles from instance profile first."
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=name)
    assert conflict() == "Cannot delete entity, must detach all policies first."
    iam.detach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert conflict() == "Cannot delete entity, must delete policies first."
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)


def test_list_roles_pages(iam: Any) -> None:
    prefix = f"/{unique('roles')}/"
    names = sorted(unique(f"r{i}") for i in range(3))
    for name in names:
        iam.create_role(RoleName=name, Path=prefix, AssumeRolePolicyDocument=TRUST_LAMBDA,
                        Tags=[{"Key": "t", "Value": "v"}])
    first = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == names[:2] and first["IsTruncated"]
    assert "Tags" not in first["Roles"][0] and "RoleLastUsed" not in first["Roles"][0]
    rest = iam.list_roles(PathPrefix=prefix, Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == names[2:] and not rest["IsTruncated"]


def test_role_policies_and_attachment_quota(iam: Any) -> None:
    name = unique("quota")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    arns = []
    for i in range(11):
        arns.append(iam.create_policy(PolicyName=unique(f"p{i}"), PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"])
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    iam.attach_role_policy(RoleName=name, PolicyArn=arns[0])  # attaching again is a no-op
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=name, PolicyArn=arns[10])
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    assert error_of(excinfo) == (
        "NoSuchEntity", "Policy arn:aws:iam::aws:policy/NoSuchPolicyAnywhere does not exist or is not attachable.", 404)
    listed = iam.list_attached_role_policies(RoleName=name, MaxItems=4)
    assert len(listed["AttachedPolicies"]) == 4 and listed["IsTruncated"]


def test_instance_profiles(iam: Any) -> None:
    role = unique("ip-role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    name = unique("ip")
    created = iam.create_instance_profile(InstanceProfileName=name, Path="/ip/")["InstanceProfile"]
    assert created["InstanceProfileId"].startswith("AIPA") and created["Roles"] == []
    assert created["Arn"] == f"arn:aws:iam::000000000000:instance-profile/ip/{name}"
    with pytest.raises(ClientError) as excinfo:
        iam.create_instance_profile(InstanceProfileName=name)
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Instance Profile {name} already exists.", 409)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    with pytest.raises(ClientError) as excinfo:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    for_role = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == [name]
    assert name in [p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/ip/")["InstanceProfiles"]]
    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "a", "Value": "1"}])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [{"Key": "a", "Value": "1"}]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error_of(excinfo) == (
        "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_instance_profile(InstanceProfileName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"Instance Profile {name} cannot be found.", 404)


def test_permissions_boundary(iam: Any) -> None:
    arn = "arn:aws:iam::aws:policy/PowerUserAccess"
    name = unique("bounded")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA, PermissionsBoundary=arn)["Role"]
    assert role["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] >= 1
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]
    with pytest.raises(ClientError) as excinfo:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary="arn:aws:iam::000000000000:policy/none")
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_roles_survive_restart(freehold: Any) -> None:
    iam = freehold.client("iam")
    name = unique("kept")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(S3_READ))
    freehold.restart()
    iam = freehold.client("iam")
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(TRUST_LAMBDA)
    assert iam.get_role_policy(RoleName=name, PolicyName="p")["PolicyDocument"] == S3_READ
