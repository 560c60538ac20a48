"""docs/compatibility.md must say exactly what the providers implement."""

from __future__ import annotations

from freehold.compatibility import ROOT, render


def test_compatibility_table_is_current() -> None:
    on_disk = (ROOT / "docs" / "compatibility.md").read_text()
    assert on_disk == render(), "regenerate: python -m freehold.compatibility > docs/compatibility.md"


def test_every_service_is_listed() -> None:
    text = render()
    for service in ("s3", "dynamodb", "sts", "iam", "cloudwatch", "sesv2"):
        assert f"| {service} |" in text
