"""The root credentials file, a strict node's bootstrap, and the expiry of issued sessions.

Expiry is tested here, at the identity layer with `now` set, because STS sessions last at
least 15 minutes: a live test would have to wait that long.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from freehold.config import Settings
from freehold.gateway import identity, root_credentials, sigv4
from freehold.gateway.context import Principal, RequestContext
from freehold.gateway.node import Node
from freehold.gateway.root_credentials import KeyPair
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.services.iam.root_keys import RootKeyError

PAIR = KeyPair("AKIAROOTBOOTSTRAP001", "s3cr3t/with+base64=chars0123456789abcdef")


# --------------------------------------------------------------------------- the file


def test_written_file_is_private_and_readable_by_botocore(tmp_path: Path) -> None:
    path = root_credentials.credentials_path(tmp_path / "data")
    root_credentials.write_pair(path, PAIR, "000000000000", "http://127.0.0.1:4566")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert root_credentials.read_pair(path) == PAIR
    assert [p.name for p in path.parent.iterdir()] == ["root-credentials"]  # no temp file left

    import botocore.session

    session = botocore.session.Session(profile="freehold")
    session.set_config_variable("credentials_file", str(path))
    session.set_config_variable("config_file", "/dev/null")
    credentials = session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == (PAIR.access_key_id, PAIR.secret_access_key)


def test_rewriting_replaces_and_tightens_the_file(tmp_path: Path) -> None:
    path = tmp_path / "root-credentials"
    path.write_text("[freehold]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n")
    path.chmod(0o644)
    root_credentials.write_pair(path, PAIR, "000000000000", "http://127.0.0.1:4566")
    assert root_credentials.read_pair(path) == PAIR
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    root_credentials.write_pair(path, PAIR, "000000000000", "http://127.0.0.1:4566")  # same content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "not an ini file [", "[other]\naws_access_key_id = A\n",
                                     "[freehold]\naws_access_key_id = AKIAONLYTHEID\n"])
def test_unusable_files_read_as_no_pair(tmp_path: Path, content: str) -> None:
    path = tmp_path / "root-credentials"
    path.write_text(content)
    assert root_credentials.read_pair(path) is None
    assert root_credentials.read_pair(tmp_path / "missing") is None


def test_pinned_pair_from_the_environment() -> None:
    assert root_credentials.pinned_pair({}) is None
    env = {"FREEHOLD_ROOT_ACCESS_KEY_ID": PAIR.access_key_id,
           "FREEHOLD_ROOT_SECRET_ACCESS_KEY": PAIR.secret_access_key}
    assert root_credentials.pinned_pair(env) == PAIR
    with pytest.raises(RootKeyError, match="FREEHOLD_ROOT_SECRET_ACCESS_KEY is not set"):
        root_credentials.pinned_pair({"FREEHOLD_ROOT_ACCESS_KEY_ID": PAIR.access_key_id})
    with pytest.raises(RootKeyError, match="FREEHOLD_ROOT_ACCESS_KEY_ID is not set"):
        root_credentials.pinned_pair({"FREEHOLD_ROOT_SECRET_ACCESS_KEY": PAIR.secret_access_key})


# --------------------------------------------------------------------------- a strict node


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    monkeypatch.delenv("FREEHOLD_ROOT_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("FREEHOLD_ROOT_SECRET_ACCESS_KEY", raising=False)
    opened = Node(Settings(data_dir=tmp_path / "data", strict_auth=True))
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


def test_strict_node_writes_a_root_pair_that_resolves_to_root(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    path = root_credentials.credentials_path(node.settings.data_dir)
    pair = root_credentials.read_pair(path)
    assert pair is not None and pair == node.root_pair
    issued = node.resolver.resolve(pair.access_key_id)
    assert issued is not None and issued.secret_access_key == pair.secret_access_key
    assert issued.principal == Principal.root("000000000000", pair.access_key_id)


def test_reset_brings_the_same_pair_back(node: Node) -> None:
    before = node.root_pair
    assert before is not None
    node.reset()
    assert node.root_pair == before
    assert node.resolver.resolve(before.access_key_id) is not None


def test_default_mode_makes_no_root_key(tmp_path: Path) -> None:
    plain = Node(Settings(data_dir=tmp_path / "data"))
    plain.open()
    try:
        assert plain.root_pair is None
        assert not root_credentials.credentials_path(tmp_path / "data").exists()
    finally:
        plain.close()


# --------------------------------------------------------------------------- session expiry


def _signed(key: str, secret: str, token: str | None) -> HttpRequest:
    """An STS GetCallerIdentity request signed by botocore now."""
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    aws = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret, token), "sts", "us-east-1").add_auth(aws)
    headers = Headers([("Host", "127.0.0.1:4566"), *((k, str(v)) for k, v in aws.headers.items())])
    return HttpRequest("POST", "/", "", headers, body.encode())


def test_assumed_role_credentials_expire(node: Node) -> None:
    services = node.services
    root = RequestContext(request=HttpRequest("POST", "/"), request_id="t", principal=Principal.root("000000000000"))
    user = services.call("iam", root, "CreateUser", {"UserName": "carol"})["User"]
    services.call("iam", root, "CreateRole", {
        "RoleName": "app",
        "AssumeRolePolicyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                                    '"Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}',
    })
    as_user = RequestContext(request=HttpRequest("POST", "/"), request_id="t", principal=Principal(
        "user", "000000000000", user["Arn"], user["UserId"]))
    creds = services.call("sts", as_user, "AssumeRole", {
        "RoleArn": "arn:aws:iam::000000000000:role/app", "RoleSessionName": "s1", "DurationSeconds": 900,
    })["Credentials"]
    expiration: datetime = creds["Expiration"]
    request = _signed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    info = sigv4.parse_signature(request)
    assert info is not None

    def authenticate(now: datetime) -> Principal:
        return identity.authenticate(request, info, node.resolver, True, "sts", now)

    assert authenticate(datetime.now(UTC)).arn == "arn:aws:sts::000000000000:assumed-role/app/s1"
    assert authenticate(expiration - timedelta(seconds=1)).kind == "assumed-role"
    for now in (expiration, expiration + timedelta(seconds=1), expiration + timedelta(hours=2)):
        with pytest.raises(ServiceError) as caught:
            authenticate(now)
        error = caught.value
        assert (error.code, error.status, error.message) == (
            "ExpiredToken", 403, "The security token included in the request is expired")
