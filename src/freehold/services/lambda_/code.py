"""Code packages: a function's .zip checked, stored in the blob store, and unpacked once per
package under the data directory, where sandboxes find it.

The zip is kept whole (GetFunction hands it back); its unpacked tree lives at
<data_dir>/lambda/code/<blob key>/, written to a temporary directory and renamed into place,
so a crash never leaves a half-unpacked package that looks complete.

Trees are removed through one path, `CodeTrees.remove`: a package no version uses any more,
or a function's merged layers (/opt) no version uses any more. A tree some live sandbox still
has bind-mounted (its code or /opt) waits until that sandbox is gone: a watcher thread
retries while removals are pending and stops when none are left.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import shutil
import stat
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.lambda_ import limits
from freehold.services.lambda_.models import CodePackage
from freehold.state.blobs import BlobStore

log = logging.getLogger("freehold.lambda")

SWEEP_SECONDS = 0.5  # how often pending removals are retried while a sandbox holds their tree
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


def inspect_zip(data: bytes) -> int:
    """The unzipped size of a valid .zip; AWS's error for anything else."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            for entry in entries:
                if entry.filename.startswith("/") or ".." in Path(entry.filename).parts:
                    raise ServiceError("InvalidParameterValueException", UNZIP_ERROR)
            return sum(entry.file_size for entry in entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise ServiceError("InvalidParameterValueException", UNZIP_ERROR) from None


def store_zip(blobs: BlobStore, data: bytes, operation: str) -> CodePackage:
    """Check and store a .zip; its CodeSha256 is the base64 of its SHA-256 digest."""
    limits.check_zip_size(len(data), operation)
    unzipped = inspect_zip(data)
    limits.check_unzipped_size(unzipped)
    info = blobs.write([data])
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return CodePackage(blob_key=info.key, size=info.size, sha256=digest, unzipped_size=unzipped)


class CodeTrees:
    """Unpacked packages under `root`, made on first use, shared by every version using them."""

    def __init__(self, root: Path, blobs: BlobStore,
                 in_use: Callable[[], Iterable[Path]] | None = None) -> None:
        self.root = root
        self.blobs = blobs
        # The trees live sandboxes run with (their code and /opt), asked before removing one.
        self.in_use: Callable[[], Iterable[Path]] = in_use or (lambda: ())
        self._lock = threading.Lock()
        # Removals waiting for sandboxes: tree name -> "is it needed again?" (asked just before
        # removing, under the lock; None: never again).
        self._pending: dict[str, Callable[[], bool] | None] = {}
        self._watcher: threading.Thread | None = None

    def path(self, blob_key: str) -> Path:
        return self.root / blob_key

    @staticmethod
    def merged_name(blob_keys: list[str], owner: tuple[int, int] | None) -> str:
        """The name of the tree of these packages merged in order, for this owner."""
        # Per owner too: each function's trees belong to its own group.
        digest = hashlib.sha256("\n".join([*blob_keys, str(owner)]).encode()).hexdigest()[:32]
        return f"opt-{digest}"

    def ensure_merged(self, blob_keys: list[str], owner: tuple[int, int] | None = None) -> Path:
        """One tree of several packages unpacked in order, later ones overwriting earlier ones'
        files: a function's layers as Lambda merges them under /opt."""
        return self.ensure(self.merged_name(blob_keys, owner), owner, sources=blob_keys)

    def ensure(self, blob_key: str, owner: tuple[int, int] | None = None,
               sources: list[str] | None = None) -> Path:
        """The unpacked tree of a package (unpacked now if needed). Files keep their zip modes
        (executable bits matter for `bootstrap`); everything is made read-only, and with `owner`
        (uid, gid) owned by root and that gid, so only that sandbox may read it. With `sources`,
        the tree named `blob_key` is those packages unpacked one over the other."""
        target = self.path(blob_key)
        if blob_key not in self._pending and target.is_dir() and (owner is None or target.stat().st_uid == 0):
            return target
        with self._lock:
            # Wanted again while its removal waited: it stays (a removal underway holds the
            # lock, so the tree is then either whole or gone and unpacked anew below).
            self._pending.pop(blob_key, None)
            if target.is_dir():
                if owner is not None and target.stat().st_uid != 0:
                    _seal(target, owner)  # unpacked by an older freehold, owned by the sandbox uid
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".tmp-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                for source in sources if sources is not None else [blob_key]:
                    with self.blobs.open(source) as file, zipfile.ZipFile(file) as archive:
                        for entry in archive.infolist():
                            _extract(archive, entry, staging)
                _seal(staging, owner)
                os.rename(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target

    def remove(self, blob_key: str, needed: Callable[[], bool] | None = None) -> None:
        """Remove a tree once no live sandbox runs with it (at once when none does). `needed`
        is asked just before removing: a tree that became needed again meanwhile (a function
        configured with the same layers) stays."""
        with self._lock:
            self._pending[blob_key] = needed
        self.sweep()

    def sweep(self) -> None:
        """Remove the pending trees no live sandbox holds; keep watching while some wait."""
        with self._lock:
            if not self._pending:
                return
            try:
                held = set(self.in_use())
                for name, needed in list(self._pending.items()):
                    target = self.path(name)
                    if target in held or (needed is not None and needed()):
                        if target not in held:
                            del self._pending[name]  # needed again: it stays
                        continue
                    del self._pending[name]
                    _delete_tree(target)
            except Exception:  # cannot tell now: kept, and retried by the watcher
                log.exception("lambda: removing unused code trees failed")
            if self._pending and self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="freehold-lambda-trees", daemon=True)
                self._watcher.start()

    def _watch(self) -> None:
        """Retry the pending removals until none is left (the decision to stop is taken under
        the lock, so a removal added meanwhile starts a new watcher)."""
        while True:
            time.sleep(SWEEP_SECONDS)
            self.sweep()
            with self._lock:
                if not self._pending:
                    self._watcher = None
                    return

    @property
    def pending(self) -> set[str]:
        return set(self._pending)


def trees_in_use(executor: Any) -> set[Path]:
    """The code and /opt trees of an executor's live sandboxes (None: no sandboxes yet)."""
    if executor is None:
        return set()
    # A copy of the set in one C-level step (atomic under the GIL) while its loop runs.
    sandboxes = list(executor.pool.sandboxes)
    held = {sandbox.spec.code_dir for sandbox in sandboxes}
    held.update(sandbox.spec.opt_dir for sandbox in sandboxes if sandbox.spec.opt_dir is not None)
    return held


def _delete_tree(target: Path) -> None:
    if not target.is_dir():
        return
    # Sealed trees are read-only: make directories writable again so a non-root server
    # can delete them too.
    for directory, _, _ in os.walk(target):
        os.chmod(directory, 0o700)
    shutil.rmtree(target, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, root: Path) -> None:
    destination = root / entry.filename
    if entry.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(destination) and not destination.is_dir():
        os.unlink(destination)  # merging layers: the later layer's file wins
    mode = (entry.external_attr >> 16) & 0o777
    if stat.S_ISLNK(entry.external_attr >> 16):
        # Symlinks inside packages are kept only when they stay inside the package.
        link = archive.read(entry).decode()
        if os.path.isabs(link) or ".." in Path(link).parts:
            return
        os.symlink(link, destination)
        return
    with archive.open(entry) as source, open(destination, "wb") as sink:
        shutil.copyfileobj(source, sink, 1024 * 1024)
    # Zips made on Windows carry no Unix modes: files are then readable, not executable.
    os.chmod(destination, 0o555 if mode & 0o111 else 0o444)


def _seal(root: Path, owner: tuple[int, int] | None) -> None:
    """Make the tree read-only. With an owner (the sandbox's uid, gid), the tree belongs to
    root and the sandbox's group: readable and executable by the function, never writable,
    and it cannot chmod what it does not own (directories and executables 0550, files 0440)."""
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            if owner is not None:
                os.lchown(path, 0, owner[1])
            if os.path.islink(path):
                continue
            mode = os.stat(path).st_mode
            if owner is None:
                if stat.S_ISDIR(mode):
                    os.chmod(path, 0o555)
            elif stat.S_ISDIR(mode) or mode & 0o111:
                os.chmod(path, 0o550)
            else:
                os.chmod(path, 0o440)
    if owner is not None:
        os.chown(root, 0, owner[1])
        os.chmod(root, 0o550)
    else:
        os.chmod(root, 0o555)
