"""S3's persistence: buckets, their configuration documents, object versions, multipart uploads.

Metadata lives in SQL; bytes live in the blob store and rows name their blobs (`segments`).
A blob is always written before the row that names it is committed, and deleted only after
the row that named it is gone, so a crash never exposes a partial object: at worst it leaves
an orphan blob behind.

Bucket names are global, as on AWS (one namespace across accounts and regions). Every object
version is a row; `is_latest` marks the current one of each key (a delete marker may be it),
`seq` orders the versions of a key (higher is newer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from freehold.services.s3.models import NULL_VERSION, Bucket, ObjectVersion, new_version_id
from freehold.state.database import Database, IntegrityError, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "s3 buckets, objects, multipart uploads", (
        """CREATE TABLE s3_buckets (
            name TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            versioning TEXT NOT NULL
        )""",
        "CREATE INDEX s3_buckets_by_account ON s3_buckets (account_id, name)",
        """CREATE TABLE s3_bucket_configs (
            bucket TEXT NOT NULL,
            kind TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (bucket, kind)
        )""",
        """CREATE TABLE s3_objects (
            bucket TEXT NOT NULL,
            object_key TEXT NOT NULL,
            version_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            is_latest INTEGER NOT NULL,
            delete_marker INTEGER NOT NULL,
            size BIGINT NOT NULL,
            etag TEXT NOT NULL,
            last_modified DOUBLE PRECISION NOT NULL,
            storage_class TEXT NOT NULL,
            segments TEXT NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            PRIMARY KEY (bucket, object_key, version_id)
        )""",
        "CREATE INDEX s3_objects_latest ON s3_objects (bucket, is_latest, object_key)",
        "CREATE INDEX s3_objects_by_seq ON s3_objects (bucket, object_key, seq)",
        """CREATE TABLE s3_uploads (
            upload_id TEXT NOT NULL PRIMARY KEY,
            bucket TEXT NOT NULL,
            object_key TEXT NOT NULL,
            initiated DOUBLE PRECISION NOT NULL,
            storage_class TEXT NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL
        )""",
        "CREATE INDEX s3_uploads_by_key ON s3_uploads (bucket, object_key, initiated)",
        """CREATE TABLE s3_parts (
            upload_id TEXT NOT NULL,
            part_number INTEGER NOT NULL,
            blob_key TEXT NOT NULL,
            size BIGINT NOT NULL,
            etag TEXT NOT NULL,
            last_modified DOUBLE PRECISION NOT NULL,
            checksums TEXT NOT NULL,
            PRIMARY KEY (upload_id, part_number)
        )""",
    )),
    Migration(2, "s3 small objects inline", ("ALTER TABLE s3_objects ADD COLUMN inline_body BLOB",)),
    Migration(3, "s3 per-key write order", (
        """CREATE TABLE s3_object_heads (
            bucket TEXT NOT NULL,
            object_key TEXT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (bucket, object_key)
        )""",
        "INSERT INTO s3_object_heads (bucket, object_key, seq) "
        "SELECT bucket, object_key, MAX(seq) FROM s3_objects GROUP BY bucket, object_key",
    )),
)

_OBJECT_COLUMNS = (
    "bucket, object_key, version_id, seq, is_latest, delete_marker, size, etag, last_modified, storage_class, "
    "segments, attributes, tags"
)
# Single-object reads also take the inline bytes; listings never do.
_READ_COLUMNS = _OBJECT_COLUMNS + ", inline_body"
Segments = list[tuple[str, int]]
MAX_PARTS = 10000


def _object(row: Row) -> ObjectVersion:
    return ObjectVersion(
        bucket=row[0], key=row[1], version_id=row[2], seq=int(row[3]), is_latest=bool(row[4]),
        delete_marker=bool(row[5]), size=int(row[6]), etag=row[7], last_modified=float(row[8]),
        storage_class=row[9], segments=[(k, int(s)) for k, s in json.loads(row[10])],
        attributes=json.loads(row[11]), tags=json.loads(row[12]),
        inline=bytes(row[13]) if len(row) > 13 and row[13] is not None else None,
    )


def _bucket(row: Row) -> Bucket:
    return Bucket(name=row[0], account_id=row[1], region=row[2], created=float(row[3]), versioning=row[4])


class Upload:
    """An in-progress multipart upload."""

    def __init__(self, row: Row) -> None:
        self.upload_id: str = row[0]
        self.bucket: str = row[1]
        self.key: str = row[2]
        self.initiated = float(row[3])
        self.storage_class: str = row[4]
        self.attributes: dict[str, Any] = json.loads(row[5])
        self.tags: dict[str, str] = json.loads(row[6])


class Part:
    def __init__(self, row: Row) -> None:
        self.number = int(row[0])
        self.blob: str = row[1]
        self.size = int(row[2])
        self.etag: str = row[3]
        self.last_modified = float(row[4])
        self.checksums: dict[str, str] = json.loads(row[5])


class BucketExists(Exception):
    def __init__(self, owner: str) -> None:
        self.owner = owner


class S3Store:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("s3", MIGRATIONS)

    # -- buckets -------------------------------------------------------------------------------
    def create_bucket(self, bucket: Bucket) -> None:
        """BucketExists(owner account) when the name is taken."""
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO s3_buckets (name, account_id, region, created, versioning) VALUES (?, ?, ?, ?, ?)",
                    (bucket.name, bucket.account_id, bucket.region, bucket.created, bucket.versioning),
                )
        except IntegrityError:
            existing = self.bucket(bucket.name)
            raise BucketExists(existing.account_id if existing else "") from None

    def bucket(self, name: str) -> Bucket | None:
        row = self.db.query_one(
            "SELECT name, account_id, region, created, versioning FROM s3_buckets WHERE name = ?", (name,)
        )
        return _bucket(row) if row else None

    def buckets(self, account_id: str, after: str, prefix: str, limit: int) -> list[Bucket]:
        rows = self.db.query(
            "SELECT name, account_id, region, created, versioning FROM s3_buckets "
            "WHERE account_id = ? AND name > ? AND name >= ? ORDER BY name LIMIT ?",
            (account_id, after, prefix, limit),
        )
        return [_bucket(r) for r in rows if r[0].startswith(prefix)]

    def delete_bucket(self, name: str) -> bool:
        """False when the bucket still holds object versions (or delete markers)."""
        with self.db.transaction() as tx:
            if tx.query_one("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,)):
                return False
            uploads = [r[0] for r in tx.query("SELECT upload_id FROM s3_uploads WHERE bucket = ?", (name,))]
            for upload_id in uploads:
                tx.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
            tx.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
            tx.execute("DELETE FROM s3_bucket_configs WHERE bucket = ?", (name,))
            tx.execute("DELETE FROM s3_object_heads WHERE bucket = ?", (name,))
            tx.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
        return True

    def set_versioning(self, name: str, status: str) -> None:
        self.db.execute("UPDATE s3_buckets SET versioning = ? WHERE name = ?", (status, name))

    # -- configuration documents (tagging, cors, policy, ...) ------------------------------
    def config(self, bucket: str, kind: str) -> Any:
        row = self.db.query_one("SELECT document FROM s3_bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind))
        return json.loads(row[0]) if row else None

    def put_config(self, bucket: str, kind: str, document: Any) -> None:
        self.db.execute(
            "INSERT INTO s3_bucket_configs (bucket, kind, document) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document",
            (bucket, kind, json.dumps(document)),
        )

    def configs_of_kind(self, kind: str) -> list[tuple[str, Any]]:
        """(bucket, document) of every bucket with a document of this kind (background workers)."""
        rows = self.db.query("SELECT bucket, document FROM s3_bucket_configs WHERE kind = ? ORDER BY bucket", (kind,))
        return [(r[0], json.loads(r[1])) for r in rows]

    def delete_config(self, bucket: str, kind: str) -> None:
        self.db.execute("DELETE FROM s3_bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind))

    # -- objects -------------------------------------------------------------------------------
    def latest(self, bucket: str, key: str) -> ObjectVersion | None:
        row = self.db.query_one(
            f"SELECT {_READ_COLUMNS} FROM s3_objects WHERE bucket = ? AND is_latest = 1 AND object_key = ?",
            (bucket, key),
        )
        return _object(row) if row else None

    def version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        row = self.db.query_one(
            f"SELECT {_READ_COLUMNS} FROM s3_objects WHERE bucket = ? AND object_key = ? AND version_id = ?",
            (bucket, key, version_id),
        )
        return _object(row) if row else None

    def put(
        self, obj: ObjectVersion, versioning: str, check: Callable[[ObjectVersion | None], None] | None = None,
        completing: str | None = None,
    ) -> list[str]:
        """Make `obj` (a version or a delete marker) the latest of its key, as the bucket's
        versioning state says: unversioned and suspended buckets replace the 'null' version,
        enabled ones keep every version. `check(current)` runs inside the transaction (for
        conditional writes). `completing` is the multipart upload this object completes: it
        ends in the same transaction. Returns the blobs no longer referenced (delete them
        after the commit)."""
        freed: list[str] = []
        with self.db.transaction() as tx:
            if completing is not None and not tx.query_one(
                "SELECT 1 FROM s3_uploads WHERE upload_id = ? FOR UPDATE", (completing,)
            ):
                raise LookupError(completing)
            obj.seq = self._claim_key(tx, obj.bucket, obj.key)
            if check is not None:
                row = tx.query_one(
                    f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND is_latest = 1 "
                    "AND object_key = ?",
                    (obj.bucket, obj.key),
                )
                check(_object(row) if row else None)
            if versioning == "Enabled":
                obj.version_id = new_version_id()
            else:
                # The 'null' version is replaced (it is the only version of a bucket that was
                # never versioned); its blobs are freed.
                obj.version_id = NULL_VERSION
                for (segments,) in tx.query(
                    "DELETE FROM s3_objects WHERE bucket = ? AND object_key = ? AND version_id = ? RETURNING segments",
                    (obj.bucket, obj.key, NULL_VERSION),
                ):
                    freed.extend(blob for blob, _ in json.loads(segments))
            if versioning:
                # Enabled or Suspended: the current version (if any is left) becomes non-current.
                tx.execute(
                    "UPDATE s3_objects SET is_latest = 0 WHERE bucket = ? AND object_key = ? AND is_latest = 1",
                    (obj.bucket, obj.key),
                )
            obj.is_latest = True
            tx.execute(
                f"INSERT INTO s3_objects ({_READ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    obj.bucket, obj.key, obj.version_id, obj.seq, 1, int(obj.delete_marker), obj.size, obj.etag,
                    obj.last_modified, obj.storage_class, json.dumps(obj.segments), json.dumps(obj.attributes),
                    json.dumps(obj.tags), obj.inline,
                ),
            )
            if completing is not None:
                used = {blob for blob, _ in obj.segments}
                parts = tx.query("SELECT blob_key FROM s3_parts WHERE upload_id = ?", (completing,))
                freed.extend(r[0] for r in parts if r[0] not in used)
                tx.execute("DELETE FROM s3_parts WHERE upload_id = ?", (completing,))
                tx.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (completing,))
        return freed

    @staticmethod
    def _lock_key(tx: Any, bucket: str, key: str) -> None:
        """Take the key's head row (created on first use): writers of one key take turns."""
        tx.execute(
            "INSERT INTO s3_object_heads (bucket, object_key, seq) VALUES (?, ?, 0) "
            "ON CONFLICT (bucket, object_key) DO UPDATE SET seq = s3_object_heads.seq",
            (bucket, key),
        )

    @staticmethod
    def _claim_key(tx: Any, bucket: str, key: str) -> int:
        """Take the key's head row (writers of one key take turns) and the key's next version
        sequence number, in one statement."""
        row = tx.query_one(
            "INSERT INTO s3_object_heads (bucket, object_key, seq) VALUES (?, ?, 1) "
            "ON CONFLICT (bucket, object_key) DO UPDATE SET seq = s3_object_heads.seq + 1 RETURNING seq",
            (bucket, key),
        )
        assert row is not None
        return int(row[0])

    @staticmethod
    def _version_in(tx: Any, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        row = tx.query_one(
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND object_key = ? AND version_id = ?",
            (bucket, key, version_id),
        )
        return _object(row) if row else None

    def delete_version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        """Remove one version for good (the next newest becomes latest); the removed version."""
        with self.db.transaction() as tx:
            self._lock_key(tx, bucket, key)
            removed = self._version_in(tx, bucket, key, version_id)
            if removed is None:
                return None
            tx.execute(
                "DELETE FROM s3_objects WHERE bucket = ? AND object_key = ? AND version_id = ?",
                (bucket, key, version_id),
            )
            if removed.is_latest:
                top = tx.query_one(
                    "SELECT MAX(seq) FROM s3_objects WHERE bucket = ? AND object_key = ?", (bucket, key)
                )
                if top and top[0] is not None:
                    tx.execute(
                        "UPDATE s3_objects SET is_latest = 1 WHERE bucket = ? AND object_key = ? AND seq = ?",
                        (bucket, key, int(top[0])),
                    )
        return removed

    def update_tags(self, bucket: str, key: str, version_id: str, tags: dict[str, str]) -> None:
        self.db.execute(
            "UPDATE s3_objects SET tags = ? WHERE bucket = ? AND object_key = ? AND version_id = ?",
            (json.dumps(tags), bucket, key, version_id),
        )

    def list_latest(self, bucket: str, start: str, inclusive: bool, end: str | None, limit: int) -> list[ObjectVersion]:
        """Current, non-deleted objects with keys from `start` (exclusive unless `inclusive`)
        and below `end`, in key order."""
        op = ">=" if inclusive else ">"
        sql = (
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0 "
            f"AND object_key {op} ?"
        )
        args: list[Any] = [bucket, start]
        if end is not None:
            sql += " AND object_key < ?"
            args.append(end)
        sql += " ORDER BY object_key LIMIT ?"
        args.append(limit)
        return [_object(r) for r in self.db.query(sql, args)]

    def list_versions(
        self, bucket: str, start: str, inclusive: bool, end: str | None, after_seq: int | None, limit: int
    ) -> list[ObjectVersion]:
        """Every version (and delete marker), by key, newest first; when `after_seq` is set the
        versions of key `start` older than it come first, then the keys after `start`."""
        rows: list[Row] = []
        if after_seq is not None:
            rows = self.db.query(
                f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND object_key = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (bucket, start, after_seq, limit),
            )
            inclusive = False
        op = ">=" if inclusive else ">"
        sql = f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND object_key {op} ?"
        args: list[Any] = [bucket, start]
        if end is not None:
            sql += " AND object_key < ?"
            args.append(end)
        sql += " ORDER BY object_key, seq DESC LIMIT ?"
        args.append(limit)
        rows += self.db.query(sql, args)
        return [_object(r) for r in rows[:limit]]

    # -- multipart uploads ---------------------------------------------------------------------
    def create_upload(self, upload_id: str, bucket: str, key: str, initiated: float, storage_class: str,
                      attributes: dict[str, Any], tags: dict[str, str]) -> None:
        self.db.execute(
            "INSERT INTO s3_uploads (upload_id, bucket, object_key, initiated, storage_class, attributes, tags) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (upload_id, bucket, key, initiated, storage_class, json.dumps(attributes), json.dumps(tags)),
        )

    def upload(self, upload_id: str) -> Upload | None:
        row = self.db.query_one(
            "SELECT upload_id, bucket, object_key, initiated, storage_class, attributes, tags FROM s3_uploads "
            "WHERE upload_id = ?",
            (upload_id,),
        )
        return Upload(row) if row else None

    def uploads(self, bucket: str, start_key: str, start_upload: str, end: str | None, limit: int) -> list[Upload]:
        sql = (
            "SELECT upload_id, bucket, object_key, initiated, storage_class, attributes, tags FROM s3_uploads "
            "WHERE bucket = ? AND (object_key > ? OR (object_key = ? AND upload_id > ?))"
        )
        args: list[Any] = [bucket, start_key, start_key, start_upload]
        if end is not None:
            sql += " AND object_key < ?"
            args.append(end)
        sql += " ORDER BY object_key, upload_id LIMIT ?"
        args.append(limit)
        return [Upload(r) for r in self.db.query(sql, args)]

    def put_part(self, upload_id: str, number: int, blob: str, size: int, etag: str, modified: float,
                 checksums: dict[str, str]) -> str | None:
        """Store a part (replacing one with the same number); the replaced blob, or None.
        NoSuchUpload-worthy races (the upload completed meanwhile) return '' ."""
        with self.db.transaction() as tx:
            if not tx.query_one("SELECT 1 FROM s3_uploads WHERE upload_id = ? FOR UPDATE", (upload_id,)):
                return ""
            old = tx.query_one("SELECT blob_key FROM s3_parts WHERE upload_id = ? AND part_number = ?", (upload_id, number))
            tx.execute(
                "INSERT INTO s3_parts (upload_id, part_number, blob_key, size, etag, last_modified, checksums) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (upload_id, part_number) DO UPDATE SET "
                "blob_key = excluded.blob_key, size = excluded.size, etag = excluded.etag, "
                "last_modified = excluded.last_modified, checksums = excluded.checksums",
                (upload_id, number, blob, size, etag, modified, json.dumps(checksums)),
            )
        return str(old[0]) if old else None

    def parts(self, upload_id: str, after: int = 0, limit: int = MAX_PARTS) -> list[Part]:
        rows = self.db.query(
            "SELECT part_number, blob_key, size, etag, last_modified, checksums FROM s3_parts "
            "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
            (upload_id, after, limit),
        )
        return [Part(r) for r in rows]

    def finish_upload(self, upload_id: str) -> list[str]:
        """Forget an upload and its parts; the blobs of parts to delete."""
        with self.db.transaction() as tx:
            blobs = [r[0] for r in tx.query("SELECT blob_key FROM s3_parts WHERE upload_id = ?", (upload_id,))]
            tx.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
            tx.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))
        return blobs
