"""Accounts are isolated in state: a 12-digit access key id selects its account, any other
key the default account 000000000000, and one account never sees another's resources."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support.server import FreeholdServer

TRUST = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
         '"Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')


def test_access_key_selects_the_account(freehold: FreeholdServer) -> None:
    for key, account in (("111122223333", "111122223333"), ("test", "000000000000"),
                         ("AKIAIOSFODNN7EXAMPLE", "000000000000"), ("1234", "000000000000")):
        sts = freehold.client("sts", aws_access_key_id=key, aws_secret_access_key="x")
        identity = sts.get_caller_identity()
        assert identity["Account"] == account, key
        assert identity["Arn"] == f"arn:aws:iam::{account}:root"


def test_accounts_do_not_see_each_other(freehold: FreeholdServer) -> None:
    first = freehold.client("iam", aws_access_key_id="210987654321", aws_secret_access_key="x")
    second = freehold.client("iam", aws_access_key_id="123456789012", aws_secret_access_key="x")
    made = first.create_role(RoleName="isolated-role", AssumeRolePolicyDocument=TRUST)["Role"]
    assert made["Arn"] == "arn:aws:iam::210987654321:role/isolated-role"
    with pytest.raises(ClientError) as caught:
        second.get_role(RoleName="isolated-role")
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    # The same name is free in the other account, and each sees only its own.
    other = second.create_role(RoleName="isolated-role", AssumeRolePolicyDocument=TRUST)["Role"]
    assert other["Arn"] == "arn:aws:iam::123456789012:role/isolated-role"
    assert other["RoleId"] != made["RoleId"]
    second.delete_role(RoleName="isolated-role")
    assert first.get_role(RoleName="isolated-role")["Role"]["RoleId"] == made["RoleId"]
    names = {r["RoleName"] for r in second.list_roles()["Roles"]}
    assert "isolated-role" not in names
