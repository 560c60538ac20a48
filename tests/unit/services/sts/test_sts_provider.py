"""STS's provider called in process: what --strict-auth changes for web identity tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from freehold.config import Settings
from freehold.gateway.context import Principal, RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.services.base import ServiceRuntime
from freehold.services.registry import Services
from freehold.services.sts import web_identity
from freehold.state.blobs import BlobStore
from freehold.state.database import open_database

ACCOUNT = "000000000000"
ISSUER_HOST = "issuer.freehold.test"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER_HOST}"},
}]})


def _services(tmp_path: Any, strict: bool) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", strict_auth=strict)
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings)
    services = Services(ServiceRuntime(settings, db, BlobStore(settings.data_dir / "blobs")))
    try:
        yield services
    finally:
        services.stop()
        db.close()


def _ctx(principal: Principal) -> RequestContext:
    return RequestContext(request=HttpRequest("POST", "/"), request_id="t", account_id=ACCOUNT, principal=principal)


def _unverifiable_token() -> str:
    """Well-formed claims for a registered provider, signed by nobody freehold knows."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"iss": f"https://{ISSUER_HOST}", "aud": "app", "sub": "admin", "exp": int(time.time()) + 600}
    return f"{part({'alg': 'RS256'})}.{part(claims)}.Zm9yZ2Vk"


@pytest.mark.parametrize("strict", [False, True])
def test_tokens_of_issuers_with_unknown_keys_are_refused_in_strict_mode(tmp_path: Any, strict: bool) -> None:
    for services in _services(tmp_path, strict):
        root = _ctx(Principal.root(ACCOUNT))
        iam, sts = services.get("iam"), services.get("sts")
        assert iam is not None and sts is not None
        iam.create_open_id_connect_provider(root, {"Url": f"https://{ISSUER_HOST}", "ClientIDList": ["app"]})
        role = iam.create_role(root, {"RoleName": "web", "AssumeRolePolicyDocument": TRUST})["Role"]
        assert web_identity.known_keys(ISSUER_HOST) is None
        params = {"RoleArn": role["Arn"], "RoleSessionName": "session", "WebIdentityToken": _unverifiable_token()}
        anonymous = replace(root, principal=Principal.anonymous())
        if not strict:
            # Default mode (offline development): accepted on its claims.
            assert sts.assume_role_with_web_identity(anonymous, params)["SubjectFromWebIdentityToken"] == "admin"
            continue
        # Before, a forged token got credentials for any role from an unsigned request.
        with pytest.raises(ServiceError) as raised:
            sts.assume_role_with_web_identity(anonymous, params)
        assert (raised.value.code, raised.value.message) == ("InvalidIdentityToken", web_identity.NO_KEY)
