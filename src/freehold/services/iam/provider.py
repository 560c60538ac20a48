"""The IAM provider: one method per IAM operation, composed from the operation families.

IAM is global: every operation works on the caller's account (ctx.account_id), whatever
region the request was signed for. State lives in SQL (see store.py); nothing is cached in
memory, so several nodes sharing PostgreSQL see the same IAM at once.
"""

from __future__ import annotations

from typing import ClassVar

from freehold.services.base import Provider, ServiceRuntime
from freehold.services.iam.groups import GroupOperations
from freehold.services.iam.oidc import OidcOperations
from freehold.services.iam.policies import PolicyOperations
from freehold.services.iam.roles import RoleOperations
from freehold.services.iam.store import IamStore
from freehold.services.iam.users import UserOperations


class IamProvider(Provider, UserOperations, RoleOperations, GroupOperations, PolicyOperations, OidcOperations):
    service: ClassVar[str] = "iam"
    partial: ClassVar[dict[str, str]] = {
        "GetRole": "RoleLastUsed is always empty (assuming a role does not record it yet)",
        "GetAccessKeyLastUsed": "use is recorded at most once per key per minute (the first use in that minute)",
        "CreateRole": "trust policies naming IAM users/roles are checked against existing entities; "
                      "other principal types are checked for shape only",
        "ListPolicies": "AWS managed policies: a built-in set of common ones (see services/iam/aws_managed.py)",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = IamStore(runtime.db)

    def start(self) -> None:
        self.store.migrate()

    def reset(self) -> None:
        """Nothing to forget beyond the SQL rows the node deletes."""
