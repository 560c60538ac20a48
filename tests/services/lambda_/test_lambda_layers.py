"""Lambda layers through boto3: publishing (zip and S3), reading, listing with filters and
pages, deleting, version permissions across accounts, functions using layers (Python, Node.js,
a layer with /opt/bin and one bringing a `provided` bootstrap), AWS's errors, and restart."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import urllib.error
import urllib.request
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import TRUST, create_function, error_of, make_zip, unique
from support.server import ROOT

PY_LAYER = make_zip({"python/greeting.py": "WORD = 'from-layer-one'\n", "python/shared.py": "WHO = 'first'\n"})
PY_LAYER_2 = make_zip({"python/shared.py": "WHO = 'second'\n"})
BIN_LAYER = make_zip({"bin/hello-tool": "#!/bin/sh\necho tool says $1\n"}, executable=("bin/hello-tool",))
NODE_LAYER = make_zip({"nodejs/node_modules/greeter/index.js": "exports.greet = (n) => 'hi ' + n + ' from layer';\n"})
BOOTSTRAP_LAYER = make_zip({"bootstrap": '''#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/next")"
  ID="$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  curl -sS -X POST "$API/$ID/response" -d "{\\"from\\":\\"layer bootstrap\\",\\"handler\\":\\"$_HANDLER\\"}" >/dev/null
done
'''}, executable=("bootstrap",))

PY_APP = make_zip({"app.py": '''
import os, subprocess, sys
import greeting, shared

def handler(event, context):
    tool = subprocess.run(["hello-tool", "x"], capture_output=True, text=True).stdout.strip() \\
        if event.get("tool") else None
    return {"word": greeting.WORD, "who": shared.WHO, "tool": tool,
            "opt": sorted(os.listdir(os.environ.get("OPT_PROBE", "/opt"))) if event.get("list") else None}
'''})
NODE_APP = make_zip({"index.js": "const g = require('greeter');\nexports.handler = async (e) => ({msg: g.greet(e.name)});\n"})


def _deflated(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _publish(lam: Any, name: str, content: bytes = PY_LAYER, **extra: Any) -> Any:
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": content}, **extra)


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> Any:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def test_publish_get_list_delete(freehold: Any, lam: Any) -> None:
    name = unique("layer")
    first = _publish(lam, name, Description="one", CompatibleRuntimes=["python3.11", "python3.12"],
                     CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert first["Version"] == 1
    assert first["LayerArn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{name}"
    assert first["LayerVersionArn"] == first["LayerArn"] + ":1"
    assert first["Content"]["CodeSize"] == len(PY_LAYER)
    assert first["CompatibleRuntimes"] == ["python3.11", "python3.12"] and first["LicenseInfo"] == "MIT"
    with urllib.request.urlopen(first["Content"]["Location"], timeout=10) as response:
        assert response.read() == PY_LAYER  # the content is downloadable at Content.Location
    second = _publish(lam, name, PY_LAYER_2, CompatibleRuntimes=["nodejs20.x"])
    assert second["Version"] == 2

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["Description"] == "one" and got["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    assert lam.get_layer_version(LayerName=first["LayerArn"], VersionNumber=2)["Version"] == 2
    assert lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])["Version"] == 2

    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")[
        "LayerVersions"]] == [1]
    assert lam.list_layer_versions(LayerName=name, CompatibleArchitecture="arm64")["LayerVersions"] == []
    page = lam.list_layer_versions(LayerName=name, MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    rest = lam.list_layer_versions(LayerName=name, MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest

    layers = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert layers[name]["LatestMatchingVersion"]["Version"] == 2
    by_runtime = {layer["LayerName"]: layer for layer in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]}
    assert by_runtime[name]["LatestMatchingVersion"]["Version"] == 1

    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    # Layer archives count in the account's code storage.
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before - len(PY_LAYER_2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # again: still a success, as on AWS
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error_of(excinfo) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    # Numbers are never reused after a delete.
    assert _publish(lam, name)["Version"] == 3


def test_publish_from_s3_and_bad_content(freehold: Any, lam: Any) -> None:
    s3 = freehold.client("s3")
    bucket = unique("layers")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=PY_LAYER)
    name = unique("layer")
    published = lam.publish_layer_version(LayerName=name, Content={"S3Bucket": bucket, "S3Key": "layer.zip"})
    assert published["Content"]["CodeSize"] == len(PY_LAYER)
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(LayerName=name, Content={"S3Bucket": bucket, "S3Key": "missing.zip"})
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400) and "NoSuchKey" in message
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": b"not a zip"})
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException",
                                     "Could not unzip uploaded file. Please check your file, then try to upload again.")
    with pytest.raises(ClientError) as excinfo:
        lam.publish_layer_version(LayerName="bad name!", Content={"ZipFile": PY_LAYER})
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_by_arn(Arn="arn:aws:lambda:us-east-1:000000000000:layer:nope")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version(LayerName=unique("never"), VersionNumber=1)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_layer_permissions_across_accounts(freehold: Any, lam: Any) -> None:
    other = freehold.client("lambda", aws_access_key_id="222222222222", aws_secret_access_key="x")
    other_iam = freehold.client("iam", aws_access_key_id="222222222222", aws_secret_access_key="x")
    other_role = other_iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    name = unique("shared")
    arn = _publish(lam, name)["LayerVersionArn"]

    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(excinfo) == ("ResourceNotFoundException", "No policy is associated with the given resource.", 404)
    with pytest.raises(ClientError) as excinfo:
        other.get_layer_version_by_arn(Arn=arn)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        create_function(other, other_role, PY_APP, Layers=[arn])
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 403) and "lambda:GetLayerVersion" in message

    added = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="to-222",
                                             Action="lambda:GetLayerVersion", Principal="222222222222")
    statement = json.loads(added["Statement"])
    assert statement == {"Sid": "to-222", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                         "Action": "lambda:GetLayerVersion", "Resource": arn}
    assert other.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    function = create_function(other, other_role, PY_APP, Layers=[arn])
    assert _invoke(other, function, {})["word"] == "from-layer-one"

    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="to-222",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error_of(excinfo)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="x",
                                         Action="lambda:GetLayerVersion", Principal="*", RevisionId="stale")
    assert error_of(excinfo)[0] == "PreconditionFailedException"
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="x",
                                         Action="lambda:InvokeFunction", Principal="*")
    assert error_of(excinfo)[0] == "ValidationException"
    org = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org",
                                           Action="lambda:GetLayerVersion", Principal="*",
                                           OrganizationId="o-abcdefghij", RevisionId=added["RevisionId"])
    assert json.loads(org["Statement"])["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["to-222", "org"]

    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="to-222")
    with pytest.raises(ClientError) as excinfo:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="to-222")
    assert error_of(excinfo) == ("ResourceNotFoundException", "Statement to-222 is not found in resource policy.", 404)
    with pytest.raises(ClientError) as excinfo:  # an organization statement grants nothing here
        other.get_layer_version_by_arn(Arn=arn)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    # The function configured while it was allowed keeps its layer, as on AWS.
    assert _invoke(other, function, {})["word"] == "from-layer-one"


def test_python_layers_merge_in_order_with_bin(freehold: Any, lam: Any, role: str) -> None:
    one = _publish(lam, unique("one"))["LayerVersionArn"]
    two = _publish(lam, unique("two"), PY_LAYER_2)["LayerVersionArn"]
    tool = _publish(lam, unique("tool"), BIN_LAYER)["LayerVersionArn"]
    name = create_function(lam, role, PY_APP, Layers=[one, two, tool])
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Layers"] == [{"Arn": one, "CodeSize": len(PY_LAYER)}, {"Arn": two, "CodeSize": len(PY_LAYER_2)},
                                {"Arn": tool, "CodeSize": len(BIN_LAYER)}]
    result = _invoke(lam, name, {"tool": True})
    assert result == {"word": "from-layer-one", "who": "second", "tool": "tool says x", "opt": None}
    # Reordered: the first layer's shared.py now wins.
    lam.update_function_configuration(FunctionName=name, Layers=[two, one])
    assert _invoke(lam, name, {})["who"] == "first"
    # Layers removed: the handler can no longer import them.
    lam.update_function_configuration(FunctionName=name, Layers=[])
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Runtime.ImportModuleError"
    # A version published with layers keeps them.
    lam.update_function_configuration(FunctionName=name, Layers=[one])
    version = lam.publish_version(FunctionName=name)
    assert version["Layers"] == [{"Arn": one, "CodeSize": len(PY_LAYER)}]
    assert _invoke(lam, f"{name}:{version['Version']}", {})["who"] == "first"


def test_node_layer_and_layer_bootstrap(freehold: Any, lam: Any, role: str) -> None:
    greeter = _publish(lam, unique("greeter"), NODE_LAYER)["LayerVersionArn"]
    name = create_function(lam, role, NODE_APP, runtime="nodejs20.x", handler="index.handler", Layers=[greeter])
    assert _invoke(lam, name, {"name": "ann"}) == {"msg": "hi ann from layer"}
    runtime = _publish(lam, unique("runtime"), BOOTSTRAP_LAYER)["LayerVersionArn"]
    custom = create_function(lam, role, make_zip({"readme.txt": "no bootstrap here"}), runtime="provided.al2023",
                             handler="my.handler", Layers=[runtime])
    assert _invoke(lam, custom, {}) == {"from": "layer bootstrap", "handler": "my.handler"}


def test_function_layer_errors(freehold: Any, lam: Any, role: str) -> None:
    name = unique("err")
    arn = _publish(lam, name)["LayerVersionArn"]
    second = _publish(lam, name)["LayerVersionArn"]
    missing = arn.rsplit(":", 1)[0] + ":99"
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, PY_APP, Layers=[missing])
    assert error_of(excinfo) == ("InvalidParameterValueException", f"Layer version {missing} does not exist.", 400)
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, PY_APP, Layers=[arn, second])
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        "Two different versions of the same layer are not allowed to be referenced in the same function. "
        f"{arn} and {second} are versions of the same layer.", 400)
    others = [_publish(lam, unique("many"))["LayerVersionArn"] for _ in range(5)]
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, PY_APP, Layers=[arn, *others])
    assert error_of(excinfo) == ("InvalidParameterValueException", "Cannot reference more than 5 layers.", 400)
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, PY_APP, Layers=["arn:aws:lambda:us-east-1:000000000000:layer:x"])
    assert error_of(excinfo)[0] == "ValidationException"
    function = create_function(lam, role, PY_APP)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=function, Layers=[missing])
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    assert "Layers" not in lam.get_function_configuration(FunctionName=function)
    # A deleted version cannot be added any more.
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=function, Layers=[second])
    assert error_of(excinfo)[1] == f"Layer version {second} does not exist."


def test_code_and_layers_over_the_unzipped_limit(freehold: Any, lam: Any, role: str) -> None:
    big = bytes(130 * 1024 * 1024)  # zeros: a few hundred KB deflated, 130 MiB unzipped
    first = _publish(lam, unique("big"), _deflated({"python/a.bin": big}))["LayerVersionArn"]
    second = _publish(lam, unique("big"), _deflated({"python/b.bin": big}))["LayerVersionArn"]
    source = b"def handler(e, c):\n    return 1\n"
    code = _deflated({"app.py": source})
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, role, code, Layers=[first, second])
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        f"The actual size is {2 * len(big) + len(source)} bytes.", 400)
    name = create_function(lam, role, code, Layers=[first])  # one of them fits
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Layers=[first, second])
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    assert [layer["Arn"] for layer in lam.get_function_configuration(FunctionName=name)["Layers"]] == [first]


def test_layers_survive_restart(freehold: Any, role: str) -> None:
    lam = freehold.client("lambda")
    name = unique("durable")
    published = _publish(lam, name, Description="kept")
    arn, location = published["LayerVersionArn"], published["Content"]["Location"]
    lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="all",
                                     Action="lambda:GetLayerVersion", Principal="*")
    function = create_function(lam, role, PY_APP, Layers=[arn])
    lam.delete_layer_version(LayerName=name, VersionNumber=1)  # in use: its content stays for the function
    freehold.kill9()
    freehold.start()
    lam = freehold.client("lambda")
    assert _invoke(lam, function, {})["word"] == "from-layer-one"
    assert _publish(lam, name)["Version"] == 2
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"][0]["Description"] == ""
    # The deleted version's content goes once the last function using it does.
    with urllib.request.urlopen(location, timeout=10) as response:
        assert response.read() == PY_LAYER
    lam.delete_function(FunctionName=function)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(location, timeout=10)
    assert excinfo.value.code == 404


def test_aws_cli_layers_and_function_url(freehold: Any, lam: Any, role: str, tmp_path: Any) -> None:
    if freehold.backend != "sqlite":
        pytest.skip("the CLI's requests are the same on both backends; run once")
    zip_path = tmp_path / "layer.zip"
    zip_path.write_bytes(PY_LAYER)
    name = unique("cli-layer")

    def aws(*args: str) -> Any:
        result = subprocess.run([str(ROOT / ".venv/bin/aws"), "lambda", *args], env=freehold.env_for_cli(),
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None

    published = aws("publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{zip_path}",
                    "--compatible-runtimes", "python3.11")
    assert published["Version"] == 1 and published["CompatibleRuntimes"] == ["python3.11"]
    listed = aws("list-layer-versions", "--layer-name", name)["LayerVersions"]
    assert [v["LayerVersionArn"] for v in listed] == [published["LayerVersionArn"]]
    function = create_function(lam, role, PY_APP, Layers=[published["LayerVersionArn"]])
    url = aws("create-function-url-config", "--function-name", function, "--auth-type", "NONE")["FunctionUrl"]
    aws("add-permission", "--function-name", function, "--statement-id", "url", "--action",
        "lambda:InvokeFunctionUrl", "--principal", "*", "--function-url-auth-type", "NONE")
    aws("add-permission", "--function-name", function, "--statement-id", "invoke", "--action",
        "lambda:InvokeFunction", "--principal", "*", "--invoked-via-function-url")
    host = urlsplit(url).netloc
    connection = http.client.HTTPConnection("127.0.0.1", freehold.port, timeout=60)
    connection.request("GET", "/", headers={"Host": host})
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["word"] == "from-layer-one"
    connection.close()
    aws("delete-layer-version", "--layer-name", name, "--version-number", "1")
    assert aws("list-layer-versions", "--layer-name", name)["LayerVersions"] == []
