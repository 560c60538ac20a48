"""Settings from FREEHOLD_* variables: values read, bad ones refused by name."""

from __future__ import annotations

import pytest

from freehold.config import ConfigError, Settings


def test_dynamodb_ttl_interval_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREEHOLD_DYNAMODB_TTL_INTERVAL", "0.2")
    assert Settings.from_env().dynamodb_ttl_interval == 0.2
    monkeypatch.delenv("FREEHOLD_DYNAMODB_TTL_INTERVAL")
    assert Settings.from_env().dynamodb_ttl_interval == 5.0


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf", ""])
def test_bad_dynamodb_ttl_interval_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FREEHOLD_DYNAMODB_TTL_INTERVAL", value)
    with pytest.raises(ConfigError, match="FREEHOLD_DYNAMODB_TTL_INTERVAL"):
        Settings.from_env()
