"""The root credentials file: how an operator gets into a `--strict-auth` node.

At start a strict node makes sure the default account's root user has an access key (IAM's
own storage, see freehold.services.iam.root_keys) and writes the pair to
`<data_dir>/root-credentials`, an AWS shared-credentials file (mode 0600) with the profile
`[freehold]`, so that every SDK and the aws CLI can use it as it is:

    AWS_SHARED_CREDENTIALS_FILE=.freehold/root-credentials AWS_PROFILE=freehold aws sts get-caller-identity

FREEHOLD_ROOT_ACCESS_KEY_ID and FREEHOLD_ROOT_SECRET_ACCESS_KEY pin the pair instead (for
clusters and CI, where the pair must be known before the node starts): it is imported into
IAM when absent. The secret is never printed or logged; only the file's location is.
"""

from __future__ import annotations

import configparser
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from freehold.services.iam.root_keys import KeyPair, RootKeyError

FILE_NAME = "root-credentials"
PROFILE = "freehold"
ENV_KEY_ID = "FREEHOLD_ROOT_ACCESS_KEY_ID"
ENV_SECRET = "FREEHOLD_ROOT_SECRET_ACCESS_KEY"


def credentials_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def pinned_pair(environ: Mapping[str, str] | None = None) -> KeyPair | None:
    """The pair pinned by FREEHOLD_ROOT_ACCESS_KEY_ID/_SECRET_ACCESS_KEY; None when unset."""
    env = os.environ if environ is None else environ
    key_id = env.get(ENV_KEY_ID, "").strip()
    secret = env.get(ENV_SECRET, "").strip()
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        missing = ENV_KEY_ID if not key_id else ENV_SECRET
        raise RootKeyError(f"{ENV_KEY_ID} and {ENV_SECRET} pin the root key pair together; {missing} is not set")
    return KeyPair(key_id, secret)


def read_pair(path: Path) -> KeyPair | None:
    """The pair in the file's [freehold] profile; None when the file is missing or unreadable."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    if not parser.has_section(PROFILE):
        return None
    key_id = parser.get(PROFILE, "aws_access_key_id", fallback="").strip()
    secret = parser.get(PROFILE, "aws_secret_access_key", fallback="").strip()
    return KeyPair(key_id, secret) if key_id and secret else None


def render(pair: KeyPair, account_id: str, endpoint_url: str) -> str:
    return (
        f"# Root credentials of account {account_id} on the freehold node at {endpoint_url}.\n"
        "# Use them with: AWS_SHARED_CREDENTIALS_FILE=<this file> AWS_PROFILE=freehold\n"
        "# Keep this file secret: these keys may do anything in the account.\n"
        f"[{PROFILE}]\n"
        f"aws_access_key_id = {pair.access_key_id}\n"
        f"aws_secret_access_key = {pair.secret_access_key}\n"
    )


def write_pair(path: Path, pair: KeyPair, account_id: str, endpoint_url: str) -> None:
    """Write the file atomically (temp file, rename), readable by its owner only.

    The temp file is created with mode 0600, so the secret is never readable by others, not
    even for a moment; an existing file with the same content is left alone."""
    content = render(pair, account_id, endpoint_url)
    try:
        if path.read_text(encoding="utf-8") == content:
            os.chmod(path, 0o600)
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{FILE_NAME}-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise


def remove(path: Path) -> None:
    """Remove a file whose pair no longer authenticates (so nobody is misled by it)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
