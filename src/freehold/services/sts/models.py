"""STS's domain: temporary credentials, session principals and the limits on sessions.

Temporary credentials are an ASIA... access key id (20 characters), a 40-character secret,
a session token and an expiration. The principal they stand for is fixed at issue:
- AssumeRole / AssumeRoleWithWebIdentity: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION,
  user id "AROA...:SESSION" (the role's unique id, a colon, the session name);
- GetFederationToken: arn:aws:sts::ACCOUNT:federated-user/NAME, user id "ACCOUNT:NAME";
- GetSessionToken: the calling IAM user (or root) itself.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from freehold.gateway.context import Principal, PrincipalKind
from freehold.protocol.errors import ServiceError
from freehold.services.iam.models import SESSION_KEY_PREFIX, new_access_key_id, new_secret_access_key

# Session durations (STS API reference, DurationSeconds of each operation).
MIN_DURATION = 900
DEFAULT_ROLE_DURATION = 3600
ROLE_CHAINING_MAX = 3600
SESSION_TOKEN_DEFAULT = 43200
SESSION_TOKEN_MAX = 129600
ROOT_SESSION_MAX = 3600
FEDERATION_DEFAULT = 43200
# Expired credentials are kept this long, so that using them says ExpiredToken (which makes
# SDKs refresh) rather than that the key is unknown.
EXPIRED_RETENTION_SECONDS = 86400


def new_session_token() -> str:
    """An opaque session token; AWS's are long base64 strings too."""
    return base64.b64encode(secrets.token_bytes(256)).decode()


@dataclass
class Session:
    """One set of temporary credentials and the principal it authenticates as."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    created: float
    kind: PrincipalKind
    account_id: str
    arn: str
    user_id: str
    role_arn: str | None = None
    session_name: str | None = None
    source_identity: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def issue(
        *, kind: PrincipalKind, account_id: str, arn: str, user_id: str, duration: int, now: float,
        role_arn: str | None = None, session_name: str | None = None, source_identity: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> Session:
        return Session(
            access_key_id=new_access_key_id(SESSION_KEY_PREFIX),
            secret_access_key=new_secret_access_key(),
            session_token=new_session_token(),
            expiration=float(int(now) + duration),
            created=now,
            kind=kind,
            account_id=account_id,
            arn=arn,
            user_id=user_id,
            role_arn=role_arn,
            session_name=session_name,
            source_identity=source_identity,
            attributes=dict(attributes or {}),
        )

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expiration, tz=UTC)

    def principal(self) -> Principal:
        return Principal(
            kind=self.kind, account_id=self.account_id, arn=self.arn, user_id=self.user_id,
            access_key_id=self.access_key_id, session_token=self.session_token, role_arn=self.role_arn,
            session_name=self.session_name, attributes=dict(self.attributes),
        )

    def credentials_output(self) -> dict[str, object]:
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expires_at,
        }


def assumed_role_arn(account_id: str, role_name: str, session_name: str) -> str:
    # The role's path is not part of an assumed-role ARN.
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"


def role_session_duration(requested: int | None, max_session: int, *, chained: bool) -> int:
    """DurationSeconds of AssumeRole*: 900 up to the role's MaxSessionDuration (default
    3600); role chaining (a role session assuming a role) is limited to one hour."""
    duration = requested if requested is not None else DEFAULT_ROLE_DURATION
    if chained and requested is not None and requested > ROLE_CHAINING_MAX:
        raise ServiceError(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        )
    if duration > max_session:
        raise ServiceError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    return duration


def packed_policy_size(policy: str | None, tags: list[dict[str, str]] | None) -> int | None:
    """PackedPolicySize: the session policy and tags' share of the packed limit, in percent.

    AWS compresses them into a binary format; freehold approximates with their plain size
    against the 2048-character session policy limit, which keeps the number honest about
    how close a request is to PackedPolicyTooLarge.
    """
    if not policy and not tags:
        return None
    size = len(policy or "") + sum(len(t["Key"]) + len(t["Value"]) for t in tags or [])
    percent = max(1, (size * 100 + 2047) // 2048)
    if percent > 100:
        raise ServiceError(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {percent}% of allotted space, please use smaller policy.",
        )
    return percent
