"""Layer versions in SQL (tables lambda_layers and lambda_layer_versions, Lambda's migration 3).

A layer's versions are numbered from a per-layer counter that never goes back, so a deleted
version's number is never reused (as on AWS). Each version keeps its metadata as JSON, its
content's blob key and its resource policy (with a RevisionId).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.services.lambda_.models import FunctionVersion
from freehold.state.database import Database, IntegrityError


@dataclass
class LayerVersionRow:
    account_id: str
    region: str
    layer_name: str
    version: int
    document: dict[str, Any]
    code_blob: str
    policy: dict[str, Any] | None
    policy_revision: str | None

    @property
    def layer_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{self.layer_name}"

    @property
    def version_arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"


_COLUMNS = "account_id, region, layer_name, version, document, code_blob, policy, policy_revision"


def _row(row: Any) -> LayerVersionRow:
    return LayerVersionRow(row[0], row[1], row[2], int(row[3]), json.loads(row[4]), row[5],
                           json.loads(row[6]) if row[6] else None, row[7])


class LayerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def publish(self, account_id: str, region: str, layer_name: str, document: dict[str, Any],
                code_blob: str) -> LayerVersionRow:
        """A new version numbered from the layer's counter, in one transaction."""
        for _ in range(5):
            try:
                with self.db.transaction() as tx:
                    row = tx.query_one(
                        "SELECT next_version FROM lambda_layers WHERE account_id = ? AND region = ? "
                        "AND layer_name = ? FOR UPDATE", (account_id, region, layer_name),
                    )
                    if row is None:
                        number = 1
                        tx.execute("INSERT INTO lambda_layers (account_id, region, layer_name, next_version) "
                                   "VALUES (?, ?, ?, 2)", (account_id, region, layer_name))
                    else:
                        number = int(row[0])
                        tx.execute("UPDATE lambda_layers SET next_version = ? WHERE account_id = ? AND region = ? "
                                   "AND layer_name = ?", (number + 1, account_id, region, layer_name))
                    tx.execute(
                        f"INSERT INTO lambda_layer_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                        (account_id, region, layer_name, number, json.dumps(document), code_blob),
                    )
                return LayerVersionRow(account_id, region, layer_name, number, document, code_blob, None, None)
            except IntegrityError:
                continue  # two first versions of a new layer at once: the loser numbers again
        raise RuntimeError("could not number a layer version")

    def get(self, account_id: str, region: str, layer_name: str, version: int) -> LayerVersionRow | None:
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM lambda_layer_versions WHERE account_id = ? AND region = ? AND layer_name = ? "
            "AND version = ?", (account_id, region, layer_name, version),
        )
        return _row(row) if row else None

    def versions(self, account_id: str, region: str, layer_name: str | None = None) -> list[LayerVersionRow]:
        """Versions of one layer (or of every layer), by name then newest first."""
        sql = f"SELECT {_COLUMNS} FROM lambda_layer_versions WHERE account_id = ? AND region = ?"
        params: tuple[Any, ...] = (account_id, region)
        if layer_name is not None:
            sql += " AND layer_name = ?"
            params += (layer_name,)
        rows = self.db.query(sql + " ORDER BY layer_name, version DESC", params)
        return [_row(row) for row in rows]

    def delete(self, account_id: str, region: str, layer_name: str, version: int) -> str | None:
        """Delete a version; its blob key when no function version uses the content any more
        (functions keep running with layers deleted after they were configured, as on AWS)."""
        with self.db.transaction() as tx:
            row = tx.query_one(
                "SELECT code_blob FROM lambda_layer_versions WHERE account_id = ? AND region = ? AND layer_name = ? "
                "AND version = ?", (account_id, region, layer_name, version),
            )
            if row is None:
                return None
            tx.execute("DELETE FROM lambda_layer_versions WHERE account_id = ? AND region = ? AND layer_name = ? "
                       "AND version = ?", (account_id, region, layer_name, version))
            blob = str(row[0])
            # Function versions record their layers' blob keys in their configuration.
            used = tx.query_one("SELECT 1 FROM lambda_versions WHERE config LIKE ?", (f"%{blob}%",))
        return None if used else blob

    def unused(self, blob: str) -> bool:
        """Whether a layer's content is no longer needed: its version was deleted and no function
        version uses it. Once true it stays true (a deleted version cannot be added again)."""
        with self.db.transaction() as tx:
            if tx.query_one("SELECT 1 FROM lambda_layer_versions WHERE code_blob = ?", (blob,)) is not None:
                return False
            return tx.query_one("SELECT 1 FROM lambda_versions WHERE config LIKE ?", (f"%{blob}%",)) is None

    def function_versions_using(self, blob: str) -> list[FunctionVersion]:
        """The function versions whose layers include this content (any account or region:
        another account may use a layer version its policy grants)."""
        rows = self.db.query("SELECT config FROM lambda_versions WHERE config LIKE ?", (f"%{blob}%",))
        return [FunctionVersion.from_json(row[0]) for row in rows]

    def function_versions_with_layers(self) -> list[FunctionVersion]:
        versions = [FunctionVersion.from_json(row[0]) for row in
                    self.db.query("SELECT config FROM lambda_versions WHERE config LIKE ?", ('%"Blob"%',))]
        return [version for version in versions if version.layer_code]

    def code_blob_used(self, blob: str) -> bool:
        """Whether some function version runs this package (its unpacked tree is needed)."""
        return self.db.query_one("SELECT 1 FROM lambda_versions WHERE code_blob = ?", (blob,)) is not None

    def update_policy(self, account_id: str, region: str, layer_name: str, version: int,
                      change: Callable[[LayerVersionRow], tuple[dict[str, Any] | None, str | None]],
                      ) -> LayerVersionRow | None:
        """Read, change and write one layer version's policy in one transaction, its row locked
        (FOR UPDATE; SQLite's BEGIN IMMEDIATE serializes writers anyway): concurrent
        AddLayerVersionPermission calls (Terraform adds them in parallel) each see the others'
        statements instead of failing or overwriting them. `change` gets the version as stored
        now and returns (policy or None, RevisionId or None); it may raise to abort. Returns the
        version as it was before the change, None when it does not exist."""
        with self.db.transaction() as tx:
            row = tx.query_one(
                f"SELECT {_COLUMNS} FROM lambda_layer_versions WHERE account_id = ? AND region = ? "
                "AND layer_name = ? AND version = ? FOR UPDATE", (account_id, region, layer_name, version),
            )
            if row is None:
                return None
            current = _row(row)
            policy, revision = change(current)
            tx.execute(
                "UPDATE lambda_layer_versions SET policy = ?, policy_revision = ? WHERE account_id = ? "
                "AND region = ? AND layer_name = ? AND version = ?",
                (json.dumps(policy) if policy else None, revision, account_id, region, layer_name, version),
            )
        return current
