"""The node lock of a SQLite state directory: one holder at a time, dropped on release."""

from __future__ import annotations

from pathlib import Path

import pytest

from freehold.state import node_lock
from freehold.state.database import StateError


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    first = node_lock.claim(tmp_path)
    with pytest.raises(StateError, match="another freehold node is serving"):
        node_lock.claim(tmp_path)
    node_lock.release(first)
    node_lock.release(node_lock.claim(tmp_path))
