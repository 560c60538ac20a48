"""Code packages: a function's .zip checked, stored in the blob store, and unpacked once per
package under the data directory, where sandboxes find it.

The zip is kept whole (GetFunction hands it back); its unpacked tree lives at
<data_dir>/lambda/code/<blob key>/, written to a temporary directory and renamed into place,
so a crash never leaves a half-unpacked package that looks complete.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import threading
import uuid
import zipfile
from pathlib import Path

from freehold.protocol.errors import ServiceError
from freehold.services.lambda_ import limits
from freehold.services.lambda_.models import CodePackage
from freehold.state.blobs import BlobStore

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

    def __init__(self, root: Path, blobs: BlobStore) -> None:
        self.root = root
        self.blobs = blobs
        self._lock = threading.Lock()

    def path(self, blob_key: str) -> Path:
        return self.root / blob_key

    def ensure_merged(self, blob_keys: list[str], owner: tuple[int, int] | None = None) -> Path:
        """One tree of several packages unpacked in order, later ones overwriting earlier ones'
        files: a function's layers as Lambda merges them under /opt."""
        # Per owner too: each function's trees belong to its own group.
        digest = hashlib.sha256("\n".join([*blob_keys, str(owner)]).encode()).hexdigest()[:32]
        return self.ensure(f"opt-{digest}", owner, sources=blob_keys)

    def ensure(self, blob_key: str, owner: tuple[int, int] | None = None,
               sources: list[str] | None = None) -> Path:
        """The unpacked tree of a package (unpacked now if needed). Files keep their zip modes
        (executable bits matter for `bootstrap`); everything is made read-only, and with `owner`
        (uid, gid) owned by root and that gid, so only that sandbox may read it. With `sources`,
        the tree named `blob_key` is those packages unpacked one over the other."""
        target = self.path(blob_key)
        if target.is_dir() and (owner is None or target.stat().st_uid == 0):
            return target
        with self._lock:
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

    def remove(self, blob_key: str) -> None:
        target = self.path(blob_key)
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
