"""Lambda's persistence: functions, their versions, aliases, resource policies and the queue
of asynchronous invocations, in SQL (SQLite or PostgreSQL through freehold.state).

Every key starts with (account_id, region): Lambda is regional and state is isolated per
account and region. Versions hold their configuration as JSON (models.FunctionVersion);
$LATEST is the version row with number 0.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.services.lambda_.models import FunctionVersion
from freehold.services.lambda_.names import LATEST
from freehold.state.database import Database, IntegrityError, Transaction
from freehold.state.migrations import Migration

MIGRATIONS = (
    Migration(1, "functions, versions, aliases, policies, async queue", (
        """CREATE TABLE lambda_functions (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            tags TEXT NOT NULL, reserved_concurrency INTEGER, next_version BIGINT NOT NULL,
            event_invoke_config TEXT, created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, region, name))""",
        """CREATE TABLE lambda_versions (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            number BIGINT NOT NULL, config TEXT NOT NULL, code_blob TEXT NOT NULL,
            PRIMARY KEY (account_id, region, name, number))""",
        "CREATE INDEX lambda_versions_blob ON lambda_versions (code_blob)",
        """CREATE TABLE lambda_aliases (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (account_id, region, name, alias))""",
        """CREATE TABLE lambda_policies (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, qualifier TEXT NOT NULL,
            document TEXT NOT NULL, revision_id TEXT NOT NULL,
            PRIMARY KEY (account_id, region, name, qualifier))""",
        """CREATE TABLE lambda_async_invocations (
            id TEXT PRIMARY KEY, account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            qualifier TEXT NOT NULL, payload BLOB NOT NULL, client_context TEXT,
            attempts INTEGER NOT NULL, enqueued_at DOUBLE PRECISION NOT NULL,
            next_at DOUBLE PRECISION NOT NULL, lease_until DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX lambda_async_due ON lambda_async_invocations (next_at)",
    )),
    Migration(2, "event source mappings", (
        """CREATE TABLE lambda_event_source_mappings (
            uuid TEXT PRIMARY KEY, account_id TEXT NOT NULL, region TEXT NOT NULL,
            function_name TEXT NOT NULL, source_arn TEXT NOT NULL, state TEXT NOT NULL,
            document TEXT NOT NULL, checkpoint TEXT, last_modified DOUBLE PRECISION NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, lease_owner TEXT,
            lease_until DOUBLE PRECISION NOT NULL DEFAULT 0)""",
        "CREATE INDEX lambda_esm_function ON lambda_event_source_mappings (account_id, region, function_name)",
        "CREATE INDEX lambda_esm_source ON lambda_event_source_mappings (account_id, region, source_arn)",
    )),
    Migration(3, "layers, function URLs, provisioned concurrency", (
        """CREATE TABLE lambda_layers (
            account_id TEXT NOT NULL, region TEXT NOT NULL, layer_name TEXT NOT NULL,
            next_version BIGINT NOT NULL,
            PRIMARY KEY (account_id, region, layer_name))""",
        """CREATE TABLE lambda_layer_versions (
            account_id TEXT NOT NULL, region TEXT NOT NULL, layer_name TEXT NOT NULL,
            version BIGINT NOT NULL, document TEXT NOT NULL, code_blob TEXT NOT NULL,
            policy TEXT, policy_revision TEXT,
            PRIMARY KEY (account_id, region, layer_name, version))""",
        """CREATE TABLE lambda_function_urls (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, qualifier TEXT NOT NULL,
            url_id TEXT NOT NULL UNIQUE, document TEXT NOT NULL,
            PRIMARY KEY (account_id, region, name, qualifier))""",
        """CREATE TABLE lambda_provisioned (
            account_id TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, qualifier TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (account_id, region, name, qualifier))""",
    )),
)


def version_number(version: str) -> int:
    return 0 if version == LATEST else int(version)


@dataclass
class FunctionRow:
    """The function-level state beside its versions."""

    tags: dict[str, str]
    reserved_concurrency: int | None
    next_version: int
    event_invoke_config: dict[str, Any] | None


@dataclass
class LatestChange:
    """What replacing $LATEST did: the version it published (if asked), and the code blobs no
    version references any more (to delete once the transaction has committed)."""

    published: FunctionVersion | None
    orphans: list[str]


@dataclass
class QueuedInvocation:
    id: str
    account_id: str
    region: str
    name: str
    qualifier: str
    payload: bytes
    client_context: str | None
    attempts: int
    enqueued_at: float


class LambdaStore:
    # Bumped after every committed change to functions or versions made in this process:
    # what Invoke caches of them (services/lambda_/invoke.py) is valid while it is unchanged,
    # where the database has no other writer (Database.sole_writer).
    generation = 0

    def __init__(self, db: Database) -> None:
        self.db = db

    _generation_lock = threading.Lock()

    @classmethod
    def bump_generation(cls) -> None:
        with cls._generation_lock:  # += from two threads could lose a change
            cls.generation += 1

    def _changed(self) -> None:
        """Called by every write of lambda_functions / lambda_versions, inside its transaction
        (the count moves once it committed; never before, or a reader could cache old rows
        under the new count)."""
        self.db.after_commit(LambdaStore.bump_generation)

    def migrate(self) -> None:
        self.db.migrate("lambda", MIGRATIONS)

    # -- functions and versions ---------------------------------------------------------------
    def create_function(self, latest: FunctionVersion, tags: dict[str, str], publish: bool = False) -> bool:
        """Insert a new function with its $LATEST (and version 1 with `publish`, in the same
        transaction); False if the name is taken."""
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO lambda_functions (account_id, region, name, tags, reserved_concurrency, "
                    "next_version, event_invoke_config, created_at) VALUES (?, ?, ?, ?, NULL, 1, NULL, ?)",
                    (latest.account_id, latest.region, latest.name, json.dumps(tags), time.time()),
                )
                self._put_version(tx, latest)
                if publish:
                    self._publish(tx, latest, None)
        except IntegrityError:
            return False
        return True

    @staticmethod
    def _put_version(tx: Transaction, version: FunctionVersion) -> None:
        tx.on_commit(LambdaStore.bump_generation)
        tx.execute(
            "INSERT INTO lambda_versions (account_id, region, name, number, config, code_blob) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, region, name, number) "
            "DO UPDATE SET config = excluded.config, code_blob = excluded.code_blob",
            (version.account_id, version.region, version.name, version_number(version.version),
             version.to_json(), version.code.blob_key),
        )

    def save_version(self, version: FunctionVersion) -> None:
        with self.db.transaction() as tx:
            self._put_version(tx, version)

    def _locked_latest(self, tx: Transaction, account_id: str, region: str, name: str) -> FunctionVersion | None:
        """$LATEST, its row locked until the transaction ends. Every change of $LATEST and every
        publish takes this lock first (then the function row), so they serialize, and a version
        can only copy the code blob $LATEST references at that moment."""
        row = tx.query_one(
            "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? "
            "AND number = 0 FOR UPDATE", (account_id, region, name),
        )
        return FunctionVersion.from_json(row[0]) if row else None

    def replace_latest(self, latest: FunctionVersion, expected_revision: str,
                       publish: bool = False) -> LatestChange | None:
        """Write $LATEST if its stored RevisionId is still `expected_revision` (optimistic), and
        with `publish` number a version of it in the same transaction; None if $LATEST changed
        (or the function is gone) meanwhile.

        The code blob $LATEST used before is reported as an orphan when no version references
        it any more, decided inside this transaction: a concurrent PublishVersion either
        committed its copy before (and the blob is kept) or runs after, from the new $LATEST.
        Once unreferenced a blob is never referenced again, so the caller may delete it after
        the commit."""
        with self.db.transaction() as tx:
            current = self._locked_latest(tx, latest.account_id, latest.region, latest.name)
            if current is None or current.revision_id != expected_revision:
                return None
            self._put_version(tx, latest)
            published = self._publish(tx, latest, None) if publish else None
            old_blob = current.code.blob_key
            orphans = [] if self._blob_used(tx, old_blob) else [old_blob]
        return LatestChange(published, orphans)

    def get_version(self, account_id: str, region: str, name: str, version: str) -> FunctionVersion | None:
        row = self.db.query_one(
            "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? AND number = ?",
            (account_id, region, name, version_number(version)),
        )
        return FunctionVersion.from_json(row[0]) if row else None

    def invoke_target(self, account_id: str, region: str, name: str, version: str) -> tuple[str, int | None] | None:
        """A version's stored configuration and its function's reserved concurrency, in one
        statement (what every Invoke reads); None when either is missing."""
        row = self.db.query_one(
            "SELECT v.config, f.reserved_concurrency FROM lambda_versions v JOIN lambda_functions f "
            "ON f.account_id = v.account_id AND f.region = v.region AND f.name = v.name "
            "WHERE v.account_id = ? AND v.region = ? AND v.name = ? AND v.number = ?",
            (account_id, region, name, version_number(version)),
        )
        return (str(row[0]), row[1]) if row else None

    def list_versions(self, account_id: str, region: str, name: str) -> list[FunctionVersion]:
        rows = self.db.query(
            "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? ORDER BY number",
            (account_id, region, name),
        )
        return [FunctionVersion.from_json(row[0]) for row in rows]

    def list_functions(
        self, account_id: str, region: str, after: str, limit: int, all_versions: bool
    ) -> list[FunctionVersion]:
        """Versions ordered by (name, number) strictly after the marker `name\\x00number`."""
        name, _, number = after.partition("\x00")
        condition = "" if all_versions else " AND number = 0"
        rows = self.db.query(
            "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ?" + condition +
            " AND (name > ? OR (name = ? AND number > ?)) ORDER BY name, number LIMIT ?",
            (account_id, region, name, name, int(number or -1), limit),
        )
        return [FunctionVersion.from_json(row[0]) for row in rows]

    def function_row(self, account_id: str, region: str, name: str) -> FunctionRow | None:
        row = self.db.query_one(
            "SELECT tags, reserved_concurrency, next_version, event_invoke_config FROM lambda_functions "
            "WHERE account_id = ? AND region = ? AND name = ?", (account_id, region, name),
        )
        if row is None:
            return None
        return FunctionRow(json.loads(row[0]), row[1], row[2], json.loads(row[3]) if row[3] else None)

    def update_function_row(self, account_id: str, region: str, name: str, **changes: Any) -> bool:
        columns: dict[str, Callable[[Any], Any]] = {"tags": json.dumps, "reserved_concurrency": lambda v: v,
                   "event_invoke_config": lambda v: json.dumps(v) if v is not None else None}
        sets = ", ".join(f"{key} = ?" for key in changes)
        values = [columns[key](value) for key, value in changes.items()]
        changed = self.db.execute(
            f"UPDATE lambda_functions SET {sets} WHERE account_id = ? AND region = ? AND name = ?",
            (*values, account_id, region, name),
        ) == 1
        self._changed()
        return changed

    def publish(self, account_id: str, region: str, name: str, expected_revision: str | None,
                description: str | None) -> FunctionVersion | None:
        """Publish $LATEST as stored now (locked), numbered atomically with the version counter;
        None if `expected_revision` is given and $LATEST's RevisionId is no longer that, or the
        function is gone. An unchanged $LATEST (its revision already published as the newest
        version) gives back that version, as AWS does."""
        with self.db.transaction() as tx:
            latest = self._locked_latest(tx, account_id, region, name)
            if latest is None or (expected_revision is not None and latest.revision_id != expected_revision):
                return None
            newest = tx.query_one(
                "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? "
                "AND number > 0 ORDER BY number DESC LIMIT 1", (account_id, region, name),
            )
            if newest is not None:
                version = FunctionVersion.from_json(newest[0])
                if version.source_revision == latest.revision_id:
                    return version
            return self._publish(tx, latest, description)

    def _publish(self, tx: Transaction, latest: FunctionVersion, description: str | None) -> FunctionVersion:
        row = tx.query_one(
            "SELECT next_version FROM lambda_functions WHERE account_id = ? AND region = ? AND name = ? "
            "FOR UPDATE", (latest.account_id, latest.region, latest.name),
        )
        assert row is not None
        number = int(row[0])
        tx.execute(
            "UPDATE lambda_functions SET next_version = ? WHERE account_id = ? AND region = ? AND name = ?",
            (number + 1, latest.account_id, latest.region, latest.name),
        )
        version = latest.published(str(number), description)
        self._put_version(tx, version)
        return version

    def delete_function(self, account_id: str, region: str, name: str) -> list[str]:
        """Delete a function and everything of it; returns the code blobs no longer referenced."""
        key = (account_id, region, name)
        with self.db.transaction() as tx:
            self._changed()
            blobs = {row[0] for row in tx.query(
                "SELECT code_blob FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ?", key)}
            for table in ("lambda_versions", "lambda_aliases", "lambda_policies", "lambda_function_urls",
                          "lambda_provisioned", "lambda_functions"):
                tx.execute(f"DELETE FROM {table} WHERE account_id = ? AND region = ? AND name = ?", key)
            return [blob for blob in blobs if not self._blob_used(tx, blob)]

    def delete_version(self, account_id: str, region: str, name: str, version: str) -> list[str]:
        with self.db.transaction() as tx:
            self._changed()
            row = tx.query_one(
                "SELECT code_blob FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? AND number = ?",
                (account_id, region, name, version_number(version)),
            )
            if row is None:
                return []
            tx.execute(
                "DELETE FROM lambda_versions WHERE account_id = ? AND region = ? AND name = ? AND number = ?",
                (account_id, region, name, version_number(version)),
            )
            for table in ("lambda_policies", "lambda_provisioned"):
                tx.execute(
                    f"DELETE FROM {table} WHERE account_id = ? AND region = ? AND name = ? AND qualifier = ?",
                    (account_id, region, name, version),
                )
            return [] if self._blob_used(tx, row[0]) else [row[0]]

    @staticmethod
    def _blob_used(tx: Transaction, blob: str) -> bool:
        return tx.query_one("SELECT 1 FROM lambda_versions WHERE code_blob = ?", (blob,)) is not None

    def account_usage(self, account_id: str, region: str) -> tuple[int, int, int]:
        """(function count, total code size, sum of reserved concurrency) in a region."""
        count = self.db.query_one(
            "SELECT COUNT(*), SUM(reserved_concurrency) FROM lambda_functions WHERE account_id = ? AND region = ?",
            (account_id, region),
        )
        configs = self.db.query(
            "SELECT config FROM lambda_versions WHERE account_id = ? AND region = ?", (account_id, region)
        )
        size = sum(FunctionVersion.from_json(row[0]).code.size for row in configs)
        assert count is not None
        return int(count[0] or 0), size, int(count[1] or 0)

    # -- aliases ----------------------------------------------------------------------------------
    def put_alias(self, account_id: str, region: str, name: str, alias: str, document: dict[str, Any],
                  create: bool) -> bool:
        text = json.dumps(document)
        if create:
            try:
                with self.db.transaction() as tx:
                    tx.execute(
                        "INSERT INTO lambda_aliases (account_id, region, name, alias, document) VALUES (?, ?, ?, ?, ?)",
                        (account_id, region, name, alias, text),
                    )
            except IntegrityError:
                return False
            return True
        return self.db.execute(
            "UPDATE lambda_aliases SET document = ? WHERE account_id = ? AND region = ? AND name = ? AND alias = ?",
            (text, account_id, region, name, alias),
        ) == 1

    def get_alias(self, account_id: str, region: str, name: str, alias: str) -> dict[str, Any] | None:
        row = self.db.query_one(
            "SELECT document FROM lambda_aliases WHERE account_id = ? AND region = ? AND name = ? AND alias = ?",
            (account_id, region, name, alias),
        )
        return json.loads(row[0]) if row else None

    def list_aliases(self, account_id: str, region: str, name: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT document FROM lambda_aliases WHERE account_id = ? AND region = ? AND name = ? ORDER BY alias",
            (account_id, region, name),
        )
        return [json.loads(row[0]) for row in rows]

    def delete_alias(self, account_id: str, region: str, name: str, alias: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM lambda_aliases WHERE account_id = ? AND region = ? AND name = ? AND alias = ?",
                       (account_id, region, name, alias))
            for table in ("lambda_policies", "lambda_function_urls", "lambda_provisioned"):
                tx.execute(f"DELETE FROM {table} WHERE account_id = ? AND region = ? AND name = ? "
                           "AND qualifier = ?", (account_id, region, name, alias))

    # -- resource policies ------------------------------------------------------------------------
    def get_policy(self, account_id: str, region: str, name: str, qualifier: str) -> tuple[dict[str, Any], str] | None:
        row = self.db.query_one(
            "SELECT document, revision_id FROM lambda_policies WHERE account_id = ? AND region = ? AND name = ? "
            "AND qualifier = ?", (account_id, region, name, qualifier),
        )
        return (json.loads(row[0]), row[1]) if row else None

    def update_policy(self, account_id: str, region: str, name: str, qualifier: str,
                      change: Callable[[tuple[dict[str, Any], str] | None], dict[str, Any] | None],
                      revision_id: str) -> None:
        """Read, change and write one resource policy in one transaction, with the function's
        row locked: concurrent AddPermission calls (Terraform creates permissions in parallel)
        must not overwrite each other's statements. `change` may raise to abort."""
        with self.db.transaction() as tx:
            tx.query_one("SELECT 1 FROM lambda_functions WHERE account_id = ? AND region = ? AND name = ? "
                         "FOR UPDATE", (account_id, region, name))
            row = tx.query_one(
                "SELECT document, revision_id FROM lambda_policies WHERE account_id = ? AND region = ? AND name = ? "
                "AND qualifier = ?", (account_id, region, name, qualifier),
            )
            document = change((json.loads(row[0]), row[1]) if row else None)
            self._write_policy(tx, account_id, region, name, qualifier, document, revision_id)

    def put_policy(self, account_id: str, region: str, name: str, qualifier: str,
                   document: dict[str, Any] | None, revision_id: str) -> None:
        with self.db.transaction() as tx:
            self._write_policy(tx, account_id, region, name, qualifier, document, revision_id)

    @staticmethod
    def _write_policy(tx: Any, account_id: str, region: str, name: str, qualifier: str,
                      document: dict[str, Any] | None, revision_id: str) -> None:
        if document is None or not document.get("Statement"):
            tx.execute("DELETE FROM lambda_policies WHERE account_id = ? AND region = ? AND name = ? "
                       "AND qualifier = ?", (account_id, region, name, qualifier))
            return
        tx.execute(
            "INSERT INTO lambda_policies (account_id, region, name, qualifier, document, revision_id) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, region, name, qualifier) "
            "DO UPDATE SET document = excluded.document, revision_id = excluded.revision_id",
            (account_id, region, name, qualifier, json.dumps(document), revision_id),
        )

    # -- the asynchronous invocation queue -------------------------------------------------------
    def enqueue(self, item: QueuedInvocation) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO lambda_async_invocations (id, account_id, region, name, qualifier, payload, "
            "client_context, attempts, enqueued_at, next_at, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (item.id, item.account_id, item.region, item.name, item.qualifier, item.payload,
             item.client_context, item.attempts, item.enqueued_at, now),
        )

    def claim_due(self, limit: int, lease_seconds: float) -> list[QueuedInvocation]:
        """Lease up to `limit` due invocations (not leased, or whose lease expired: a node died)."""
        now = time.time()
        with self.db.transaction() as tx:
            rows = tx.query(
                "SELECT id, account_id, region, name, qualifier, payload, client_context, attempts, enqueued_at "
                "FROM lambda_async_invocations WHERE next_at <= ? AND lease_until <= ? ORDER BY next_at LIMIT ? "
                "FOR UPDATE SKIP LOCKED", (now, now, limit),
            )
            for row in rows:
                tx.execute("UPDATE lambda_async_invocations SET lease_until = ? WHERE id = ?",
                           (now + lease_seconds, row[0]))
        return [QueuedInvocation(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], int(r[7]), float(r[8]))
                for r in rows]

    def renew_leases(self, ids: list[str], lease_seconds: float) -> None:
        if ids:
            marks = ", ".join("?" for _ in ids)
            self.db.execute(f"UPDATE lambda_async_invocations SET lease_until = ? WHERE id IN ({marks})",
                            (time.time() + lease_seconds, *ids))

    def release_all_leases(self) -> None:
        self.db.execute("UPDATE lambda_async_invocations SET lease_until = 0 WHERE lease_until > 0")

    def retry_later(self, item_id: str, attempts: int, delay: float) -> None:
        self.db.execute(
            "UPDATE lambda_async_invocations SET attempts = ?, next_at = ?, lease_until = 0 WHERE id = ?",
            (attempts, time.time() + delay, item_id),
        )

    def release(self, item_id: str, delay: float) -> None:
        """Give a leased invocation back without counting an attempt (throttled, shutting down)."""
        self.db.execute(
            "UPDATE lambda_async_invocations SET next_at = ?, lease_until = 0 WHERE id = ?",
            (time.time() + delay, item_id),
        )

    def finish(self, item_id: str) -> None:
        self.db.execute("DELETE FROM lambda_async_invocations WHERE id = ?", (item_id,))

    def next_due_at(self) -> float | None:
        row = self.db.query_one("SELECT MIN(next_at) FROM lambda_async_invocations WHERE lease_until = 0")
        return float(row[0]) if row and row[0] is not None else None
