"""STS through boto3 against a live server: caller identity, AssumeRole, GetSessionToken,
GetFederationToken, AssumeRoleWithWebIdentity and GetAccessKeyInfo."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: dict[str, Any] = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def trust(principal: dict[str, Any], action: str = "sts:AssumeRole") -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Principal": principal, "Action": action}]})


def client_for(freehold: Any, service: str, credentials: dict[str, Any]) -> Any:
    return freehold.client(
        service, aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


@pytest.fixture(scope="module")
def sts(freehold: Any) -> Any:
    return freehold.client("sts")


@pytest.fixture(scope="module")
def iam(freehold: Any) -> Any:
    return freehold.client("iam")


def test_caller_identity_of_root(sts: Any, freehold: Any) -> None:
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    # A key of exactly 12 digits acts as that account's root.
    other = freehold.client("sts", aws_access_key_id="111122223333", aws_secret_access_key="x")
    assert other.get_caller_identity()["Arn"] == "arn:aws:iam::111122223333:root"


def test_assume_role_issues_working_credentials(sts: Any, iam: Any, freehold: Any) -> None:
    name = unique("app")
    role = iam.create_role(RoleName=name, Path="/p/", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}),
                           MaxSessionDuration=7200)["Role"]
    before = datetime.now(UTC)
    result = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="worker@1", DurationSeconds=7200)
    credentials = result["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40 and len(credentials["SessionToken"]) > 100
    expires = credentials["Expiration"]
    assert timedelta(seconds=7190) < expires - before < timedelta(seconds=7210)
    assert result["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:worker@1",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/worker@1",  # no role path in it
    }
    identity = client_for(freehold, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/worker@1"
    assert identity["UserId"] == f"{role['RoleId']}:worker@1"

    # Role chaining: a role session may assume a role for at most an hour.
    chained = client_for(freehold, "sts", credentials)
    with pytest.raises(ClientError) as excinfo:
        chained.assume_role(RoleArn=role["Arn"], RoleSessionName="again", DurationSeconds=3601)
    assert error_of(excinfo) == ("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit "
                                 "for roles assumed by role chaining.", 400)
    assert chained.assume_role(RoleArn=role["Arn"], RoleSessionName="again")["Credentials"]["AccessKeyId"]


def test_assume_role_errors(sts: Any, iam: Any, freehold: Any) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}"
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=missing, RoleSessionName="s1")
    assert error_of(excinfo) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {missing}", 403)
    # The role must exist in the account the ARN names.
    name = unique("here")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{name}", RoleSessionName="s1")
    assert error_of(excinfo)[0] == "AccessDenied"
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert error_of(excinfo) == (
        "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400)
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn="not-an-arn-but-long-enough", RoleSessionName="s1")
    assert error_of(excinfo) == ("ValidationError", "Request ARN is invalid", 400)
    unchecked = freehold.client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as excinfo:
        unchecked.assume_role(RoleArn=arn, RoleSessionName="bad name")
    assert error_of(excinfo) == (
        "ValidationError",
        "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member "
        "must satisfy regular expression pattern: [\\w+=,.@-]*", 400)
    with pytest.raises(ClientError) as excinfo:
        unchecked.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=60)
    assert error_of(excinfo) == (
        "ValidationError",
        "1 validation error detected: Value '60' at 'durationSeconds' failed to satisfy constraint: Member must "
        "have value greater than or equal to 900", 400)
    with pytest.raises(ClientError) as excinfo:
        unchecked.assume_role(RoleArn=arn, RoleSessionName="x")
    assert error_of(excinfo)[1].endswith("Member must have length greater than or equal to 2")
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", Policy='{"Version": "2012-10-17"}')
    assert error_of(excinfo) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)


def test_session_token_and_federation(sts: Any, iam: Any, freehold: Any) -> None:
    user = unique("human")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = client_for(freehold, "sts", key)
    session = as_user.get_session_token(DurationSeconds=900)["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")
    with_session = client_for(freehold, "sts", session)
    assert with_session.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user}"
    with pytest.raises(ClientError) as excinfo:
        with_session.get_session_token()
    assert error_of(excinfo) == ("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)

    federated = as_user.get_federation_token(Name="guest")
    assert federated["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:guest", "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/guest"}
    assert client_for(freehold, "sts", federated["Credentials"]).get_caller_identity()["Arn"].endswith(
        ":federated-user/guest")

    # The root user's sessions last one hour at most.
    root_session = sts.get_session_token(DurationSeconds=7200)["Credentials"]
    remaining = root_session["Expiration"] - datetime.now(UTC)
    assert timedelta(seconds=3500) < remaining <= timedelta(seconds=3600)


def test_get_access_key_info(sts: Any, iam: Any) -> None:
    user = unique("info")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == ACCOUNT
    assert sts.get_access_key_info(AccessKeyId="AKIDNOTISSUEDBYUS00")["Account"] == ACCOUNT


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_assume_role_with_web_identity(freehold: Any, iam: Any) -> None:
    host = f"{unique('issuer')}.example.com"
    issuer = f"https://{host}"
    iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["my-app"], ThumbprintList=["0" * 40])
    name = unique("web")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(
        {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}, "sts:AssumeRoleWithWebIdentity"))["Role"]
    anonymous = freehold.client("sts", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    now = int(time.time())
    good = {"iss": issuer, "aud": "my-app", "sub": "user-42", "exp": now + 600, "iat": now}

    result = anonymous.assume_role_with_web_identity(
        RoleArn=role["Arn"], RoleSessionName="web", WebIdentityToken=_jwt(good))
    assert result["SubjectFromWebIdentityToken"] == "user-42"
    assert result["Provider"] == issuer and result["Audience"] == "my-app"
    assert result["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/web"
    identity = client_for(freehold, "sts", result["Credentials"]).get_caller_identity()
    assert identity["UserId"] == f"{role['RoleId']}:web"

    def failure(claims: dict[str, Any], token: str | None = None) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as excinfo:
            anonymous.assume_role_with_web_identity(
                RoleArn=role["Arn"], RoleSessionName="web", WebIdentityToken=token or _jwt(claims))
        return error_of(excinfo)

    assert failure({**good, "aud": "someone-else"}) == ("InvalidIdentityToken", "Incorrect token audience", 400)
    assert failure({**good, "iss": "https://unknown.example.org"}) == (
        "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://unknown.example.org", 400)
    expired = failure({**good, "exp": now - 10})
    assert expired[0] == "ExpiredTokenException" and expired[1].startswith("Token expired: current date/time")
    assert failure({}, token="definitely-not-a-jwt")[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as excinfo:
        anonymous.assume_role_with_web_identity(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{unique('nope')}", RoleSessionName="web", WebIdentityToken=_jwt(good))
    assert error_of(excinfo) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
    # Unsigned requests have no identity.
    with pytest.raises(ClientError) as excinfo:
        anonymous.get_caller_identity()
    assert error_of(excinfo)[0] == "MissingAuthenticationToken"


def test_issued_credentials_survive_restart(freehold: Any) -> None:
    iam = freehold.client("iam")
    name = unique("durable")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]
    credentials = freehold.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    freehold.kill9()
    freehold.start()
    identity = client_for(freehold, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1"
