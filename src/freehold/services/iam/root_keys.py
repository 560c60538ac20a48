"""The root access key pair a node hands out at start, so that `--strict-auth` has a way in.

In strict mode only keys freehold issued authenticate, and a fresh node has issued none, so
nobody could create the first IAM user. The node therefore makes sure the default account's
root user has an active access key - stored exactly like the root keys that CreateAccessKey
without a UserName makes (an access key whose user id is ''), so it is listed, deactivated,
deleted and reported by GetAccessKeyLastUsed like any other root key - and writes the pair to
its data directory (see freehold.gateway.root_credentials).

Which pair, in order:
1. a pinned pair (FREEHOLD_ROOT_ACCESS_KEY_ID/..._SECRET_ACCESS_KEY): imported when absent,
   refused when the key id exists with another secret or owner;
2. the pair the node wrote last time, while it is still an active root key of the account
   (a deleted or deactivated key is never brought back: deleting a key must revoke it);
3. the oldest active root key of the account (another node sharing PostgreSQL made it);
4. a new key, made by IAM's own CreateAccessKey - unless the root user already has the two
   keys IAM allows, all inactive: then there is no pair (the operator chose that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from freehold.gateway.context import Principal, RequestContext
from freehold.protocol.http import HttpRequest
from freehold.services.iam.models import ACCESS_KEY_PREFIX, now_epoch
from freehold.services.iam.provider import IamProvider
from freehold.services.iam.store import AccessKey
from freehold.services.iam.users import ACCESS_KEYS_PER_USER, ROOT

# Pinned keys must look like the keys IAM issues: authentication only looks up AKIA... keys.
_PINNED_KEY_ID = re.compile(ACCESS_KEY_PREFIX + r"[A-Z0-9]{16}")
_PINNED_SECRET = re.compile(r"[A-Za-z0-9+/=]{16,128}")


class RootKeyError(ValueError):
    """A pinned root key pair that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str


def check_pinned(pair: KeyPair) -> None:
    """A pinned pair must be shaped like an IAM access key pair."""
    if not _PINNED_KEY_ID.fullmatch(pair.access_key_id):
        raise RootKeyError(
            f"the pinned root access key id {pair.access_key_id!r} must be {ACCESS_KEY_PREFIX} followed by "
            "16 upper-case letters or digits (20 characters), like the keys IAM issues"
        )
    if not _PINNED_SECRET.fullmatch(pair.secret_access_key):
        raise RootKeyError(
            "the pinned root secret access key must be 16 to 128 characters of A-Z, a-z, 0-9, '+', '/', '='"
        )


def ensure_root_key(
    iam: IamProvider, account_id: str, *, pinned: KeyPair | None = None, previous: KeyPair | None = None
) -> KeyPair | None:
    """The root key pair of `account_id` to hand out (see the module docstring for which).

    Returns None when the root user has no active key and no room for one. Raises
    RootKeyError for a pinned pair that conflicts with IAM's keys."""
    if pinned is not None:
        check_pinned(pinned)
        return _import(iam, account_id, pinned)
    if previous is not None and _is_active_root_key(iam.store.key(previous.access_key_id), account_id, previous):
        return previous
    for key in iam.store.keys_of(account_id, ROOT):
        if key.status == "Active":
            return KeyPair(key.access_key_id, key.secret_access_key)
    if len(iam.store.keys_of(account_id, ROOT)) >= ACCESS_KEYS_PER_USER:
        return None
    return _create(iam, account_id)


def _is_active_root_key(key: AccessKey | None, account_id: str, pair: KeyPair) -> bool:
    return (
        key is not None and key.account_id == account_id and key.user_id == ROOT and key.status == "Active"
        and key.secret_access_key == pair.secret_access_key
    )


def _create(iam: IamProvider, account_id: str) -> KeyPair:
    """A new root key, through IAM's CreateAccessKey as the account's root user calls it."""
    # An in-process call has no HTTP request of its own; the context only names the caller.
    ctx = RequestContext(request=HttpRequest("POST", "/"), request_id="freehold-root-bootstrap",
                         account_id=account_id, principal=Principal.root(account_id))
    services = iam.runtime.services
    if services is None:
        raise RuntimeError("the IAM provider is not attached to a node's services")
    created = services.call("iam", ctx, "CreateAccessKey", {})["AccessKey"]
    return KeyPair(created["AccessKeyId"], created["SecretAccessKey"])


def _import(iam: IamProvider, account_id: str, pair: KeyPair) -> KeyPair:
    """Store a pinned pair as a root key of the account, unless it is there already."""
    store = iam.store
    with store.db.transaction():
        existing = store.key(pair.access_key_id)
        if existing is not None:
            if existing.account_id != account_id or existing.user_id != ROOT:
                raise RootKeyError(
                    f"the pinned root access key id {pair.access_key_id} already belongs to another user or "
                    "account; pin another key id"
                )
            if existing.secret_access_key != pair.secret_access_key:
                raise RootKeyError(
                    f"the pinned root access key {pair.access_key_id} is stored with another secret; pin the "
                    "secret it was created with, or delete the key (aws iam delete-access-key) first"
                )
            if existing.status != "Active":
                raise RootKeyError(
                    f"the pinned root access key {pair.access_key_id} is {existing.status}; activate it "
                    "(aws iam update-access-key --status Active) or pin another pair"
                )
            return pair
        if len(store.keys_of(account_id, ROOT)) >= ACCESS_KEYS_PER_USER:
            raise RootKeyError(
                f"the root user of account {account_id} already has {ACCESS_KEYS_PER_USER} access keys, "
                f"IAM's limit; delete one (aws iam delete-access-key) before pinning {pair.access_key_id}"
            )
        store.insert_key(AccessKey(
            access_key_id=pair.access_key_id, account_id=account_id, user_id=ROOT,
            secret_access_key=pair.secret_access_key, status="Active", created=now_epoch(),
            last_used=None, last_used_service=None, last_used_region=None,
        ))
    return pair
