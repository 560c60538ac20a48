"""`--strict-auth` end to end, against live servers on SQLite and on PostgreSQL.

A strict node hands out one way in - the root key pair of account 000000000000 in
<data_dir>/root-credentials - and from there only the keys IAM and STS issue authenticate:
unknown keys, bad signatures, deleted keys and wrong session tokens get the service's own
errors. The expiry of temporary credentials (at least 15 minutes away) is tested at the
identity layer with `now` set (tests/unit/gateway/test_root_credentials.py), not here.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.server import TEST_KEY_ID, TEST_SECRET, FreeholdServer, root_pair

ROOT_ARN = "arn:aws:iam::000000000000:root"
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
TRUST_ACCOUNT = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "sts:AssumeRole"}],
})
NO_RETRIES = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60)


def credentials_file(server: FreeholdServer) -> Path:
    return server.data_dir / "root-credentials"


def root_client(server: FreeholdServer, service: str) -> Any:
    """A client whose credentials botocore itself loads from the root-credentials file."""
    core = botocore.session.Session()
    core.set_config_variable("credentials_file", str(credentials_file(server)))
    core.set_config_variable("config_file", os.devnull)
    session = boto3.Session(botocore_session=core, profile_name="freehold")
    return session.client(service, region_name="us-east-1", endpoint_url=server.endpoint_url, config=NO_RETRIES)


def client(server: FreeholdServer, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return server.client(service, aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


# --------------------------------------------------------------------------- the way in


def test_bootstrap_file_is_a_private_shared_credentials_file(freehold_strict: FreeholdServer) -> None:
    path = credentials_file(freehold_strict)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_id, secret = root_pair(freehold_strict)
    assert key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40
    log = freehold_strict.log()
    assert str(path.resolve()) in log and key_id in log
    assert secret not in log  # the location is printed, never the secret


def test_root_credentials_work_with_boto3(freehold_strict: FreeholdServer) -> None:
    identity = root_client(freehold_strict, "sts").get_caller_identity()
    assert identity["Arn"] == ROOT_ARN and identity["Account"] == "000000000000"
    assert identity["UserId"] == "000000000000"
    # Stored as IAM stores root keys: the root user sees it among its own access keys.
    keys = root_client(freehold_strict, "iam").list_access_keys()["AccessKeyMetadata"]
    assert root_pair(freehold_strict)[0] in {k["AccessKeyId"] for k in keys}


def test_aws_cli_with_the_bootstrap_profile(freehold_strict: FreeholdServer) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": freehold_strict.endpoint_url,
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file(freehold_strict)),
        "AWS_PROFILE": "freehold",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    aws = Path(sys.executable).parent / "aws"
    done = subprocess.run([str(aws), "sts", "get-caller-identity", "--output", "json"], env=env, check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == ROOT_ARN
    # And a key the server never issued is refused, with the CLI reporting AWS's error.
    del env["AWS_PROFILE"]
    env.update(AWS_ACCESS_KEY_ID=TEST_KEY_ID, AWS_SECRET_ACCESS_KEY=TEST_SECRET, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    refused = subprocess.run([str(aws), "sts", "get-caller-identity"], env=env, check=False,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "InvalidClientTokenId" in refused.stderr


# --------------------------------------------------------------------------- refusals


def test_unknown_keys_are_refused_with_each_protocols_error(freehold_strict: FreeholdServer) -> None:
    for key in (TEST_KEY_ID, "AKIAUNKNOWNKEY000001", "000000000000"):
        assert error_of(client(freehold_strict, "sts", key, TEST_SECRET).get_caller_identity) == (
            "InvalidClientTokenId", 403, INVALID_TOKEN)
        assert error_of(client(freehold_strict, "iam", key, TEST_SECRET).list_users) == (
            "InvalidClientTokenId", 403, INVALID_TOKEN)
        # A json service: coral's code, and 400.
        assert error_of(client(freehold_strict, "dynamodb", key, TEST_SECRET).list_tables) == (
            "UnrecognizedClientException", 400, INVALID_TOKEN)


def test_a_tampered_secret_does_not_match(freehold_strict: FreeholdServer) -> None:
    key_id, secret = root_pair(freehold_strict)
    tampered = ("A" if secret[0] != "A" else "B") + secret[1:]
    assert error_of(client(freehold_strict, "sts", key_id, tampered).get_caller_identity) == (
        "SignatureDoesNotMatch", 403, MISMATCH)
    code, status, _ = error_of(client(freehold_strict, "dynamodb", key_id, tampered).list_tables)
    assert (code, status) == ("InvalidSignatureException", 400)


def test_unsigned_requests_are_anonymous_not_root(freehold_strict: FreeholdServer) -> None:
    from botocore import UNSIGNED

    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=freehold_strict.endpoint_url,
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    code, status, _ = error_of(sts.get_caller_identity)
    assert (code, status) == ("MissingAuthenticationToken", 403)


# --------------------------------------------------------------------------- issued keys


def test_iam_user_keys_work_until_deleted(freehold_strict: FreeholdServer) -> None:
    iam = root_client(freehold_strict, "iam")
    name = unique("alice")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = client(freehold_strict, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    identity = as_user.get_caller_identity()
    assert identity["Arn"] == user["Arn"] == f"arn:aws:iam::000000000000:user/{name}"
    assert identity["UserId"] == user["UserId"]

    # The use is recorded (off the request path, so it may take a moment to land).
    deadline = time.monotonic() + 10
    last_used: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last_used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        if "LastUsedDate" in last_used:
            break
        time.sleep(0.1)
    assert last_used.get("ServiceName") == "sts" and last_used.get("Region") == "us-east-1", last_used

    # The user's own secret with a wrong byte does not match.
    secret = key["SecretAccessKey"]
    wrong = client(freehold_strict, "sts", key["AccessKeyId"], secret[:-1] + ("y" if secret.endswith("x") else "x"))
    assert error_of(wrong.get_caller_identity)[0] == "SignatureDoesNotMatch"

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_of(as_user.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert as_user.get_caller_identity()["Arn"] == user["Arn"]

    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(as_user.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    assert error_of(client(freehold_strict, "dynamodb", key["AccessKeyId"], key["SecretAccessKey"]).list_tables) == (
        "UnrecognizedClientException", 400, INVALID_TOKEN)


def _user_with_key(freehold_strict: FreeholdServer) -> tuple[str, dict[str, Any]]:
    iam = root_client(freehold_strict, "iam")
    name = unique("bob")
    iam.create_user(UserName=name)
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def test_assumed_role_credentials(freehold_strict: FreeholdServer) -> None:
    iam = root_client(freehold_strict, "iam")
    role_name = unique("app")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_ACCOUNT)["Role"]
    _, key = _user_with_key(freehold_strict)
    as_user = client(freehold_strict, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    assumed = as_user.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")

    as_role = client(freehold_strict, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    identity = as_role.get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role_name}/s1"
    assert identity["Arn"] == assumed["AssumedRoleUser"]["Arn"]

    wrong_token = client(freehold_strict, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                         creds["SessionToken"] + "x")
    assert error_of(wrong_token.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    no_token = client(freehold_strict, "sts", creds["AccessKeyId"], creds["SecretAccessKey"])
    assert error_of(no_token.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    wrong_json = client(freehold_strict, "dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"], "not-the-token")
    assert error_of(wrong_json.list_tables) == ("UnrecognizedClientException", 400, INVALID_TOKEN)
    tampered = client(freehold_strict, "sts", creds["AccessKeyId"], creds["SecretAccessKey"][::-1],
                      creds["SessionToken"])
    assert error_of(tampered.get_caller_identity)[0] == "SignatureDoesNotMatch"

    # As on AWS, the root user may not assume roles.
    code, status, message = error_of(root_client(freehold_strict, "sts").assume_role, RoleArn=role["Arn"],
                                     RoleSessionName="root-try")
    assert (code, status, message) == ("AccessDenied", 403, "Roles may not be assumed by root accounts.")


# --------------------------------------------------------------------------- durability


def test_bootstrap_pair_survives_restart_kill_9_and_reset(freehold_strict: FreeholdServer) -> None:
    before = root_pair(freehold_strict)
    name, key = _user_with_key(freehold_strict)

    freehold_strict.restart()
    assert root_pair(freehold_strict) == before
    assert root_client(freehold_strict, "sts").get_caller_identity()["Arn"] == ROOT_ARN

    freehold_strict.kill9()
    freehold_strict.start()
    assert root_pair(freehold_strict) == before
    assert root_client(freehold_strict, "sts").get_caller_identity()["Arn"] == ROOT_ARN
    as_user = client(freehold_strict, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert as_user.get_caller_identity()["Arn"].endswith(f":user/{name}")

    # Over HTTP a strict node refuses to be reset; stopped, `freehold reset --data-dir`
    # forgets every user and key, and the node's root pair comes back as it was.
    with pytest.raises(urllib.error.HTTPError) as refused:
        freehold_strict.reset()
    assert refused.value.code == 403
    freehold_strict.stop()
    command = [sys.executable, "-m", "freehold", "reset", "--endpoint", freehold_strict.endpoint_url,
               "--data-dir", str(freehold_strict.data_dir)]
    if freehold_strict.state_url:
        command += ["--state", freehold_strict.state_url]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    freehold_strict.start()
    # The forgotten root key is replaced by a new pair, written to the same file.
    assert root_pair(freehold_strict) != before
    assert root_client(freehold_strict, "sts").get_caller_identity()["Arn"] == ROOT_ARN
    assert error_of(as_user.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)


def test_a_deleted_bootstrap_key_is_not_brought_back(freehold_strict: FreeholdServer) -> None:
    old_id, _ = root_pair(freehold_strict)
    iam = root_client(freehold_strict, "iam")
    iam.delete_access_key(AccessKeyId=old_id)
    assert error_of(root_client(freehold_strict, "sts").get_caller_identity)[0] == "InvalidClientTokenId"
    freehold_strict.restart()
    new_id, _ = root_pair(freehold_strict)
    assert new_id != old_id
    assert root_client(freehold_strict, "sts").get_caller_identity()["Arn"] == ROOT_ARN
    assert error_of(client(freehold_strict, "sts", old_id, "x" * 40).get_caller_identity)[0] == "InvalidClientTokenId"


# --------------------------------------------------------------------------- pinned pair


PINNED_ID = "AKIAPINNEDROOTKEY001"
PINNED_SECRET = "pinnedSecretForFreeholdTests0123456789ab"


def test_pinned_root_pair(tmp_path: Path) -> None:
    env = {"FREEHOLD_ROOT_ACCESS_KEY_ID": PINNED_ID, "FREEHOLD_ROOT_SECRET_ACCESS_KEY": PINNED_SECRET}
    server = FreeholdServer(tmp_path / "pinned", extra_args=("--strict-auth",), env=env)
    server.start()
    try:
        assert root_pair(server) == (PINNED_ID, PINNED_SECRET)
        assert client(server, "sts", PINNED_ID, PINNED_SECRET).get_caller_identity()["Arn"] == ROOT_ARN
        server.restart()
        assert client(server, "sts", PINNED_ID, PINNED_SECRET).get_caller_identity()["Arn"] == ROOT_ARN
        server.stop()
        # The same key id pinned with another secret is refused at start, saying why.
        server.env = {**env, "FREEHOLD_ROOT_SECRET_ACCESS_KEY": "another" + PINNED_SECRET[7:]}
        with pytest.raises(RuntimeError, match="is stored with another secret"):
            server.start(timeout=20)
    finally:
        server.stop()


# --------------------------------------------------------------------------- default mode


def test_default_mode_accepts_any_key(freehold: FreeholdServer) -> None:
    sts = client(freehold, "sts", "AKIAUNKNOWNKEY000001", "whatever")
    assert sts.get_caller_identity()["Arn"] == ROOT_ARN
    assert client(freehold, "sts", "123456789012", "x").get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
    assert not credentials_file(freehold).exists()  # no root key is made when none is needed


def test_other_accounts_keys_made_in_default_mode_work_under_strict_auth(tmp_path: Path) -> None:
    server = FreeholdServer(tmp_path / "switch")
    server.start()
    try:
        as_account_root = client(server, "iam", "111122223333", "anything")
        key = as_account_root.create_access_key()["AccessKey"]
        server.stop()
        server.extra_args = ("--strict-auth",)
        server.start()
        own = client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
        assert own.get_caller_identity()["Arn"] == "arn:aws:iam::111122223333:root"
        assert error_of(client(server, "sts", "111122223333", "anything").get_caller_identity)[0] == (
            "InvalidClientTokenId")
        assert root_client(server, "sts").get_caller_identity()["Arn"] == ROOT_ARN
    finally:
        server.stop()


def test_functions_get_role_credentials_under_strict_auth(freehold_strict: FreeholdServer) -> None:
    """Lambda assumes the function's role as lambda.amazonaws.com (not as root, which strict
    STS refuses), and boto3 inside the function is accepted by the strict gateway."""
    import io
    import json
    import zipfile

    iam = root_client(freehold_strict, "iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role_name = unique("strict-fn-role")
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "import boto3\n\ndef handler(event, context):\n"
                                   "    return boto3.client('sts').get_caller_identity()['Arn']\n")
    lam = root_client(freehold_strict, "lambda")
    name = unique("strict-fn")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role_arn, Handler="app.handler",
                        Code={"ZipFile": buffer.getvalue()}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert payload.startswith(f"arn:aws:sts::000000000000:assumed-role/{role_name}/"), payload
