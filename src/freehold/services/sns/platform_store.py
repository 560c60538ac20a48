"""Persistence of mobile push (platform applications and their endpoints) and of the SMS
settings: account SMS attributes, opted-out numbers, sandbox destination numbers.
The tables are created by store.MIGRATIONS (version 2)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from freehold.state.database import Database, Row


@dataclass
class PlatformApplication:
    arn: str
    account_id: str
    region: str
    name: str
    platform: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class PlatformEndpoint:
    arn: str
    application_arn: str
    token: str
    attributes: dict[str, str] = field(default_factory=dict)  # Enabled, CustomUserData

    @property
    def enabled(self) -> bool:
        return self.attributes.get("Enabled", "true").lower() == "true"


def _application(row: Row) -> PlatformApplication:
    return PlatformApplication(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))


def _endpoint(row: Row) -> PlatformEndpoint:
    return PlatformEndpoint(row[0], row[1], row[2], json.loads(row[3]))


class PlatformStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- applications -------------------------------------------------------------------------
    def save_application(self, app: PlatformApplication) -> None:
        self.db.execute(
            "INSERT INTO sns_platform_applications (arn, account_id, region, name, platform, attributes, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (arn) DO UPDATE SET attributes = excluded.attributes",
            (app.arn, app.account_id, app.region, app.name, app.platform, json.dumps(app.attributes), time.time()),
        )

    def application(self, arn: str) -> PlatformApplication | None:
        row = self.db.query_one(
            "SELECT arn, account_id, region, name, platform, attributes FROM sns_platform_applications WHERE arn = ?",
            (arn,),
        )
        return _application(row) if row else None

    def applications(self, account_id: str, region: str, after: str, limit: int) -> list[PlatformApplication]:
        rows = self.db.query(
            "SELECT arn, account_id, region, name, platform, attributes FROM sns_platform_applications "
            "WHERE account_id = ? AND region = ? AND arn > ? ORDER BY arn LIMIT ?",
            (account_id, region, after, limit),
        )
        return [_application(row) for row in rows]

    def delete_application(self, arn: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sns_platform_endpoints WHERE application_arn = ?", (arn,))
            tx.execute("DELETE FROM sns_platform_applications WHERE arn = ?", (arn,))

    # -- endpoints ------------------------------------------------------------------------------
    def save_endpoint(self, endpoint: PlatformEndpoint) -> None:
        self.db.execute(
            "INSERT INTO sns_platform_endpoints (arn, application_arn, token, attributes, created) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (arn) DO UPDATE SET token = excluded.token, "
            "attributes = excluded.attributes",
            (endpoint.arn, endpoint.application_arn, endpoint.token, json.dumps(endpoint.attributes), time.time()),
        )

    def endpoint(self, arn: str) -> PlatformEndpoint | None:
        row = self.db.query_one(
            "SELECT arn, application_arn, token, attributes FROM sns_platform_endpoints WHERE arn = ?", (arn,)
        )
        return _endpoint(row) if row else None

    def endpoint_by_token(self, application_arn: str, token: str) -> PlatformEndpoint | None:
        row = self.db.query_one(
            "SELECT arn, application_arn, token, attributes FROM sns_platform_endpoints "
            "WHERE application_arn = ? AND token = ?",
            (application_arn, token),
        )
        return _endpoint(row) if row else None

    def endpoints(self, application_arn: str, after: str, limit: int) -> list[PlatformEndpoint]:
        rows = self.db.query(
            "SELECT arn, application_arn, token, attributes FROM sns_platform_endpoints "
            "WHERE application_arn = ? AND arn > ? ORDER BY arn LIMIT ?",
            (application_arn, after, limit),
        )
        return [_endpoint(row) for row in rows]

    def delete_endpoint(self, arn: str) -> None:
        self.db.execute("DELETE FROM sns_platform_endpoints WHERE arn = ?", (arn,))

    # -- SMS ------------------------------------------------------------------------------------
    def sms_attributes(self, account_id: str, region: str) -> dict[str, str]:
        row = self.db.query_one(
            "SELECT attributes FROM sns_sms_settings WHERE account_id = ? AND region = ?", (account_id, region)
        )
        return dict(json.loads(row[0])) if row else {}

    def save_sms_attributes(self, account_id: str, region: str, attributes: dict[str, str]) -> None:
        self.db.execute(
            "INSERT INTO sns_sms_settings (account_id, region, attributes) VALUES (?, ?, ?) "
            "ON CONFLICT (account_id, region) DO UPDATE SET attributes = excluded.attributes",
            (account_id, region, json.dumps(attributes)),
        )

    def opted_out(self, account_id: str, region: str, number: str) -> bool:
        return self.db.query_one(
            "SELECT 1 FROM sns_sms_opt_outs WHERE account_id = ? AND region = ? AND phone_number = ?",
            (account_id, region, number),
        ) is not None

    def opted_out_numbers(self, account_id: str, region: str, after: str, limit: int) -> list[str]:
        rows = self.db.query(
            "SELECT phone_number FROM sns_sms_opt_outs WHERE account_id = ? AND region = ? AND phone_number > ? "
            "ORDER BY phone_number LIMIT ?",
            (account_id, region, after, limit),
        )
        return [row[0] for row in rows]

    def opt_in(self, account_id: str, region: str, number: str) -> None:
        self.db.execute(
            "DELETE FROM sns_sms_opt_outs WHERE account_id = ? AND region = ? AND phone_number = ?",
            (account_id, region, number),
        )

    def opt_out(self, account_id: str, region: str, number: str) -> None:
        self.db.execute(
            "INSERT INTO sns_sms_opt_outs (account_id, region, phone_number) VALUES (?, ?, ?) "
            "ON CONFLICT (account_id, region, phone_number) DO NOTHING",
            (account_id, region, number),
        )

    def sandbox_number(self, account_id: str, region: str, number: str) -> tuple[str, str] | None:
        """(status, one-time password) of a sandbox destination number."""
        row = self.db.query_one(
            "SELECT status, one_time_password FROM sns_sms_sandbox_numbers "
            "WHERE account_id = ? AND region = ? AND phone_number = ?",
            (account_id, region, number),
        )
        return (row[0], row[1]) if row else None

    def save_sandbox_number(self, account_id: str, region: str, number: str, status: str, password: str) -> None:
        self.db.execute(
            "INSERT INTO sns_sms_sandbox_numbers (account_id, region, phone_number, status, one_time_password) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, region, phone_number) DO UPDATE SET "
            "status = excluded.status, one_time_password = excluded.one_time_password",
            (account_id, region, number, status, password),
        )

    def sandbox_numbers(self, account_id: str, region: str, after: str, limit: int) -> list[tuple[str, str]]:
        rows = self.db.query(
            "SELECT phone_number, status FROM sns_sms_sandbox_numbers WHERE account_id = ? AND region = ? "
            "AND phone_number > ? ORDER BY phone_number LIMIT ?",
            (account_id, region, after, limit),
        )
        return [(row[0], row[1]) for row in rows]

    def delete_sandbox_number(self, account_id: str, region: str, number: str) -> bool:
        return self.db.execute(
            "DELETE FROM sns_sms_sandbox_numbers WHERE account_id = ? AND region = ? AND phone_number = ?",
            (account_id, region, number),
        ) == 1
