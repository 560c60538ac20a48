"""Mobile push: platform applications (APNS, FCM/GCM, ADM, ...) and their device endpoints.

https://docs.aws.amazon.com/sns/latest/dg/sns-mobile-application-as-subscriber.html
freehold keeps applications and endpoints as AWS does, but talks to no push service: a
message published to an endpoint (directly with TargetArn, or through a topic's
`application` subscription) is recorded in the outbox (/_freehold/sns/outbox). Credentials
are stored, never returned, and not checked against the push services.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.sns.models import invalid, parse_arn
from freehold.services.sns.paging import PAGE_SIZE, after, next_token
from freehold.services.sns.platform_store import PlatformApplication, PlatformEndpoint, PlatformStore

if TYPE_CHECKING:
    from freehold.gateway.context import RequestContext
    from freehold.services.sns.store import SnsStore

PLATFORMS = ("ADM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "GCM", "MPNS", "WNS")
APPLICATION_ATTRIBUTES = frozenset({
    "PlatformCredential", "PlatformPrincipal", "EventEndpointCreated", "EventEndpointDeleted",
    "EventEndpointUpdated", "EventDeliveryFailure", "SuccessFeedbackRoleArn", "FailureFeedbackRoleArn",
    "SuccessFeedbackSampleRate", "ApplePlatformTeamID", "ApplePlatformBundleID", "AuthenticationMethod",
})
# Push services whose credentials are a principal and a secret (the others need only the secret).
_NEEDS_PRINCIPAL = ("ADM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "WNS")
ENDPOINT_ATTRIBUTES = frozenset({"CustomUserData", "Enabled", "Token"})
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


def application_not_found() -> ServiceError:
    return ServiceError("NotFound", "PlatformApplication does not exist")


def endpoint_not_found() -> ServiceError:
    return ServiceError("NotFound", "Endpoint does not exist")


def is_endpoint_arn(value: str) -> bool:
    arn = parse_arn(value)
    return arn is not None and arn.service == "sns" and arn.resource.startswith("endpoint/")


class PlatformOperations:
    """The platform-application operations of the SNS provider (a mixin of SnsProvider)."""

    platforms: PlatformStore
    store: SnsStore

    # -- applications -----------------------------------------------------------------------
    def _application(self, arn: str) -> PlatformApplication:
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "sns" or not parsed.resource.startswith("app/"):
            raise invalid("Invalid parameter: PlatformApplicationArn")
        app = self.platforms.application(arn)
        if app is None:
            raise application_not_found()
        return app

    @staticmethod
    def _check_application_attributes(platform: str, attributes: dict[str, str], creating: bool) -> None:
        for name in attributes:
            if name not in APPLICATION_ATTRIBUTES:
                raise invalid(f"Invalid parameter: Attributes Reason: Invalid attribute name: {name}")
        if creating:
            if not attributes.get("PlatformCredential"):
                raise invalid("Invalid parameter: Attributes Reason: PlatformCredential attribute is required")
            if platform in _NEEDS_PRINCIPAL and not attributes.get("PlatformPrincipal"):
                raise invalid("Invalid parameter: Attributes Reason: PlatformPrincipal attribute is required")

    def create_platform_application(self, ctx: RequestContext, params: Params) -> Params:
        name, platform = params["Name"], params["Platform"]
        attributes: dict[str, str] = dict(params["Attributes"])
        if not _NAME.match(name):
            raise invalid("Invalid parameter: Name")
        if platform not in PLATFORMS:
            raise invalid("Invalid parameter: Platform")
        self._check_application_attributes(platform, attributes, creating=True)
        arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:app/{platform}/{name}"
        self.platforms.save_application(PlatformApplication(arn, ctx.account_id, ctx.region, name, platform,
                                                            attributes))
        return {"PlatformApplicationArn": arn}

    @staticmethod
    def _shown_application_attributes(app: PlatformApplication) -> dict[str, str]:
        # Credentials are write-only, as on AWS.
        shown = {k: v for k, v in app.attributes.items() if k not in ("PlatformCredential", "PlatformPrincipal")}
        shown.setdefault("Enabled", "true")
        return shown

    def get_platform_application_attributes(self, ctx: RequestContext, params: Params) -> Params:
        app = self._application(params["PlatformApplicationArn"])
        return {"Attributes": self._shown_application_attributes(app)}

    def set_platform_application_attributes(self, ctx: RequestContext, params: Params) -> Params:
        app = self._application(params["PlatformApplicationArn"])
        changes: dict[str, str] = dict(params["Attributes"])
        self._check_application_attributes(app.platform, changes, creating=False)
        app.attributes.update(changes)
        self.platforms.save_application(app)
        return {}

    def list_platform_applications(self, ctx: RequestContext, params: Params) -> Params:
        apps = self.platforms.applications(ctx.account_id, ctx.region, after(params.get("NextToken")), PAGE_SIZE + 1)
        out: Params = {"PlatformApplications": [
            {"PlatformApplicationArn": app.arn, "Attributes": self._shown_application_attributes(app)}
            for app in apps[:PAGE_SIZE]
        ]}
        if len(apps) > PAGE_SIZE:
            out["NextToken"] = next_token(apps[PAGE_SIZE - 1].arn)
        return out

    def delete_platform_application(self, ctx: RequestContext, params: Params) -> Params:
        # Idempotent, and its endpoints go with it.
        self.platforms.delete_application(params["PlatformApplicationArn"])
        return {}

    # -- endpoints ----------------------------------------------------------------------------
    def _endpoint(self, arn: str) -> PlatformEndpoint:
        if not is_endpoint_arn(arn):
            raise invalid("Invalid parameter: EndpointArn")
        endpoint = self.platforms.endpoint(arn)
        if endpoint is None:
            raise endpoint_not_found()
        return endpoint

    @staticmethod
    def _check_endpoint_attributes(attributes: dict[str, str]) -> None:
        for name, value in attributes.items():
            if name not in ENDPOINT_ATTRIBUTES:
                raise invalid(f"Invalid parameter: Attributes Reason: Invalid attribute name: {name}")
            if name == "Enabled" and value.lower() not in ("true", "false"):
                raise invalid("Invalid parameter: Attributes Reason: Enabled must be true or false")
            if name == "Token" and not value:
                raise invalid("Invalid parameter: Token Reason: cannot be empty")

    def create_platform_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        app = self._application(params["PlatformApplicationArn"])
        token: str = params["Token"]
        if not token:
            raise invalid("Invalid parameter: Token Reason: cannot be empty")
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        self._check_endpoint_attributes(attributes)
        attributes.pop("Token", None)
        if params.get("CustomUserData") is not None:
            attributes["CustomUserData"] = params["CustomUserData"]
        attributes.setdefault("Enabled", "true")
        existing = self.platforms.endpoint_by_token(app.arn, token)
        if existing is not None:
            # The same token answers the same endpoint, unless its attributes differ.
            if any(existing.attributes.get(k) != v for k, v in attributes.items()):
                raise invalid(f"Invalid parameter: Token Reason: Endpoint {existing.arn} already exists with the "
                              "same Token, but different attributes.")
            return {"EndpointArn": existing.arn}
        arn = f"arn:aws:sns:{app.region}:{app.account_id}:endpoint/{app.platform}/{app.name}/{uuid.uuid4()}"
        self.platforms.save_endpoint(PlatformEndpoint(arn, app.arn, token, attributes))
        return {"EndpointArn": arn}

    def get_endpoint_attributes(self, ctx: RequestContext, params: Params) -> Params:
        endpoint = self._endpoint(params["EndpointArn"])
        return {"Attributes": {**endpoint.attributes, "Token": endpoint.token}}

    def set_endpoint_attributes(self, ctx: RequestContext, params: Params) -> Params:
        endpoint = self._endpoint(params["EndpointArn"])
        changes: dict[str, str] = dict(params["Attributes"])
        self._check_endpoint_attributes(changes)
        if "Token" in changes:
            endpoint.token = changes.pop("Token")
        endpoint.attributes.update(changes)
        self.platforms.save_endpoint(endpoint)
        return {}

    def delete_endpoint(self, ctx: RequestContext, params: Params) -> Params:
        self.platforms.delete_endpoint(params["EndpointArn"])  # idempotent
        return {}

    def list_endpoints_by_platform_application(self, ctx: RequestContext, params: Params) -> Params:
        app = self._application(params["PlatformApplicationArn"])
        endpoints = self.platforms.endpoints(app.arn, after(params.get("NextToken")), PAGE_SIZE + 1)
        out: Params = {"Endpoints": [
            {"EndpointArn": e.arn, "Attributes": {**e.attributes, "Token": e.token}} for e in endpoints[:PAGE_SIZE]
        ]}
        if len(endpoints) > PAGE_SIZE:
            out["NextToken"] = next_token(endpoints[PAGE_SIZE - 1].arn)
        return out

    # -- publishing to one endpoint ------------------------------------------------------------
    def publish_to_endpoint(self, ctx: RequestContext, arn: str, params: Params) -> Params:
        from freehold.services.sns.publishing import check_attributes, check_message

        endpoint = self._endpoint(arn)
        if not endpoint.enabled:
            raise ServiceError("EndpointDisabled", "Endpoint is disabled")
        message: str = params["Message"]
        check_message(message, params.get("MessageStructure"), params.get("Subject"))
        check_attributes(params.get("MessageAttributes"))
        platform = arn.split(":", 5)[5].split("/")[1]
        text = message
        if params.get("MessageStructure") == "json":
            document: dict[str, Any] = json.loads(message)
            chosen = document.get(platform, document["default"])
            text = chosen if isinstance(chosen, str) else json.dumps(chosen)
        message_id = str(uuid.uuid4())
        parsed = parse_arn(arn)
        assert parsed is not None
        self.store.record_outbox(parsed.account_id, parsed.region, "application", arn, None, None, message_id,
                                 params.get("Subject"), text)
        return {"MessageId": message_id}
