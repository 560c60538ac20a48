"""The credentials freehold issued, for the gateway's authentication step.

`IssuedCredentials(db).resolve(access_key_id)` knows
- IAM access keys (AKIA...): an IAM user's (principal kind "user", its ARN and AIDA... id)
  or an account root's own keys (kind "root"). Inactive keys resolve to None, so strict mode
  rejects them with InvalidClientTokenId as AWS does;
- STS temporary credentials (ASIA...): assumed-role, federated, or the user/root session of
  GetSessionToken, with their session token and expiration (the gateway answers
  ExpiredToken past it).

It reads the stores of IAM and STS directly: it is part of authentication, which runs
before any operation and must not itself be an operation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from freehold.gateway.context import Principal
from freehold.gateway.identity import IssuedCredential
from freehold.services.iam.models import ACCESS_KEY_PREFIX, SESSION_KEY_PREFIX
from freehold.services.iam.store import IamStore
from freehold.services.sts.store import StsStore
from freehold.state.database import Database

# Recording "last used" on every request would turn each read into a write; once a minute
# per key is as precise as AWS's own report (which is only approximate).
LAST_USED_GRANULARITY_SECONDS = 60.0


class IssuedCredentials:
    """A CredentialResolver over IAM access keys and STS sessions stored in SQL."""

    def __init__(self, db: Database) -> None:
        self.iam = IamStore(db)
        self.sts = StsStore(db)

    def resolve(self, access_key_id: str) -> IssuedCredential | None:
        if access_key_id.startswith(SESSION_KEY_PREFIX):
            return self._session(access_key_id)
        if access_key_id.startswith(ACCESS_KEY_PREFIX):
            return self._access_key(access_key_id)
        return None

    def _session(self, access_key_id: str) -> IssuedCredential | None:
        session = self.sts.get(access_key_id)
        if session is None:
            return None
        return IssuedCredential(
            access_key_id=session.access_key_id,
            secret_access_key=session.secret_access_key,
            session_token=session.session_token,
            expiration=session.expires_at,
            principal=session.principal(),
        )

    def _access_key(self, access_key_id: str) -> IssuedCredential | None:
        key = self.iam.key(access_key_id)
        if key is None or key.status != "Active":
            return None
        if key.user_id:
            user = self.iam.get_by_id(key.account_id, key.user_id)
            if user is None:
                return None
            principal = Principal("user", key.account_id, user.arn, user.entity_id, access_key_id)
        else:
            principal = Principal.root(key.account_id, access_key_id)
        return IssuedCredential(
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            session_token=None,
            expiration=None,
            principal=principal,
        )

    def note_used(self, access_key_id: str, service: str, region: str, when: datetime | None = None) -> None:
        """Record that an IAM access key was used (GetAccessKeyLastUsed reports it)."""
        if not access_key_id.startswith(ACCESS_KEY_PREFIX):
            return
        moment = (when or datetime.now(UTC)).timestamp()
        key = self.iam.key(access_key_id)
        if key is None:
            return
        if key.last_used is not None and moment - key.last_used < LAST_USED_GRANULARITY_SECONDS \
                and key.last_used_service == service and key.last_used_region == region:
            return
        self.iam.note_key_used(access_key_id, float(int(moment)), service, region)
