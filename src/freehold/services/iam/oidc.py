"""IAM OpenID Connect identity providers (what sts:AssumeRoleWithWebIdentity trusts).

A provider is named by its issuer URL without the scheme: https://token.example.com/id/1 is
arn:aws:iam::ACCOUNT:oidc-provider/token.example.com/id/1, and GetOpenIDConnectProvider
reports the Url without "https://" as AWS does.
"""

from __future__ import annotations

import re

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam.entities import IamBase, no_such_entity
from freehold.services.iam.models import Entity, parse_iam_arn
from freehold.services.iam.validation import Checks, check_tags

CLIENT_IDS_PER_PROVIDER = 100
THUMBPRINTS_PER_PROVIDER = 5
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def issuer_name(url: str) -> str:
    """The provider's name: the URL without its https:// scheme (and without a trailing '/')."""
    return url[len("https://"):].rstrip("/") if url.startswith("https://") else url.rstrip("/")


def oidc_provider_arn(account_id: str, url: str) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{issuer_name(url)}"


def _check_thumbprints(thumbprints: list[str]) -> list[str]:
    if len(thumbprints) > THUMBPRINTS_PER_PROVIDER:
        raise ServiceError("InvalidInput", "Thumbprint list must contain fewer than 5 entries.")
    checks = Checks()
    for index, thumbprint in enumerate(thumbprints, start=1):
        if len(thumbprint) != 40:
            checks.length(thumbprint, f"thumbprintList.{index}.member", 40, 40)
        elif _THUMBPRINT.fullmatch(thumbprint) is None:
            raise ServiceError("InvalidInput", f"Thumbprint {thumbprint} is not a valid hexadecimal SHA-1 thumbprint.")
    checks.raise_if_any()
    return thumbprints


def _check_client_ids(client_ids: list[str]) -> list[str]:
    if len(client_ids) > CLIENT_IDS_PER_PROVIDER:
        raise ServiceError(
            "LimitExceeded", f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"
        )
    checks = Checks()
    for index, client_id in enumerate(client_ids, start=1):
        checks.length(client_id, f"clientIDList.{index}.member", 1, 255)
    checks.raise_if_any()
    # Duplicates collapse, first spelling first.
    return list(dict.fromkeys(client_ids))


class OidcOperations(IamBase):
    """Create/Get/Delete/List OpenIDConnectProvider, client ids, thumbprints and tags."""

    def _provider(self, ctx: RequestContext, arn: str) -> Entity:
        parsed = parse_iam_arn(arn)
        if parsed is not None and parsed[1] == "oidc-provider" and parsed[0] == ctx.account_id:
            provider = self.store.get(ctx.account_id, "oidc-provider", parsed[2])
            if provider is not None and provider.arn == arn:
                return provider
        raise no_such_entity("oidc-provider", arn)

    def create_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        url = params.get("Url") or ""
        checks = Checks()
        checks.length(url, "url", 1, 255)
        checks.raise_if_any()
        if not url.startswith("https://") or len(url) <= len("https://") or " " in url:
            raise ServiceError("ValidationError", "Invalid Open ID Connect Provider URL")
        client_ids = _check_client_ids(list(params.get("ClientIDList") or []))
        thumbprints = _check_thumbprints(list(params.get("ThumbprintList") or []))
        tags = check_tags(params.get("Tags"))
        name = issuer_name(url)
        attributes: Params = {"Url": name, "ClientIDList": client_ids, "ThumbprintList": thumbprints}
        provider = self.create_entity(
            ctx.account_id, "oidc-provider", name, "/", attributes, tags, arn=oidc_provider_arn(ctx.account_id, url)
        )
        result: Params = {"OpenIDConnectProviderArn": provider.arn}
        if tags:
            result["Tags"] = tags
        return result

    def get_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        provider = self._provider(ctx, params["OpenIDConnectProviderArn"])
        attrs = provider.attributes
        result: Params = {
            "Url": attrs["Url"],
            "ClientIDList": list(attrs.get("ClientIDList", [])),
            "ThumbprintList": list(attrs.get("ThumbprintList", [])),
            "CreateDate": provider.create_date,
        }
        if provider.tags:
            result["Tags"] = provider.tags
        return result

    def delete_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            self.store.delete(self._provider(ctx, params["OpenIDConnectProviderArn"]))
        return {}

    def list_open_id_connect_providers(self, ctx: RequestContext, params: Params) -> Params:
        providers = self.store.list_entities(ctx.account_id, "oidc-provider")
        return {"OpenIDConnectProviderList": [{"Arn": p.arn} for p in providers]}

    def add_client_id_to_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            provider = self._provider(ctx, params["OpenIDConnectProviderArn"])
            ids = list(provider.attributes.get("ClientIDList", []))
            if params["ClientID"] not in ids:
                ids.append(params["ClientID"])
            provider.attributes["ClientIDList"] = _check_client_ids(ids)
            self.store.update(provider)
        return {}

    def remove_client_id_from_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            provider = self._provider(ctx, params["OpenIDConnectProviderArn"])
            ids = provider.attributes.get("ClientIDList", [])
            provider.attributes["ClientIDList"] = [i for i in ids if i != params["ClientID"]]
            self.store.update(provider)
        return {}

    def update_open_id_connect_provider_thumbprint(self, ctx: RequestContext, params: Params) -> Params:
        thumbprints = _check_thumbprints(list(params.get("ThumbprintList") or []))
        with self.store.db.transaction():
            provider = self._provider(ctx, params["OpenIDConnectProviderArn"])
            provider.attributes["ThumbprintList"] = thumbprints
            self.store.update(provider)
        return {}

    def tag_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        self.tag_entity(self._provider(ctx, params["OpenIDConnectProviderArn"]), params.get("Tags") or [])
        return {}

    def untag_open_id_connect_provider(self, ctx: RequestContext, params: Params) -> Params:
        self.untag_entity(self._provider(ctx, params["OpenIDConnectProviderArn"]), params.get("TagKeys") or [])
        return {}

    def list_open_id_connect_provider_tags(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_entity_tags(self._provider(ctx, params["OpenIDConnectProviderArn"]), params)
