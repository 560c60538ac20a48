"""One freehold node: its settings, state, blob store and services, opened and closed together."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from freehold.config import Settings
from freehold.services.base import ServiceRuntime
from freehold.services.registry import Services

if TYPE_CHECKING:
    from freehold.gateway.identity import CredentialResolver
    from freehold.gateway.key_usage import KeyUsage
    from freehold.services.iam.credentials import IssuedCredentials
    from freehold.services.iam.root_keys import KeyPair

log = logging.getLogger("freehold")


class Node:
    """Everything a running gateway needs; `open()` before serving, `close()` after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="freehold-op")
        self._services: Services | None = None
        self._resolver: IssuedCredentials | None = None
        self._key_usage: KeyUsage | None = None
        self._resuming: threading.Thread | None = None
        self._lock: int | None = None  # the data directory's node lock (SQLite state)
        # The root key pair handed out in strict mode (see bootstrap_root_credentials).
        self.root_pair: KeyPair | None = None

    def open(self) -> None:
        from freehold.state.blobs import BlobStore
        from freehold.state.database import open_database

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.settings.state_url:  # SQLite: this node is the only one on its state
            from freehold.state import node_lock

            self._lock = node_lock.claim(self.settings.data_dir)
        db = open_database(self.settings)
        blobs = BlobStore(self.settings.data_dir / "blobs", fsync=self.settings.durability == "fsync")
        self._services = Services(ServiceRuntime(self.settings, db, blobs))
        self._resuming = self._services.resume_background()
        from freehold.gateway import routing

        routing.set_cache_dir(self.settings.data_dir / "cache")
        if self.settings.strict_auth:
            self.bootstrap_root_credentials()

    def bootstrap_root_credentials(self, keep: KeyPair | None = None) -> None:
        """Strict mode's way in: make sure the default account's root user has an access key
        and write it to <data_dir>/root-credentials (see gateway/root_credentials.py).

        `keep` is a pair to re-import as it is (after a reset deleted every key)."""
        from freehold.gateway import root_credentials
        from freehold.gateway.context import DEFAULT_ACCOUNT
        from freehold.services.iam.provider import IamProvider
        from freehold.services.iam.root_keys import ensure_root_key

        iam = self.services.get("iam")
        assert isinstance(iam, IamProvider)
        path = root_credentials.credentials_path(self.settings.data_dir)
        pinned = root_credentials.pinned_pair() or keep
        pair = ensure_root_key(iam, DEFAULT_ACCOUNT, pinned=pinned, previous=root_credentials.read_pair(path))
        self.root_pair = pair
        if pair is None:
            root_credentials.remove(path)
            log.warning(
                "the root user of account %s has no active access key and no room for one; strict mode "
                "accepts only the IAM user keys and sessions already issued", DEFAULT_ACCOUNT,
            )
            return
        root_credentials.write_pair(path, pair, DEFAULT_ACCOUNT, self.settings.endpoint_url)
        # The location only: the secret is never printed or logged.
        print(
            f"freehold: root credentials of account {DEFAULT_ACCOUNT} (access key {pair.access_key_id}) are in "
            f"{path.resolve()}, profile [{root_credentials.PROFILE}]", flush=True,
        )

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("node is not open")
        return self._services

    @property
    def resolver(self) -> CredentialResolver:
        """The credentials freehold issued (IAM access keys, STS sessions), for authentication."""
        return self.issued_credentials

    @property
    def issued_credentials(self) -> IssuedCredentials:
        if self._resolver is None:
            from freehold.services.iam.credentials import IssuedCredentials

            # The IAM and STS tables must exist before keys can be looked up.
            self.services.get("iam")
            self.services.get("sts")
            self._resolver = IssuedCredentials(self.services.runtime.db)
        return self._resolver

    @property
    def key_usage(self) -> KeyUsage:
        """Records the use of IAM access keys (GetAccessKeyLastUsed), throttled, off the loop."""
        if self._key_usage is None:
            from freehold.gateway.key_usage import KeyUsage

            self._key_usage = KeyUsage(self.issued_credentials.note_used, self.executor)
        return self._key_usage

    def reset(self) -> None:
        """Forget all state: every row of every table and every blob (schemas stay)."""
        runtime = self.services.runtime
        runtime.db.reset()
        runtime.blobs.reset()
        for provider in self.services.started():
            provider.reset()
        if self._key_usage is not None:
            self._key_usage.forget()
        if self.settings.strict_auth:
            # The node's root pair is configuration more than state: it comes back as it was,
            # so the credentials file stays valid.
            self.bootstrap_root_credentials(keep=self.root_pair)

    def close(self) -> None:
        if self._resuming is not None:
            self._resuming.join(10)
        if self._services is not None:
            self._services.stop()
            self._services.runtime.db.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._lock is not None:
            from freehold.state import node_lock

            node_lock.release(self._lock)
            self._lock = None
