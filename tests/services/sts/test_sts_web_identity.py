"""Web identity token checks on their own, including signature verification for issuers
whose keys freehold knows (registered in process, which the live-server tests cannot do)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from freehold.protocol.errors import ServiceError
from freehold.services.sts import web_identity

ISSUER = "https://login.freehold.test/pool"


@pytest.fixture
def signing_key() -> Iterator[RSAKey]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    web_identity.register_issuer_keys(ISSUER, {"keys": [key.as_dict(private=False)]})
    yield key
    web_identity.forget_issuer_keys(ISSUER)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": "client", "sub": "s", "exp": now + 300, **overrides}


def test_signed_by_a_known_key_verifies(signing_key: RSAKey) -> None:
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), signing_key)
    parsed = web_identity.parse_token(token)
    assert web_identity.check_signature(parsed) is True
    assert web_identity.check_audience(parsed, ["other", "client"]) == "client"


def test_wrong_key_or_tampering_is_rejected(signing_key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), stranger)
    with pytest.raises(ServiceError) as excinfo:
        web_identity.check_signature(web_identity.parse_token(forged))
    assert excinfo.value.code == "InvalidIdentityToken"
    unknown_kid = jwt.encode({"alg": "RS256", "kid": "k9"}, _claims(), signing_key)
    with pytest.raises(ServiceError) as excinfo:
        web_identity.check_signature(web_identity.parse_token(unknown_kid))
    assert excinfo.value.message == web_identity.NO_KEY
    header, _, signature = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), signing_key).split(".")
    other_claims = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(sub="admin"), signing_key).split(".")[1]
    with pytest.raises(ServiceError):
        web_identity.check_signature(web_identity.parse_token(f"{header}.{other_claims}.{signature}"))


def test_unknown_issuers_are_not_verified() -> None:
    stranger = RSAKey.generate_key(2048)
    token = jwt.encode({"alg": "RS256"}, {**_claims(), "iss": "https://elsewhere.test"}, stranger)
    assert web_identity.check_signature(web_identity.parse_token(token)) is False


def test_claim_checks() -> None:
    now = time.time()
    expired = web_identity.WebIdentityToken({"alg": "RS256"}, _claims(exp=int(now) - 1), "x")
    with pytest.raises(ServiceError) as excinfo:
        web_identity.check_times(expired, now)
    assert excinfo.value.code == "ExpiredTokenException"
    no_exp = web_identity.WebIdentityToken({"alg": "RS256"}, {"iss": ISSUER}, "x")
    with pytest.raises(ServiceError) as excinfo:
        web_identity.check_times(no_exp, now)
    assert excinfo.value.message == "Missing a required claim: exp"
    with pytest.raises(ServiceError) as excinfo:
        web_identity.check_audience(no_exp, ["client"])
    assert excinfo.value.message == "Missing a required claim: aud"
    for bad in ("a.b", "!!!.###.sig", "e30.e30.sig"):  # e30 is {} - no alg
        with pytest.raises(ServiceError) as excinfo:
            web_identity.parse_token(bad)
        assert excinfo.value.code == "InvalidIdentityToken"
