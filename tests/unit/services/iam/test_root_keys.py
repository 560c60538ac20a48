"""Which root key pair a strict node hands out, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freehold.config import Settings
from freehold.gateway.context import Principal, RequestContext
from freehold.protocol.http import HttpRequest
from freehold.services.base import ServiceRuntime
from freehold.services.iam.provider import IamProvider
from freehold.services.iam.root_keys import KeyPair, RootKeyError, check_pinned, ensure_root_key
from freehold.services.registry import Services
from freehold.state.blobs import BlobStore
from freehold.state.database import open_database

ACCOUNT = "000000000000"
PINNED = KeyPair("AKIAPINNEDROOTKEY001", "pinnedSecretForFreeholdTests0123456789ab")


@pytest.fixture
def iam(state_settings: Settings) -> Iterator[IamProvider]:
    state_settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(state_settings)
    services = Services(ServiceRuntime(state_settings, db, BlobStore(state_settings.data_dir / "blobs")))
    provider = services.get("iam")
    assert isinstance(provider, IamProvider)
    try:
        yield provider
    finally:
        services.stop()
        db.close()


def root_ctx(account_id: str = ACCOUNT) -> RequestContext:
    return RequestContext(request=HttpRequest("POST", "/"), request_id="t", account_id=account_id,
                          principal=Principal.root(account_id))


def root_key_ids(iam: IamProvider, account_id: str = ACCOUNT) -> list[str]:
    return [k["AccessKeyId"] for k in iam.list_access_keys(root_ctx(account_id), {})["AccessKeyMetadata"]]


def test_a_fresh_account_gets_one_new_root_key(iam: IamProvider) -> None:
    pair = ensure_root_key(iam, ACCOUNT)
    assert pair is not None and pair.access_key_id.startswith("AKIA") and len(pair.secret_access_key) == 40
    assert root_key_ids(iam) == [pair.access_key_id]
    # Asking again (a restart, another node) hands out the same key, not a second one.
    assert ensure_root_key(iam, ACCOUNT) == pair
    assert ensure_root_key(iam, ACCOUNT, previous=pair) == pair
    assert root_key_ids(iam) == [pair.access_key_id]


def test_the_previous_pair_is_kept_while_it_is_an_active_root_key(iam: IamProvider) -> None:
    first = ensure_root_key(iam, ACCOUNT)
    assert first is not None
    second = iam.create_access_key(root_ctx(), {})["AccessKey"]
    kept = KeyPair(second["AccessKeyId"], second["SecretAccessKey"])
    assert ensure_root_key(iam, ACCOUNT, previous=kept) == kept
    # A stale file (wrong secret, or a deactivated key) does not win over the active keys (the
    # two were made in the same second: either may count as the oldest).
    assert ensure_root_key(iam, ACCOUNT, previous=KeyPair(kept.access_key_id, "wrong")) in (first, kept)
    iam.update_access_key(root_ctx(), {"AccessKeyId": kept.access_key_id, "Status": "Inactive"})
    assert ensure_root_key(iam, ACCOUNT, previous=kept) == first


def test_deleted_keys_are_not_brought_back(iam: IamProvider) -> None:
    old = ensure_root_key(iam, ACCOUNT)
    assert old is not None
    iam.delete_access_key(root_ctx(), {"AccessKeyId": old.access_key_id})
    new = ensure_root_key(iam, ACCOUNT, previous=old)
    assert new is not None and new.access_key_id != old.access_key_id
    assert root_key_ids(iam) == [new.access_key_id]


def test_no_pair_when_both_root_keys_are_inactive(iam: IamProvider) -> None:
    for _ in range(2):
        key = iam.create_access_key(root_ctx(), {})["AccessKey"]
        iam.update_access_key(root_ctx(), {"AccessKeyId": key["AccessKeyId"], "Status": "Inactive"})
    assert ensure_root_key(iam, ACCOUNT) is None
    assert len(root_key_ids(iam)) == 2


def test_a_pinned_pair_is_imported_once(iam: IamProvider) -> None:
    assert ensure_root_key(iam, ACCOUNT, pinned=PINNED) == PINNED
    assert ensure_root_key(iam, ACCOUNT, pinned=PINNED) == PINNED
    assert root_key_ids(iam) == [PINNED.access_key_id]
    # Imported as a root key: GetAccessKeyLastUsed and friends treat it like any other.
    used = iam.get_access_key_last_used(root_ctx(), {"AccessKeyId": PINNED.access_key_id})
    assert used["UserName"] == "root" and used["AccessKeyLastUsed"]["ServiceName"] == "N/A"


def test_pinned_pair_conflicts_are_refused(iam: IamProvider) -> None:
    ensure_root_key(iam, ACCOUNT, pinned=PINNED)
    with pytest.raises(RootKeyError, match="is stored with another secret"):
        ensure_root_key(iam, ACCOUNT, pinned=KeyPair(PINNED.access_key_id, "another" + PINNED.secret_access_key))
    with pytest.raises(RootKeyError, match="belongs to another user or account"):
        ensure_root_key(iam, "111122223333", pinned=PINNED)
    iam.update_access_key(root_ctx(), {"AccessKeyId": PINNED.access_key_id, "Status": "Inactive"})
    with pytest.raises(RootKeyError, match="is Inactive"):
        ensure_root_key(iam, ACCOUNT, pinned=PINNED)


def test_pinning_respects_the_two_key_limit(iam: IamProvider) -> None:
    iam.create_access_key(root_ctx(), {})
    iam.create_access_key(root_ctx(), {})
    with pytest.raises(RootKeyError, match="already has 2 access keys"):
        ensure_root_key(iam, ACCOUNT, pinned=PINNED)
    assert PINNED.access_key_id not in root_key_ids(iam)


@pytest.mark.parametrize("pair", [
    KeyPair("AKIAshort", PINNED.secret_access_key),
    KeyPair("ASIAPINNEDROOTKEY001", PINNED.secret_access_key),  # temporary-credential prefix
    KeyPair("akiapinnedrootkey001", PINNED.secret_access_key),
    KeyPair(PINNED.access_key_id, "short"),
    KeyPair(PINNED.access_key_id, "has spaces in the secret key!"),
])
def test_pinned_pairs_must_look_like_iam_keys(pair: KeyPair) -> None:
    with pytest.raises(RootKeyError):
        check_pinned(pair)
