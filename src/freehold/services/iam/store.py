"""IAM's persistence: its tables (declared as migrations) and the SQL that reads and writes them.

Every key starts with the account id: accounts are isolated, and IAM is global per account
(no region in any key). Entities of every kind share one table keyed by (account, kind,
lower-cased name), because IAM names are unique per kind without regard to case. Relations
(attachments, inline policies, group members, instance-profile roles, policy versions, access
keys) refer to entities by their unique id, so renaming a user or group touches one row.

Methods run in the caller's transaction when one is open on this thread (the state engine's
rule), so a provider wraps multi-step operations in `with store.db.transaction():`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from freehold.services.iam.models import Entity
from freehold.state.database import Database, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "iam control plane", (
        """CREATE TABLE iam_entities (
            account_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            name_key TEXT NOT NULL,
            name TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            path TEXT NOT NULL,
            arn TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            permissions_boundary TEXT,
            PRIMARY KEY (account_id, kind, name_key)
        )""",
        "CREATE UNIQUE INDEX iam_entities_by_id ON iam_entities (account_id, entity_id)",
        "CREATE INDEX iam_entities_by_boundary ON iam_entities (account_id, permissions_boundary)",
        """CREATE TABLE iam_attachments (
            account_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            policy_arn TEXT NOT NULL,
            attached DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, entity_id, policy_arn)
        )""",
        "CREATE INDEX iam_attachments_by_policy ON iam_attachments (account_id, policy_arn)",
        """CREATE TABLE iam_inline_policies (
            account_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            policy_name TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (account_id, entity_id, policy_name)
        )""",
        """CREATE TABLE iam_group_members (
            account_id TEXT NOT NULL,
            group_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            added DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, group_id, user_id)
        )""",
        "CREATE INDEX iam_group_members_by_user ON iam_group_members (account_id, user_id)",
        """CREATE TABLE iam_instance_profile_roles (
            account_id TEXT NOT NULL,
            profile_id TEXT NOT NULL,
            role_id TEXT NOT NULL,
            PRIMARY KEY (account_id, profile_id, role_id)
        )""",
        "CREATE INDEX iam_instance_profile_roles_by_role ON iam_instance_profile_roles (account_id, role_id)",
        """CREATE TABLE iam_policy_versions (
            account_id TEXT NOT NULL,
            policy_id TEXT NOT NULL,
            version_number INTEGER NOT NULL,
            document TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, policy_id, version_number)
        )""",
        # Access keys are looked up by their id alone when a request is authenticated (the
        # key names the account, not the other way round); ids are globally unique.
        """CREATE TABLE iam_access_keys (
            access_key_id TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            secret_access_key TEXT NOT NULL,
            status TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            last_used DOUBLE PRECISION,
            last_used_service TEXT,
            last_used_region TEXT
        )""",
        "CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account_id, user_id)",
    )),
)

_ENTITY_COLUMNS = "account_id, kind, name, entity_id, path, arn, created, attributes, tags, permissions_boundary"


def _entity(row: Row) -> Entity:
    return Entity(
        account_id=row[0], kind=row[1], name=row[2], entity_id=row[3], path=row[4], arn=row[5],
        created=float(row[6]), attributes=json.loads(row[7]), tags=json.loads(row[8]),
        permissions_boundary=row[9],
    )


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: str
    user_id: str  # '' for the account's root user
    secret_access_key: str
    status: str
    created: float
    last_used: float | None
    last_used_service: str | None
    last_used_region: str | None


@dataclass(frozen=True)
class PolicyVersion:
    number: int
    document: str
    created: float

    @property
    def version_id(self) -> str:
        return f"v{self.number}"


class IamStore:
    """The SQL behind the IAM provider."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("iam", MIGRATIONS)

    # -- entities ----------------------------------------------------------------------
    def get(self, account_id: str, kind: str, name: str) -> Entity | None:
        row = self.db.query_one(
            f"SELECT {_ENTITY_COLUMNS} FROM iam_entities WHERE account_id = ? AND kind = ? AND name_key = ?",
            (account_id, kind, name.lower()),
        )
        return _entity(row) if row else None

    def get_by_id(self, account_id: str, entity_id: str) -> Entity | None:
        row = self.db.query_one(
            f"SELECT {_ENTITY_COLUMNS} FROM iam_entities WHERE account_id = ? AND entity_id = ?",
            (account_id, entity_id),
        )
        return _entity(row) if row else None

    def insert(self, entity: Entity) -> None:
        self.db.execute(
            f"INSERT INTO iam_entities (name_key, {_ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entity.name_key, entity.account_id, entity.kind, entity.name, entity.entity_id, entity.path,
                entity.arn, entity.created, json.dumps(entity.attributes), json.dumps(entity.tags),
                entity.permissions_boundary,
            ),
        )

    def update(self, entity: Entity) -> None:
        """Write back name, path, ARN, attributes, tags and boundary of an entity (by id)."""
        self.db.execute(
            "UPDATE iam_entities SET name_key = ?, name = ?, path = ?, arn = ?, attributes = ?, tags = ?, "
            "permissions_boundary = ? WHERE account_id = ? AND entity_id = ?",
            (
                entity.name_key, entity.name, entity.path, entity.arn, json.dumps(entity.attributes),
                json.dumps(entity.tags), entity.permissions_boundary, entity.account_id, entity.entity_id,
            ),
        )

    def delete(self, entity: Entity) -> None:
        self.db.execute(
            "DELETE FROM iam_entities WHERE account_id = ? AND entity_id = ?", (entity.account_id, entity.entity_id)
        )

    def list_entities(self, account_id: str, kind: str, path_prefix: str = "/", after: str | None = None,
             limit: int | None = None) -> list[Entity]:
        """Entities of a kind under a path prefix, by lower-cased name, after `after`."""
        sql = (
            f"SELECT {_ENTITY_COLUMNS} FROM iam_entities WHERE account_id = ? AND kind = ? "
            "AND substr(path, 1, ?) = ?"
        )
        params: list[Any] = [account_id, kind, len(path_prefix), path_prefix]
        if after is not None:
            sql += " AND name_key > ?"
            params.append(after)
        sql += " ORDER BY name_key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_entity(row) for row in self.db.query(sql, params)]

    def with_ids(self, account_id: str, entity_ids: Sequence[str]) -> list[Entity]:
        if not entity_ids:
            return []
        marks = ", ".join("?" for _ in entity_ids)
        rows = self.db.query(
            f"SELECT {_ENTITY_COLUMNS} FROM iam_entities WHERE account_id = ? AND entity_id IN ({marks}) "
            "ORDER BY name_key",
            (account_id, *entity_ids),
        )
        return [_entity(row) for row in rows]

    def boundary_usage(self, account_id: str, policy_arn: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) FROM iam_entities WHERE account_id = ? AND permissions_boundary = ?",
            (account_id, policy_arn),
        )
        return int(row[0]) if row else 0

    # -- managed policy attachments --------------------------------------------------------
    def attach(self, account_id: str, entity_id: str, policy_arn: str, when: float) -> None:
        self.db.execute(
            "INSERT INTO iam_attachments (account_id, entity_id, policy_arn, attached) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id, entity_id, policy_arn) DO NOTHING",
            (account_id, entity_id, policy_arn, when),
        )

    def detach(self, account_id: str, entity_id: str, policy_arn: str) -> int:
        return self.db.execute(
            "DELETE FROM iam_attachments WHERE account_id = ? AND entity_id = ? AND policy_arn = ?",
            (account_id, entity_id, policy_arn),
        )

    def attached(self, account_id: str, entity_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT policy_arn FROM iam_attachments WHERE account_id = ? AND entity_id = ? ORDER BY attached, policy_arn",
            (account_id, entity_id),
        )
        return [row[0] for row in rows]

    def attachment_count(self, account_id: str, policy_arn: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) FROM iam_attachments WHERE account_id = ? AND policy_arn = ?", (account_id, policy_arn)
        )
        return int(row[0]) if row else 0

    def attached_arns(self, account_id: str) -> set[str]:
        rows = self.db.query("SELECT DISTINCT policy_arn FROM iam_attachments WHERE account_id = ?", (account_id,))
        return {row[0] for row in rows}

    def entities_for_policy(self, account_id: str, policy_arn: str) -> list[Entity]:
        rows = self.db.query(
            f"SELECT {', '.join('e.' + c.strip() for c in _ENTITY_COLUMNS.split(','))} FROM iam_attachments a "
            "JOIN iam_entities e ON e.account_id = a.account_id AND e.entity_id = a.entity_id "
            "WHERE a.account_id = ? AND a.policy_arn = ? ORDER BY e.name_key",
            (account_id, policy_arn),
        )
        return [_entity(row) for row in rows]

    # -- inline policies ---------------------------------------------------------------
    def put_inline(self, account_id: str, entity_id: str, name: str, document: str) -> None:
        self.db.execute(
            "INSERT INTO iam_inline_policies (account_id, entity_id, policy_name, document) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id, entity_id, policy_name) DO UPDATE SET document = excluded.document",
            (account_id, entity_id, name, document),
        )

    def get_inline(self, account_id: str, entity_id: str, name: str) -> str | None:
        row = self.db.query_one(
            "SELECT document FROM iam_inline_policies WHERE account_id = ? AND entity_id = ? AND policy_name = ?",
            (account_id, entity_id, name),
        )
        return str(row[0]) if row else None

    def delete_inline(self, account_id: str, entity_id: str, name: str) -> int:
        return self.db.execute(
            "DELETE FROM iam_inline_policies WHERE account_id = ? AND entity_id = ? AND policy_name = ?",
            (account_id, entity_id, name),
        )

    def inline_policies(self, account_id: str, entity_id: str) -> dict[str, str]:
        rows = self.db.query(
            "SELECT policy_name, document FROM iam_inline_policies WHERE account_id = ? AND entity_id = ? "
            "ORDER BY policy_name",
            (account_id, entity_id),
        )
        return {row[0]: row[1] for row in rows}

    # -- group membership ----------------------------------------------------------------
    def add_member(self, account_id: str, group_id: str, user_id: str, when: float) -> None:
        self.db.execute(
            "INSERT INTO iam_group_members (account_id, group_id, user_id, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id, group_id, user_id) DO NOTHING",
            (account_id, group_id, user_id, when),
        )

    def remove_member(self, account_id: str, group_id: str, user_id: str) -> int:
        return self.db.execute(
            "DELETE FROM iam_group_members WHERE account_id = ? AND group_id = ? AND user_id = ?",
            (account_id, group_id, user_id),
        )

    def member_ids(self, account_id: str, group_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT user_id FROM iam_group_members WHERE account_id = ? AND group_id = ?", (account_id, group_id)
        )
        return [row[0] for row in rows]

    def group_ids_of(self, account_id: str, user_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT group_id FROM iam_group_members WHERE account_id = ? AND user_id = ?", (account_id, user_id)
        )
        return [row[0] for row in rows]

    # -- instance profiles ---------------------------------------------------------------
    def add_profile_role(self, account_id: str, profile_id: str, role_id: str) -> None:
        self.db.execute(
            "INSERT INTO iam_instance_profile_roles (account_id, profile_id, role_id) VALUES (?, ?, ?)",
            (account_id, profile_id, role_id),
        )

    def remove_profile_role(self, account_id: str, profile_id: str, role_id: str) -> int:
        return self.db.execute(
            "DELETE FROM iam_instance_profile_roles WHERE account_id = ? AND profile_id = ? AND role_id = ?",
            (account_id, profile_id, role_id),
        )

    def profile_role_ids(self, account_id: str, profile_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT role_id FROM iam_instance_profile_roles WHERE account_id = ? AND profile_id = ?",
            (account_id, profile_id),
        )
        return [row[0] for row in rows]

    def profile_ids_of_role(self, account_id: str, role_id: str) -> list[str]:
        rows = self.db.query(
            "SELECT profile_id FROM iam_instance_profile_roles WHERE account_id = ? AND role_id = ?",
            (account_id, role_id),
        )
        return [row[0] for row in rows]

    # -- managed policy versions -----------------------------------------------------------
    def add_version(self, account_id: str, policy_id: str, number: int, document: str, when: float) -> None:
        self.db.execute(
            "INSERT INTO iam_policy_versions (account_id, policy_id, version_number, document, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (account_id, policy_id, number, document, when),
        )

    def versions(self, account_id: str, policy_id: str) -> list[PolicyVersion]:
        rows = self.db.query(
            "SELECT version_number, document, created FROM iam_policy_versions WHERE account_id = ? "
            "AND policy_id = ? ORDER BY version_number DESC",
            (account_id, policy_id),
        )
        return [PolicyVersion(int(r[0]), r[1], float(r[2])) for r in rows]

    def version(self, account_id: str, policy_id: str, number: int) -> PolicyVersion | None:
        row = self.db.query_one(
            "SELECT version_number, document, created FROM iam_policy_versions WHERE account_id = ? "
            "AND policy_id = ? AND version_number = ?",
            (account_id, policy_id, number),
        )
        return PolicyVersion(int(row[0]), row[1], float(row[2])) if row else None

    def delete_version(self, account_id: str, policy_id: str, number: int) -> int:
        return self.db.execute(
            "DELETE FROM iam_policy_versions WHERE account_id = ? AND policy_id = ? AND version_number = ?",
            (account_id, policy_id, number),
        )

    def delete_versions(self, account_id: str, policy_id: str) -> None:
        self.db.execute(
            "DELETE FROM iam_policy_versions WHERE account_id = ? AND policy_id = ?", (account_id, policy_id)
        )

    # -- access keys ---------------------------------------------------------------------
    _KEY_COLUMNS = (
        "access_key_id, account_id, user_id, secret_access_key, status, created, last_used, "
        "last_used_service, last_used_region"
    )

    def insert_key(self, key: AccessKey) -> None:
        self.db.execute(
            f"INSERT INTO iam_access_keys ({self._KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.access_key_id, key.account_id, key.user_id, key.secret_access_key, key.status,
                key.created, key.last_used, key.last_used_service, key.last_used_region,
            ),
        )

    def key(self, access_key_id: str) -> AccessKey | None:
        row = self.db.query_one(
            f"SELECT {self._KEY_COLUMNS} FROM iam_access_keys WHERE access_key_id = ?", (access_key_id,)
        )
        return AccessKey(*row) if row else None

    def keys_of(self, account_id: str, user_id: str) -> list[AccessKey]:
        rows = self.db.query(
            f"SELECT {self._KEY_COLUMNS} FROM iam_access_keys WHERE account_id = ? AND user_id = ? "
            "ORDER BY created, access_key_id",
            (account_id, user_id),
        )
        return [AccessKey(*row) for row in rows]

    def set_key_status(self, access_key_id: str, status: str) -> None:
        self.db.execute("UPDATE iam_access_keys SET status = ? WHERE access_key_id = ?", (status, access_key_id))

    def delete_key(self, access_key_id: str) -> None:
        self.db.execute("DELETE FROM iam_access_keys WHERE access_key_id = ?", (access_key_id,))

    def note_key_used(self, access_key_id: str, when: float, service: str, region: str) -> None:
        self.db.execute(
            "UPDATE iam_access_keys SET last_used = ?, last_used_service = ?, last_used_region = ? "
            "WHERE access_key_id = ?",
            (when, service, region, access_key_id),
        )
