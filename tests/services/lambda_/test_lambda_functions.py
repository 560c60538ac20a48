"""Lambda's control plane through boto3, on SQLite and PostgreSQL: functions, code, limits,
tags, permissions, versions, aliases, concurrency, account settings, and durability."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import ECHO_PY, create_function, error_of, make_zip, unique

ACCOUNT = "000000000000"


def test_create_get_and_waiter(lam: Any, role: str) -> None:
    name = unique("fn")
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": ECHO_PY},
        Description="d", Timeout=7, MemorySize=256, Environment={"Variables": {"APP_A": "1"}}, Tags={"team": "x"},
    )
    assert created["State"] == "Pending"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(ECHO_PY).digest()).decode()
    assert created["CodeSize"] == len(ECHO_PY)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert (config["State"], config["LastUpdateStatus"], config["Version"]) == ("Active", "Successful", "$LATEST")
    assert (config["Timeout"], config["MemorySize"], config["Description"]) == (7, 256, "d")
    assert config["Environment"] == {"Variables": {"APP_A": "1"}}
    assert config["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    assert got["Tags"] == {"team": "x"}
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
        assert response.read() == ECHO_PY
    by_arn = lam.get_function_configuration(FunctionName=config["FunctionArn"])
    assert by_arn["RevisionId"] == config["RevisionId"]


def test_create_errors(lam: Any, role: str) -> None:
    name = create_function(lam, role)
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, FunctionName=name)
    assert error_of(excinfo) == ("ResourceConflictException", f"Function already exist: {name}", 409)
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, zip_bytes=b"not a zip")
    assert error_of(excinfo) == ("InvalidParameterValueException",
                                 "Could not unzip uploaded file. Please check your file, then try to upload again.", 400)
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, f"arn:aws:iam::{ACCOUNT}:role/no-such-role")
    assert error_of(excinfo) == ("InvalidParameterValueException",
                                 "The role defined for the function cannot be assumed by Lambda.", 400)
    with pytest.raises(ClientError) as excinfo:
        lam.create_function(FunctionName=unique("img"), Role=role, PackageType="Image",
                            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest"})
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400) and "container image" in message
    big_env = {"Variables": {f"K{i}": "v" * 100 for i in range(45)}}
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, Environment=big_env)
    code, message, _ = error_of(excinfo)
    assert code == "InvalidParameterValueException" and "exceeded the 4KB limit" in message
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, Environment={"Variables": {"AWS_REGION": "x"}})
    assert "reserved keys" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, FunctionName="bad name!")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, Timeout=901)
    assert error_of(excinfo) == ("ValidationException", "1 validation error detected: Value '901' at 'timeout' "
                                 "failed to satisfy constraint: Member must have value less than or equal to 900", 400)


def test_not_found_and_list_pagination(lam: Any, role: str) -> None:
    missing = unique("missing")
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=missing)
    assert error_of(excinfo) == ("ResourceNotFoundException",
                                 f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{missing}", 404)
    names = sorted(create_function(lam, role, FunctionName=unique("page")) for _ in range(3))
    seen: list[str] = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert seen == sorted(seen) and set(names) <= set(seen)


def test_update_code_configuration_and_revision(lam: Any, role: str) -> None:
    name = create_function(lam, role)
    before = lam.get_function_configuration(FunctionName=name)
    new_zip = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_zip)
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Timeout=10, RevisionId=before["RevisionId"])
    assert error_of(excinfo)[0::2] == ("PreconditionFailedException", 412)
    changed = lam.update_function_configuration(FunctionName=name, Timeout=10, Environment={"Variables": {"APP_B": "2"}})
    assert changed["Timeout"] == 10
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {"APP_B": "2"}}


def test_tags_and_permissions(lam: Any, role: str) -> None:
    name = create_function(lam, role)
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as excinfo:
        lam.get_policy(FunctionName=name)
    assert error_of(excinfo) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    added = lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket")
    statement = json.loads(added["Statement"])
    assert statement == {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                         "Action": "lambda:InvokeFunction", "Resource": arn,
                         "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    with pytest.raises(ClientError) as excinfo:
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    assert error_of(excinfo)[0::2] == ("ResourceConflictException", 409)
    assert json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"] == [statement]
    lam.remove_permission(FunctionName=name, StatementId="s3")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=name)


def test_concurrent_permissions_are_all_kept(lam: Any, role: str) -> None:
    """Terraform creates a function's permissions in parallel: none may overwrite another (it
    then polls GetPolicy for the lost statement until it times out)."""
    from concurrent.futures import ThreadPoolExecutor

    name = create_function(lam, role)
    sids = [f"s{i}" for i in range(8)]

    def add(sid: str) -> None:
        lam.add_permission(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction", Principal="*")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, sids))
    assert sorted(s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]) == sids
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda sid: lam.remove_permission(FunctionName=name, StatementId=sid), sids[:4]))
    assert sorted(s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]) == sids[4:]


def test_versions_and_aliases(lam: Any, role: str) -> None:
    name = create_function(lam, role)
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f"{name}:1")
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # nothing changed: same version
    lam.update_function_configuration(FunctionName=name, Description="changed")
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"].endswith(f"{name}:live")
    with pytest.raises(ClientError) as excinfo:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error_of(excinfo)[0] == "ResourceConflictException"
    assert lam.get_function_configuration(FunctionName=name, Qualifier="live")["Version"] == "1"
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={})
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert error_of(excinfo)[0] == "ResourceConflictException"
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as excinfo:
        lam.get_alias(FunctionName=name, Name="live")
    assert error_of(excinfo)[0::2] == ("ResourceNotFoundException", 404)


def test_concurrency_and_account_settings(lam: Any, role: str) -> None:
    name = create_function(lam, role)
    before = lam.get_account_settings()
    assert before["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = lam.get_account_settings()
    assert after["AccountLimit"]["UnreservedConcurrentExecutions"] == \
        before["AccountLimit"]["UnreservedConcurrentExecutions"] - 5
    with pytest.raises(ClientError) as excinfo:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=990)
    assert "below its minimum value of [100]" in error_of(excinfo)[1]
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_functions_survive_kill9(freehold: Any, role: str) -> None:
    lam = freehold.client("lambda")
    name = create_function(lam, role)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    freehold.kill9()
    freehold.start()
    lam = freehold.client("lambda")
    assert lam.get_function_configuration(FunctionName=name, Qualifier="prod")["Version"] == "1"
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=name)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_environment_variable_names_are_validated(lam: Any, role: str) -> None:
    # AWS: [a-zA-Z]([a-zA-Z0-9_])+ ; single letters, '=', NUL, empty names are refused.
    message = ("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
               "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    for bad in ["", "A", "A=B", "A\x00B", "1AB", "AB-C", "ÄB"]:
        with pytest.raises(ClientError) as excinfo:
            create_function(lam, role, Environment={"Variables": {bad: "x"}})
        assert error_of(excinfo) == ("ValidationException", message, 400), bad
    name = create_function(lam, role, Environment={"Variables": {"Ab_9": "x"}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"OK": "1", "NOT=OK": "2"}})
    assert error_of(excinfo) == ("ValidationException", message, 400)
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {"Ab_9": "x"}}
