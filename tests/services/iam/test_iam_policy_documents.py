"""The policy-document validator on its own: AWS's messages, in AWS's order of checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.iam.policy_documents import (
    policy_size,
    validate_identity_policy,
    validate_trust_policy,
)


def _policy(statement: Any, version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": statement}
    if version is not None:
        document["Version"] = version
    return json.dumps(document)


def _message(text: str, *, managed: bool = True) -> str:
    with pytest.raises(ServiceError) as excinfo:
        validate_identity_policy(text, managed=managed)
    assert excinfo.value.code == "MalformedPolicyDocument"
    return excinfo.value.message


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "Syntax errors in policy."),
        (_policy([]), "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17", "Statement": ALLOW_ALL, "Extra": 1}), "Syntax errors in policy."),
        (_policy(ALLOW_ALL, "2013-10-17"), "Syntax errors in policy."),
        (_policy({**ALLOW_ALL, "Effect": "Maybe"}), "Syntax errors in policy."),
        (_policy({**ALLOW_ALL, "NotAction": "s3:*"}), "Syntax errors in policy."),
        (_policy({**ALLOW_ALL, "Action": 3}), "Syntax errors in policy."),
        (_policy({**ALLOW_ALL, "Condition": {"StringEquals": "x"}}), "Syntax errors in policy."),
        (_policy(ALLOW_ALL, "2008-10-17"), "Policy document must be version 2012-10-17 or greater."),
        (_policy({**ALLOW_ALL, "Effect": "allow"}), "The policy failed legacy parsing"),
        (_policy([{**ALLOW_ALL, "Sid": "a"}, {**ALLOW_ALL, "Sid": "a"}]),
         "Statement IDs (SID) in a single policy must be unique."),
        (_policy({"Effect": "Allow", "Action": [], "Resource": "*"}), "Policy statement must contain actions."),
        (_policy({"Effect": "Allow", "Action": "s3:*", "Resource": []}), "Policy statement must contain resources."),
        (_policy({**ALLOW_ALL, "Resource": "arn:aws:iam:us-east-1::user/x"}),
         "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information."),
        (_policy({**ALLOW_ALL, "Resource": "arn:aws:s3:us-east-1::bucket"}),
         "Resource arn:aws:s3:us-east-1::bucket can not contain region information."),
        (_policy({**ALLOW_ALL, "Resource": "arn:error:s3:::example_bucket"}),
         'Partition "error" is not valid for resource "arn:error:s3:::example_bucket".'),
        (_policy({**ALLOW_ALL, "Resource": "arn:s3:::example_bucket"}),
         'Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".'),
        (_policy({**ALLOW_ALL, "Resource": "arn:aws:iam::123456789012:thing/x"}),
         'IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, '
         'instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, '
         'report/, access-report/.'),
        (_policy({**ALLOW_ALL, "Action": "s3:Get:Object"}), "Actions/Condition can contain only one colon."),
        (_policy({**ALLOW_ALL, "Action": "a a:Get"}), "Vendor a a is not valid"),
    ],
)
def test_identity_policy_messages(text: str, message: str) -> None:
    assert _message(text) == message


def test_inline_policies_may_omit_the_version() -> None:
    document = validate_identity_policy(_policy(ALLOW_ALL, None), managed=False)
    assert document.statements == [ALLOW_ALL]
    assert _message(_policy(ALLOW_ALL, None)) == "Policy document must be version 2012-10-17 or greater."


def test_valid_documents_keep_their_text() -> None:
    text = '{"Version": "2012-10-17", "Statement": [{"Sid": "x", "Effect": "Deny", "NotAction": ["iam:*"], ' \
           '"NotResource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": false}}}]}'
    assert validate_identity_policy(text, managed=True).text == text
    assert policy_size(' { "a" : 1 }\n') == 7


def test_trust_policy_principals_are_checked_against_existing_entities() -> None:
    existing = {"arn:aws:iam::000000000000:role/exists"}
    for principal in ("arn:aws:iam::000000000000:role/exists", "000000000000", "*",
                      "arn:aws:iam::000000000000:root", "arn:aws:sts::000000000000:assumed-role/r/s"):
        text = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
        validate_trust_policy(text, lambda arn: arn in existing)
    bad = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}]})
    with pytest.raises(ServiceError) as excinfo:
        validate_trust_policy(bad, lambda arn: True)
    assert excinfo.value.message == 'Invalid principal in policy: "AWS":"bob"'
