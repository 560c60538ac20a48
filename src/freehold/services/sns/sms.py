"""SMS settings: account SMS attributes, opted-out numbers, and the SMS sandbox.

https://docs.aws.amazon.com/sns/latest/dg/sns-sms-sandbox.html
freehold sends no text messages: every SMS (a PhoneNumber publish, an sms subscription's
delivery, a sandbox verification code) is recorded in the outbox. The account is not in the
sandbox (GetSMSSandboxAccountStatus answers false), so publishing needs no verified numbers;
the sandbox operations still work as on AWS, the one-time password arriving in the outbox.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.sns.models import invalid
from freehold.services.sns.paging import PAGE_SIZE, after, next_token
from freehold.services.sns.subscribing import check_phone_number

if TYPE_CHECKING:
    from freehold.gateway.context import RequestContext
    from freehold.services.sns.platform_store import PlatformStore
    from freehold.services.sns.store import SnsStore

# https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html
SMS_ATTRIBUTES = frozenset({
    "MonthlySpendLimit", "DeliveryStatusIAMRole", "DeliveryStatusSuccessSamplingRate", "DefaultSenderID",
    "DefaultSMSType", "UsageReportS3Bucket",
})


class SmsOperations:
    """The SMS operations of the SNS provider (a mixin of SnsProvider)."""

    platforms: PlatformStore
    store: SnsStore

    def set_sms_attributes(self, ctx: RequestContext, params: Params) -> Params:
        changes: dict[str, str] = dict(params["attributes"])
        for name, value in changes.items():
            if name not in SMS_ATTRIBUTES:
                raise invalid(f"Invalid parameter: {name}")
            if name == "DefaultSMSType" and value not in ("Promotional", "Transactional"):
                raise invalid("Invalid parameter: DefaultSMSType")
            if name in ("MonthlySpendLimit", "DeliveryStatusSuccessSamplingRate") and not value.isdigit():
                raise invalid(f"Invalid parameter: {name}")
            if name == "DeliveryStatusSuccessSamplingRate" and int(value) > 100:
                raise invalid(f"Invalid parameter: {name}")
        attributes = self.platforms.sms_attributes(ctx.account_id, ctx.region)
        attributes.update(changes)
        self.platforms.save_sms_attributes(ctx.account_id, ctx.region, attributes)
        return {}

    def get_sms_attributes(self, ctx: RequestContext, params: Params) -> Params:
        attributes = self.platforms.sms_attributes(ctx.account_id, ctx.region)
        wanted = params.get("attributes")
        if wanted:
            attributes = {k: v for k, v in attributes.items() if k in wanted}
        return {"attributes": attributes}

    def check_if_phone_number_is_opted_out(self, ctx: RequestContext, params: Params) -> Params:
        number = params["phoneNumber"]
        check_phone_number(number, "phoneNumber")
        return {"isOptedOut": self.platforms.opted_out(ctx.account_id, ctx.region, number)}

    def list_phone_numbers_opted_out(self, ctx: RequestContext, params: Params) -> Params:
        numbers = self.platforms.opted_out_numbers(ctx.account_id, ctx.region, after(params.get("nextToken"),
                                                   "nextToken"), PAGE_SIZE + 1)
        out: Params = {"phoneNumbers": numbers[:PAGE_SIZE]}
        if len(numbers) > PAGE_SIZE:
            out["nextToken"] = next_token(numbers[PAGE_SIZE - 1])
        return out

    def opt_in_phone_number(self, ctx: RequestContext, params: Params) -> Params:
        number = params["phoneNumber"]
        check_phone_number(number, "phoneNumber")
        self.platforms.opt_in(ctx.account_id, ctx.region, number)
        return {}

    def list_origination_numbers(self, ctx: RequestContext, params: Params) -> Params:
        # freehold owns no phone numbers to send from.
        return {"PhoneNumbers": []}

    # -- the sandbox -----------------------------------------------------------------------------
    def get_sms_sandbox_account_status(self, ctx: RequestContext, params: Params) -> Params:
        return {"IsInSandbox": False}

    def create_sms_sandbox_phone_number(self, ctx: RequestContext, params: Params) -> Params:
        number = params["PhoneNumber"]
        check_phone_number(number, "PhoneNumber")
        if self.platforms.opted_out(ctx.account_id, ctx.region, number):
            raise ServiceError("OptedOut", "Phone number is opted out.")
        password = f"{secrets.randbelow(1_000_000):06d}"
        self.platforms.save_sandbox_number(ctx.account_id, ctx.region, number, "Pending", password)
        self.store.record_outbox(ctx.account_id, ctx.region, "sms", number, None, None, str(uuid.uuid4()), None,
                                 f"Your Amazon SNS verification code is: {password}")
        return {}

    def verify_sms_sandbox_phone_number(self, ctx: RequestContext, params: Params) -> Params:
        number = params["PhoneNumber"]
        known = self.platforms.sandbox_number(ctx.account_id, ctx.region, number)
        if known is None:
            raise ServiceError("ResourceNotFound", "Phone number does not exist.")
        status, password = known
        if status != "Verified":
            if params["OneTimePassword"] != password:
                raise ServiceError("VerificationException", "Invalid one-time password.", 400,
                                   fields={"Status": "Pending"})
            self.platforms.save_sandbox_number(ctx.account_id, ctx.region, number, "Verified", password)
        return {}

    def list_sms_sandbox_phone_numbers(self, ctx: RequestContext, params: Params) -> Params:
        limit = int(params.get("MaxResults") or PAGE_SIZE)
        rows = self.platforms.sandbox_numbers(ctx.account_id, ctx.region, after(params.get("NextToken")), limit + 1)
        out: Params = {"PhoneNumbers": [{"PhoneNumber": n, "Status": s} for n, s in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = next_token(rows[limit - 1][0])
        return out

    def delete_sms_sandbox_phone_number(self, ctx: RequestContext, params: Params) -> Params:
        if not self.platforms.delete_sandbox_number(ctx.account_id, ctx.region, params["PhoneNumber"]):
            raise ServiceError("ResourceNotFound", "Phone number does not exist.")
        return {}
