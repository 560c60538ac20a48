"""Function URLs: the configuration API through boto3 with AWS's errors, and requests over
plain HTTP to `<url-id>.lambda-url.<region>.localhost:<port>`: the payload 2.0 event the
function gets, the response mapping, auth (NONE needs a public resource-policy statement,
AWS_IAM a SigV4 signature; both need lambda:InvokeFunction via the URL too), CORS, aliases, and URLs surviving a restart on both backends."""

from __future__ import annotations

import base64
import configparser
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from lambda_helpers import TRUST, create_function, error_of, make_zip, unique
from support.server import FreeholdServer

from freehold.services.lambda_ import url_events

APP = make_zip({"app.py": '''
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/bare":
        return {"hello": "world"}
    if path == "/string":
        return "just text"
    if path == "/fail":
        raise ValueError("boom")
    if path == "/custom":
        return {"statusCode": 201, "headers": {"x-custom": "yes", "content-type": "application/octet-stream",
                "access-control-allow-origin": "https://evil.example"},
                "cookies": ["a=1", "b=2; Path=/"], "body": base64.b64encode(b"\\x00\\x01binary").decode(),
                "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
'''})


def _request(server: Any, url: str, method: str = "GET", path: str = "/echo", body: bytes | None = None,
             headers: list[tuple[str, str]] | None = None) -> tuple[int, http.client.HTTPResponse, bytes]:
    host = urlsplit(url).netloc
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response, response.read()
    finally:
        connection.close()


def _public(lam: Any, name: str, qualifier: str | None = None, principal: str = "*", auth: str = "NONE") -> None:
    """The two statements AWS requires of URLs made since October 2025."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(FunctionName=name, StatementId=unique("url"), Action="lambda:InvokeFunctionUrl",
                       Principal=principal, FunctionUrlAuthType=auth, **extra)
    lam.add_permission(FunctionName=name, StatementId=unique("invoke"), Action="lambda:InvokeFunction",
                       Principal=principal, InvokedViaFunctionUrl=True, **extra)


def _signed(server: Any, url: str, path: str, key: str, body: bytes = b"{}",
            secret: str = "secret") -> list[tuple[str, str]]:
    host = urlsplit(url).netloc
    request = AWSRequest(method="POST", url=f"http://{host}{path}", data=body, headers={"Host": host})
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    return [(k, v) for k, v in request.headers.items() if k.lower() != "host"]


def test_url_config_api(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, APP)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE",
                                              Cors={"AllowOrigins": ["https://app.example"]})
    url = created["FunctionUrl"]
    assert url.startswith("http://") and ".lambda-url.us-east-1.localhost:" in url and url.endswith("/")
    assert len(urlsplit(url).netloc.split(".")[0]) == 32
    assert created["FunctionArn"].endswith(f":function:{name}") and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == {"AllowOrigins": ["https://app.example"]}
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ResourceConflictException", 409)
    assert "FunctionUrlConfig exists for this Lambda function" in message

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == url and "LastModifiedTime" in got
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM", InvokeMode="RESPONSE_STREAM")
    assert (updated["AuthType"], updated["InvokeMode"], updated["FunctionUrl"]) == ("AWS_IAM", "RESPONSE_STREAM", url)

    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    alias_url = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert alias_url["FunctionArn"].endswith(f"{name}:live") and alias_url["FunctionUrl"] != url
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert sorted(c["FunctionUrl"] for c in listed) == sorted([url, alias_url["FunctionUrl"]])

    for bad in ({"Qualifier": "1"}, {"Qualifier": "$LATEST"}):
        with pytest.raises(ClientError) as excinfo:
            lam.create_function_url_config(FunctionName=name, AuthType="NONE", **bad)
        assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE", Qualifier="nope")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName=unique("missing"), AuthType="NONE")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName=name, AuthType="SOMETIMES")
    assert error_of(excinfo)[0] == "ValidationException"

    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function_url_config(FunctionName=name)
    assert error_of(excinfo) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function_url_config(FunctionName=name)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert _request(freehold, url)[0] == 403  # gone: the host reaches nothing


def test_event_and_responses(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, APP)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    status, response, body = _request(freehold, url)
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})  # no public statement yet
    lam.add_permission(FunctionName=name, StatementId="url-only", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    assert _request(freehold, url)[0] == 403  # lambda:InvokeFunction is needed too
    lam.add_permission(FunctionName=name, StatementId="invoke-other", Action="lambda:InvokeFunction",
                       Principal="*", SourceArn="arn:aws:s3:::some-bucket")
    assert _request(freehold, url)[0] == 403  # a statement for S3 notifications does not cover URLs
    lam.add_permission(FunctionName=name, StatementId="invoke-url", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    statement = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"][-1]
    assert statement["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}

    status, response, body = _request(
        freehold, url, "POST", "/echo?b=2&a=1&a=3&empty=", b'{"x": 1}',
        [("Content-Type", "application/json"), ("X-Multi", "one"), ("X-Multi", "two"), ("User-Agent", "tester/1"),
         ("Cookie", "c1=v1; c2=v2")])
    assert status == 200 and response.getheader("x-amzn-RequestId")
    event = json.loads(body)
    domain = urlsplit(url).netloc.rsplit(":", 1)[0]
    url_id = domain.split(".")[0]
    expected = url_events.build_event(
        url_id=url_id, domain=domain, method="POST", raw_path="/echo", raw_query="b=2&a=1&a=3&empty=",
        headers=[*event["headers"].items(), ("Cookie", "c1=v1; c2=v2")], body=b'{"x": 1}',
        source_ip="127.0.0.1", request_id=event["requestContext"]["requestId"],
        now=event["requestContext"]["timeEpoch"] / 1000)
    assert event == expected  # the one event builder, checked field by field below
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/echo" and event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two" and event["headers"]["host"] == urlsplit(url).netloc
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1" and event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(freehold.port)
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and context["apiId"] == url_id
    assert context["domainName"] == domain and context["domainPrefix"] == url_id
    assert context["http"] == {"method": "POST", "path": "/echo", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                               "userAgent": "tester/1"}
    assert context["stage"] == "$default" and context["routeKey"] == "$default"
    assert context["time"] == url_events.request_time(context["timeEpoch"] / 1000)

    status, _, body = _request(freehold, url, "PUT", "/echo", b"\x00\xffraw", [("Content-Type", "image/png")])
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xffraw"
    event = json.loads(_request(freehold, url, "GET", "/echo")[2])
    assert "body" not in event and "queryStringParameters" not in event and event["rawQueryString"] == ""
    # A client's own X-Forwarded-For is a claim, not its address: the source stays the peer's,
    # and the client's address is appended to the chain it sent.
    event = json.loads(_request(freehold, url, "GET", "/echo", headers=[("X-Forwarded-For", "203.0.113.9")])[2])
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"

    status, response, body = _request(freehold, url, path="/custom")
    assert (status, body) == (201, b"\x00\x01binary")
    assert response.getheader("x-custom") == "yes"
    assert response.getheader("content-type") == "application/octet-stream"
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2; Path=/"]
    status, response, body = _request(freehold, url, path="/bare")
    assert (status, json.loads(body), response.getheader("content-type")) == (200, {"hello": "world"},
                                                                              "application/json")
    assert _request(freehold, url, path="/string")[1:][1] == b"just text"
    status, _, body = _request(freehold, url, path="/fail")
    assert (status, json.loads(body)) == (502, {"Message": "Internal Server Error"})


def test_aws_iam_auth(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, APP)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert _request(freehold, url, "POST", "/echo", b"{}")[0] == 403  # unsigned
    status, _, body = _request(freehold, url, "POST", "/echo", b"{}", _signed(freehold, url, "/echo", "000000000000"))
    assert status == 200, body
    context = json.loads(body)["requestContext"]
    assert context["accountId"] == "000000000000"
    assert context["authorizer"]["iam"]["accessKey"] == "000000000000"
    assert context["authorizer"]["iam"]["userArn"] == "arn:aws:iam::000000000000:root"
    # Another account needs a statement for it.
    other = _signed(freehold, url, "/echo", "333333333333")
    assert _request(freehold, url, "POST", "/echo", b"{}", other)[0] == 403
    _public(lam, name, principal="333333333333", auth="AWS_IAM")
    assert _request(freehold, url, "POST", "/echo", b"{}", _signed(freehold, url, "/echo", "333333333333"))[0] == 200
    # A public NONE statement does not open an AWS_IAM URL to unsigned callers.
    _public(lam, name)
    assert _request(freehold, url, "POST", "/echo", b"{}")[0] == 403


def test_cors(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, APP)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-token"],
        "ExposeHeaders": ["x-custom"], "MaxAge": 300, "AllowCredentials": True})["FunctionUrl"]
    _public(lam, name)
    status, response, body = _request(freehold, url, "OPTIONS", "/custom", headers=[
        ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")])
    assert status == 200 and body == b""
    assert response.getheader("access-control-allow-origin") == "https://app.example"
    assert response.getheader("access-control-allow-methods") == "GET,POST"
    assert response.getheader("access-control-allow-headers") == "x-token"
    assert response.getheader("access-control-max-age") == "300"
    assert response.getheader("access-control-allow-credentials") == "true"
    status, response, _ = _request(freehold, url, "GET", "/custom", headers=[("Origin", "https://app.example")])
    assert status == 201
    # The function's own CORS headers give way to the URL's configuration.
    assert response.getheader("access-control-allow-origin") == "https://app.example"
    assert response.getheader("access-control-expose-headers") == "x-custom"
    _, response, _ = _request(freehold, url, "GET", "/custom", headers=[("Origin", "https://other.example")])
    assert response.getheader("access-control-allow-origin") is None


def test_alias_url_and_restart(freehold: Any, role: str) -> None:
    lam = freehold.client("lambda")
    name = create_function(lam, role, APP, Environment={"Variables": {"WHICH": "v1"}})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    url = lam.create_function_url_config(FunctionName=name, Qualifier="prod", AuthType="NONE")["FunctionUrl"]
    _public(lam, name, "prod")
    unqualified = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert _request(freehold, unqualified)[0] == 403  # the alias's statement does not cover the function
    assert _request(freehold, url)[0] == 200
    freehold.kill9()
    freehold.start()
    lam = freehold.client("lambda")
    # The port is the same after a restart: the URL still reaches the function.
    status, _, body = _request(freehold, url)
    assert status == 200 and json.loads(body)["requestContext"]["apiId"] == urlsplit(url).netloc.split(".")[0]
    assert lam.get_function_url_config(FunctionName=name, Qualifier="prod")["FunctionUrl"] == url
    lam.delete_function(FunctionName=name)
    assert _request(freehold, url)[0] == 403
    with pytest.raises(ClientError):
        lam.get_function_url_config(FunctionName=name, Qualifier="prod")




@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    server = FreeholdServer(tmp_path_factory.mktemp("urls-strict"), extra_args=("--strict-auth",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_aws_iam_signature_verified_in_strict_mode(strict: FreeholdServer) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(strict.data_dir / "root-credentials")
    key, secret = parser["freehold"]["aws_access_key_id"], parser["freehold"]["aws_secret_access_key"]
    lam = strict.client("lambda", aws_access_key_id=key, aws_secret_access_key=secret)
    iam = strict.client("iam", aws_access_key_id=key, aws_secret_access_key=secret)
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    name = create_function(lam, role, APP)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    good = _signed(strict, url, "/echo", key, secret=secret)
    status, _, body = _request(strict, url, "POST", "/echo", b"{}", good)
    assert status == 200, body
    assert json.loads(body)["requestContext"]["authorizer"]["iam"]["accessKey"] == key
    forged = _signed(strict, url, "/echo", key, secret="not-the-secret")
    assert _request(strict, url, "POST", "/echo", b"{}", forged)[0] == 403
    tampered = _signed(strict, url, "/echo", key, secret=secret, body=b"{}")
    assert _request(strict, url, "POST", "/echo", b'{"changed": 1}', tampered)[0] == 403
    # A NONE URL stays public in strict mode: no signature is asked for.
    public = create_function(lam, role, APP)
    open_url = lam.create_function_url_config(FunctionName=public, AuthType="NONE")["FunctionUrl"]
    _public(lam, public)
    assert _request(strict, open_url)[0] == 200
