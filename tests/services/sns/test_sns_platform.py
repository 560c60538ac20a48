"""Mobile push and SMS settings through boto3: platform applications and endpoints, publishing
to an endpoint (recorded in the outbox), SMS attributes, opt-outs and the SMS sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sns_helpers import error_of, outbox_for, unique


def _app(sns: Any, platform: str = "GCM") -> str:
    attributes = {"PlatformCredential": "server-key"}
    if platform.startswith("APNS"):
        attributes["PlatformPrincipal"] = "certificate"
    return str(sns.create_platform_application(Name=unique("app"), Platform=platform,
                                               Attributes=attributes)["PlatformApplicationArn"])


def test_platform_applications(sns: Any) -> None:
    arn = _app(sns, "APNS_SANDBOX")
    assert ":app/APNS_SANDBOX/" in arn
    attributes = sns.get_platform_application_attributes(PlatformApplicationArn=arn)["Attributes"]
    assert "PlatformCredential" not in attributes and attributes["Enabled"] == "true"
    sns.set_platform_application_attributes(PlatformApplicationArn=arn,
                                            Attributes={"EventEndpointCreated": "arn:aws:sns:us-east-1:000000000000:t"})
    attributes = sns.get_platform_application_attributes(PlatformApplicationArn=arn)["Attributes"]
    assert attributes["EventEndpointCreated"] == "arn:aws:sns:us-east-1:000000000000:t"
    assert arn in [a["PlatformApplicationArn"] for a in sns.list_platform_applications()["PlatformApplications"]]
    for kwargs, message in [
        ({"Platform": "PIGEON", "Attributes": {"PlatformCredential": "x"}}, "Invalid parameter: Platform"),
        ({"Platform": "GCM", "Attributes": {"PlatformPrincipal": "p"}},
         "Invalid parameter: Attributes Reason: PlatformCredential attribute is required"),
        ({"Platform": "APNS", "Attributes": {"PlatformCredential": "x"}},
         "Invalid parameter: Attributes Reason: PlatformPrincipal attribute is required"),
        ({"Platform": "GCM", "Attributes": {"PlatformCredential": "x", "Colour": "red"}},
         "Invalid parameter: Attributes Reason: Invalid attribute name: Colour"),
    ]:
        with pytest.raises(ClientError) as info:
            sns.create_platform_application(Name=unique("bad"), **kwargs)
        assert error_of(info) == ("InvalidParameter", message, 400)
    sns.delete_platform_application(PlatformApplicationArn=arn)
    with pytest.raises(ClientError) as info:
        sns.get_platform_application_attributes(PlatformApplicationArn=arn)
    assert error_of(info) == ("NotFound", "PlatformApplication does not exist", 404)


def test_endpoints_and_publishing_to_them(freehold: Any, sns: Any) -> None:
    app = _app(sns)
    token = unique("device-token")
    endpoint = sns.create_platform_endpoint(PlatformApplicationArn=app, Token=token,
                                            CustomUserData="user 7")["EndpointArn"]
    assert ":endpoint/GCM/" in endpoint
    # The same token answers the same endpoint; with other attributes, an error.
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token=token,
                                        CustomUserData="user 7")["EndpointArn"] == endpoint
    with pytest.raises(ClientError) as info:
        sns.create_platform_endpoint(PlatformApplicationArn=app, Token=token, CustomUserData="user 8")
    assert error_of(info) == ("InvalidParameter", f"Invalid parameter: Token Reason: Endpoint {endpoint} already "
                                                  "exists with the same Token, but different attributes.", 400)
    assert sns.get_endpoint_attributes(EndpointArn=endpoint)["Attributes"] == {
        "Enabled": "true", "CustomUserData": "user 7", "Token": token}
    listed = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]
    assert [e["EndpointArn"] for e in listed] == [endpoint]
    structured = json.dumps({"default": "plain", "GCM": json.dumps({"notification": {"title": "hi"}})})
    sns.publish(TargetArn=endpoint, Message=structured, MessageStructure="json")
    (pushed,) = outbox_for(freehold.endpoint_url, endpoint)
    assert (pushed["protocol"], json.loads(pushed["message"])) == ("application", {"notification": {"title": "hi"}})
    # Through a topic too.
    topic = sns.create_topic(Name=unique("push"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=endpoint)
    sns.publish(TopicArn=topic, Message="via topic")
    assert outbox_for(freehold.endpoint_url, endpoint, count=2)[1]["message"] == "via topic"
    sns.set_endpoint_attributes(EndpointArn=endpoint, Attributes={"Enabled": "false"})
    with pytest.raises(ClientError) as info:
        sns.publish(TargetArn=endpoint, Message="x")
    assert error_of(info) == ("EndpointDisabled", "Endpoint is disabled", 400)
    sns.delete_endpoint(EndpointArn=endpoint)
    sns.delete_endpoint(EndpointArn=endpoint)
    with pytest.raises(ClientError) as info:
        sns.publish(TargetArn=endpoint, Message="x")
    assert error_of(info) == ("NotFound", "Endpoint does not exist", 404)


def test_sms_attributes_and_opt_outs(sns: Any) -> None:
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "MonthlySpendLimit": "5"})
    assert sns.get_sms_attributes()["attributes"] == {"DefaultSMSType": "Transactional", "MonthlySpendLimit": "5"}
    assert sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"] == {"DefaultSMSType": "Transactional"}
    with pytest.raises(ClientError) as info:
        sns.set_sms_attributes(attributes={"DefaultSMSType": "Loud"})
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: DefaultSMSType", 400)
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15555550100")["isOptedOut"] is False
    sns.opt_in_phone_number(phoneNumber="+15555550100")
    assert sns.list_phone_numbers_opted_out()["phoneNumbers"] == []
    assert sns.list_origination_numbers()["PhoneNumbers"] == []


def test_sms_sandbox(freehold: Any, sns: Any) -> None:
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is False
    number = "+15555550177"
    sns.create_sms_sandbox_phone_number(PhoneNumber=number, LanguageCode="en-US")
    assert {"PhoneNumber": number, "Status": "Pending"} in sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]
    code = outbox_for(freehold.endpoint_url, number)[-1]["message"].rsplit(" ", 1)[1]
    with pytest.raises(ClientError) as info:
        sns.verify_sms_sandbox_phone_number(PhoneNumber=number, OneTimePassword="000000" if code != "000000" else "1")
    assert error_of(info)[0] == "VerificationException"
    sns.verify_sms_sandbox_phone_number(PhoneNumber=number, OneTimePassword=code)
    assert {"PhoneNumber": number, "Status": "Verified"} in sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]
    sns.delete_sms_sandbox_phone_number(PhoneNumber=number)
    with pytest.raises(ClientError) as info:
        sns.delete_sms_sandbox_phone_number(PhoneNumber=number)
    assert error_of(info)[0] == "ResourceNotFound"
