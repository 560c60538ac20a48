"""STS's persistence: the temporary credentials it issued, so that they authenticate requests
on every node and after a restart.

Sessions are looked up by access key id alone when a request is authenticated (the key names
its account), so the key id is the primary key; the account is stored with every row and
expired rows are purged a day after they expire (until then they answer ExpiredToken).
"""

from __future__ import annotations

import json

from freehold.services.sts.models import EXPIRED_RETENTION_SECONDS, Session
from freehold.state.database import Database, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sts sessions", (
        """CREATE TABLE sts_sessions (
            access_key_id TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            secret_access_key TEXT NOT NULL,
            session_token TEXT NOT NULL,
            expiration DOUBLE PRECISION NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            arn TEXT NOT NULL,
            user_id TEXT NOT NULL,
            role_arn TEXT,
            session_name TEXT,
            source_identity TEXT,
            attributes TEXT NOT NULL
        )""",
        "CREATE INDEX sts_sessions_by_expiration ON sts_sessions (expiration)",
    )),
)

_COLUMNS = (
    "access_key_id, secret_access_key, session_token, expiration, created, kind, account_id, arn, user_id, "
    "role_arn, session_name, source_identity, attributes"
)


def _session(row: Row) -> Session:
    return Session(
        access_key_id=row[0], secret_access_key=row[1], session_token=row[2], expiration=float(row[3]),
        created=float(row[4]), kind=row[5], account_id=row[6], arn=row[7], user_id=row[8], role_arn=row[9],
        session_name=row[10], source_identity=row[11], attributes=json.loads(row[12]),
    )


class StsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("sts", MIGRATIONS)

    def save(self, session: Session) -> None:
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO sts_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.access_key_id, session.secret_access_key, session.session_token, session.expiration,
                    session.created, session.kind, session.account_id, session.arn, session.user_id,
                    session.role_arn, session.session_name, session.source_identity,
                    json.dumps(session.attributes),
                ),
            )
            # Housekeeping rides along with issuing: drop sessions long expired.
            self.db.execute(
                "DELETE FROM sts_sessions WHERE expiration < ?", (session.created - EXPIRED_RETENTION_SECONDS,)
            )

    def get(self, access_key_id: str) -> Session | None:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM sts_sessions WHERE access_key_id = ?", (access_key_id,))
        return _session(row) if row else None
