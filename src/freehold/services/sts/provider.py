"""The STS provider: caller identity and temporary credentials.

Roles and OpenID Connect providers belong to IAM; STS asks for them through IAM's own
operations (GetRole, GetOpenIDConnectProvider) in process, in the account the RoleArn names.

Trust policies are not evaluated here: whether the caller may assume a role is the policy
evaluator's decision (the pipeline's authorization step), as every other permission is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import ClassVar

from freehold.gateway.context import Principal, RequestContext
from freehold.gateway.identity import root_account_for_key
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, Provider, ServiceRuntime
from freehold.services.iam.models import parse_iam_arn, split_path_and_name
from freehold.services.iam.oidc import oidc_provider_arn
from freehold.services.iam.policy_documents import validate_identity_policy
from freehold.services.iam.credentials import IssuedCredentials
from freehold.services.iam.validation import Checks, check_tags
from freehold.services.sts import web_identity
from freehold.services.sts.models import (
    FEDERATION_DEFAULT,
    MIN_DURATION,
    ROOT_SESSION_MAX,
    SESSION_TOKEN_DEFAULT,
    SESSION_TOKEN_MAX,
    Session,
    assumed_role_arn,
    packed_policy_size,
    role_session_duration,
)
from freehold.services.sts.store import StsStore

SESSION_POLICY_MAX = 2048


class StsProvider(Provider):
    service: ClassVar[str] = "sts"
    partial: ClassVar[dict[str, str]] = {
        "AssumeRole": "trust policies are evaluated by the authorization step, not here; "
                      "MFA (SerialNumber/TokenCode) and ProvidedContexts are accepted but not checked; "
                      "PackedPolicySize is approximated from the plain size of policy and tags",
        "AssumeRoleWithWebIdentity": "token signatures are verified only for issuers whose keys freehold "
                                     "knows (its own, or registered); keys are never fetched from the network, "
                                     "so with --strict-auth other issuers' tokens are refused",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = StsStore(runtime.db)

    def start(self) -> None:
        self.store.migrate()

    def reset(self) -> None:
        """Sessions live only in SQL."""

    # -- who am I --------------------------------------------------------------------------
    def get_caller_identity(self, ctx: RequestContext, params: Params) -> Params:
        principal = ctx.principal
        if principal.kind == "anonymous":
            raise ServiceError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}

    def get_access_key_info(self, ctx: RequestContext, params: Params) -> Params:
        key_id = params["AccessKeyId"]
        checks = Checks()
        checks.length(key_id, "accessKeyId", 16, 128)
        checks.raise_if_any()
        session = self.store.get(key_id)
        if session is not None:
            return {"Account": session.account_id}
        # The same lookup authentication uses for the keys freehold issued.
        issued = IssuedCredentials(self.db).resolve(key_id)
        if issued is not None:
            return {"Account": issued.principal.account_id}
        return {"Account": root_account_for_key(key_id)}

    # -- roles -------------------------------------------------------------------------
    def _session_params(self, params: Params) -> list[dict[str, str]]:
        """Checks shared by AssumeRole*: session name, duration range, policy, tags."""
        checks = Checks()
        checks.session_name(params.get("RoleSessionName"), "roleSessionName")
        checks.number(params.get("DurationSeconds"), "durationSeconds", MIN_DURATION, 43200)
        checks.length(params.get("RoleArn"), "roleArn", 20, 2048)
        checks.length(params.get("ExternalId"), "externalId", 2, 1224)
        checks.session_name(params.get("SourceIdentity"), "sourceIdentity")
        checks.length(params.get("Policy"), "policy", 1, SESSION_POLICY_MAX)
        checks.raise_if_any()
        if params.get("Policy") is not None:
            validate_identity_policy(params["Policy"], managed=False)
        return check_tags(params.get("Tags"))

    def _role(self, ctx: RequestContext, role_arn: str, denied: ServiceError) -> Params:
        """The role a RoleArn names, from IAM in the ARN's account; `denied` if none."""
        parsed = parse_iam_arn(role_arn)
        if parsed is None or parsed[1] != "role" or not parsed[2]:
            raise ServiceError("ValidationError", "Request ARN is invalid")
        account_id, _, rest = parsed
        _, name = split_path_and_name(rest)
        try:
            role: Params = self.call("iam", replace(ctx, account_id=account_id), "GetRole", {"RoleName": name})["Role"]
        except ServiceError:
            raise denied from None
        if role["Arn"] != role_arn:  # same name, other path: not this role
            raise denied
        return role

    def _issue_role_session(
        self, role: Params, session_name: str, duration: int, source_identity: str | None,
        attributes: dict[str, str],
    ) -> Session:
        account_id = role["Arn"].split(":")[4]
        session = Session.issue(
            kind="assumed-role", account_id=account_id,
            arn=assumed_role_arn(account_id, role["RoleName"], session_name),
            user_id=f"{role['RoleId']}:{session_name}", duration=duration, now=time.time(),
            role_arn=role["Arn"], session_name=session_name, source_identity=source_identity,
            attributes=attributes,
        )
        self.store.save(session)
        return session

    @staticmethod
    def _role_output(session: Session, packed: int | None, source_identity: str | None) -> Params:
        result: Params = {
            "Credentials": session.credentials_output(),
            "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn},
        }
        if packed is not None:
            result["PackedPolicySize"] = packed
        if source_identity:
            result["SourceIdentity"] = source_identity
        return result

    def assume_role(self, ctx: RequestContext, params: Params) -> Params:
        tags = self._session_params(params)
        caller = ctx.principal
        role_arn = params["RoleArn"]
        if caller.kind == "root" and self.settings.strict_auth:
            # AWS refuses root. freehold's default mode allows it, because local development
            # signs as an account's root (see the gateway's identity module).
            raise ServiceError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
        denied = ServiceError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            403,
        )
        role = self._role(ctx, role_arn, denied)
        duration = role_session_duration(
            params.get("DurationSeconds"), int(role.get("MaxSessionDuration", 3600)),
            chained=caller.kind == "assumed-role",
        )
        packed = packed_policy_size(params.get("Policy"), tags)
        attributes = {f"aws:PrincipalTag/{t['Key']}": t["Value"] for t in tags}
        if params.get("ExternalId"):
            attributes["sts:ExternalId"] = params["ExternalId"]
        session = self._issue_role_session(
            role, params["RoleSessionName"], duration, params.get("SourceIdentity"), attributes
        )
        return self._role_output(session, packed, params.get("SourceIdentity"))

    def assume_role_with_web_identity(self, ctx: RequestContext, params: Params) -> Params:
        tags = self._session_params(params)
        checks = Checks()
        checks.length(params.get("WebIdentityToken"), "webIdentityToken", 4, 20000)
        checks.raise_if_any()
        denied = ServiceError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
        role = self._role(ctx, params["RoleArn"], denied)
        account_id = role["Arn"].split(":")[4]
        token = web_identity.parse_token(params["WebIdentityToken"])
        if not token.issuer:
            raise web_identity.invalid("Missing a required claim: iss")
        provider_name = web_identity.issuer_key(token.issuer)
        if provider_name == web_identity.COGNITO_IDENTITY:
            audience = token.audiences[0] if token.audiences else ""
        else:
            try:
                provider = self.call(
                    "iam", replace(ctx, account_id=account_id), "GetOpenIDConnectProvider",
                    {"OpenIDConnectProviderArn": oidc_provider_arn(account_id, "https://" + provider_name)},
                )
            except ServiceError:
                raise web_identity.invalid(
                    f"No OpenIDConnect provider found in your account for {token.issuer}"
                ) from None
            audience = web_identity.check_audience(token, list(provider.get("ClientIDList", [])))
        web_identity.check_times(token, time.time())
        if not web_identity.check_signature(token) and self.settings.strict_auth:
            # Unsigned callers reach this operation, so in strict mode a token whose issuer's
            # keys freehold does not know (it never fetches them) proves nothing: refuse it,
            # as AWS does when it cannot retrieve the provider's keys.
            raise web_identity.invalid(web_identity.NO_KEY)
        duration = role_session_duration(
            params.get("DurationSeconds"), int(role.get("MaxSessionDuration", 3600)), chained=False
        )
        packed = packed_policy_size(params.get("Policy"), tags)
        # The claims policy variables and trust-policy conditions refer to (<provider>:sub ...).
        attributes = {f"{provider_name}:{claim}": str(token.claims[claim])
                      for claim in ("sub", "aud", "amr", "azp", "email") if claim in token.claims}
        if audience:
            attributes[f"{provider_name}:aud"] = audience
        session = self._issue_role_session(
            role, params["RoleSessionName"], duration, params.get("SourceIdentity"), attributes
        )
        result = self._role_output(session, packed, params.get("SourceIdentity"))
        result["SubjectFromWebIdentityToken"] = token.subject
        result["Provider"] = token.issuer
        if audience:
            result["Audience"] = audience
        return result

    # -- sessions of users -----------------------------------------------------------------
    def _long_term_caller(self, ctx: RequestContext, operation: str) -> Principal:
        caller = ctx.principal
        if caller.kind not in ("root", "user") or caller.session_token:
            raise ServiceError("AccessDenied", f"Cannot call {operation} with session credentials", 403)
        return caller

    def get_session_token(self, ctx: RequestContext, params: Params) -> Params:
        caller = self._long_term_caller(ctx, "GetSessionToken")
        high = ROOT_SESSION_MAX if caller.kind == "root" else SESSION_TOKEN_MAX
        checks = Checks()
        checks.number(params.get("DurationSeconds"), "durationSeconds", MIN_DURATION, SESSION_TOKEN_MAX)
        checks.length(params.get("SerialNumber"), "serialNumber", 9, 256)
        checks.raise_if_any()
        # The root user's sessions last at most an hour, whatever was asked (AWS's rule).
        duration = min(params.get("DurationSeconds") or SESSION_TOKEN_DEFAULT, high)
        session = Session.issue(
            kind=caller.kind, account_id=caller.account_id, arn=caller.arn, user_id=caller.user_id,
            duration=duration, now=time.time(),
        )
        self.store.save(session)
        return {"Credentials": session.credentials_output()}

    def get_federation_token(self, ctx: RequestContext, params: Params) -> Params:
        caller = self._long_term_caller(ctx, "GetFederationToken")
        name = params.get("Name")
        checks = Checks()
        checks.session_name(name, "name", 32)
        checks.number(params.get("DurationSeconds"), "durationSeconds", MIN_DURATION, SESSION_TOKEN_MAX)
        checks.length(params.get("Policy"), "policy", 1, SESSION_POLICY_MAX)
        checks.raise_if_any()
        assert name is not None
        if params.get("Policy") is not None:
            validate_identity_policy(params["Policy"], managed=False)
        tags = check_tags(params.get("Tags"))
        high = ROOT_SESSION_MAX if caller.kind == "root" else SESSION_TOKEN_MAX
        duration = min(params.get("DurationSeconds") or FEDERATION_DEFAULT, high)
        packed = packed_policy_size(params.get("Policy"), tags)
        session = Session.issue(
            kind="federated", account_id=caller.account_id,
            arn=f"arn:aws:sts::{caller.account_id}:federated-user/{name}",
            user_id=f"{caller.account_id}:{name}", duration=duration, now=time.time(),
            session_name=name, attributes={f"aws:PrincipalTag/{t['Key']}": t["Value"] for t in tags},
        )
        self.store.save(session)
        result: Params = {
            "Credentials": session.credentials_output(),
            "FederatedUser": {"FederatedUserId": session.user_id, "Arn": session.arn},
        }
        if packed is not None:
            result["PackedPolicySize"] = packed
        return result
