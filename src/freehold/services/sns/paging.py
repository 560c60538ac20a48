"""NextToken for SNS's list operations: the last key of the page, opaque to clients."""

from __future__ import annotations

import base64

from freehold.services.sns.models import invalid

PAGE_SIZE = 100


def next_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def after(token: str | None, parameter: str = "NextToken") -> str:
    """The key a NextToken continues after ('' for the first page)."""
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"Invalid parameter: {parameter}") from None
