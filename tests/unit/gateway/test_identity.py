"""Resolving the principal of botocore-signed requests, in default and strict mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from test_routing import ENDPOINT, Captured, capture

from freehold.gateway import identity, routing, sigv4
from freehold.gateway.context import Principal, SignatureInfo
from freehold.gateway.identity import IssuedCredential, StaticCredentials
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.specs import service_model

USER_KEY = "AKIAFREEHOLDUSER0001"
USER_SECRET = "user-secret"
SESSION_KEY = "ASIAFREEHOLDSESSION1"
SESSION_SECRET = "session-secret"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLETOKEN"

USER = Principal("user", "111122223333", "arn:aws:iam::111122223333:user/alice", "AIDAALICE")
ROLE = Principal(
    "assumed-role",
    "111122223333",
    "arn:aws:sts::111122223333:assumed-role/app/s1",
    "AROAAPP:s1",
    role_arn="arn:aws:iam::111122223333:role/app",
    session_name="s1",
)


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    routing.set_cache_dir(tmp_path_factory.mktemp("routing-cache"))
    yield
    routing.set_cache_dir(None)


def resolver(expiration: datetime | None = None) -> StaticCredentials:
    return StaticCredentials(
        [
            IssuedCredential(USER_KEY, USER_SECRET, None, None, USER),
            IssuedCredential(
                SESSION_KEY,
                SESSION_SECRET,
                SESSION_TOKEN,
                expiration or datetime(2100, 1, 1, tzinfo=UTC),
                ROLE,
            ),
        ]
    )


def signed(service: str, operation: str, key: str, secret: str, token: str | None = None) -> HttpRequest:
    client = boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 0}, parameter_validation=False),
    )
    client.meta.events.register_first("before-send", _raise)
    return capture(client, operation, service)


def _raise(request: Any, **_: Any) -> None:
    raise Captured(request)


def info_of(request: HttpRequest) -> SignatureInfo:
    info = sigv4.parse_signature(request)
    assert info is not None
    return info


def when(info: SignatureInfo, delta: timedelta = timedelta(0)) -> datetime:
    return datetime.strptime(info.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + delta


def auth(
    request: HttpRequest,
    strict: bool,
    service: str,
    *,
    creds: StaticCredentials | None = None,
    delta: timedelta = timedelta(0),
) -> Principal:
    info = sigv4.parse_signature(request)
    now = when(info, delta) if info is not None else datetime.now(UTC)
    return identity.authenticate(
        request, info, creds if creds is not None else resolver(), strict, service, now
    )


def fails(
    request: HttpRequest,
    strict: bool,
    service: str,
    code: str,
    status: int,
    message: str | None = None,
    **kwargs: Any,
) -> None:
    with pytest.raises(ServiceError) as raised:
        auth(request, strict, service, **kwargs)
    assert (raised.value.code, raised.value.status) == (code, status), raised.value.message
    if message is not None:
        assert raised.value.message == message


# --------------------------------------------------------------------------- both modes


@pytest.mark.parametrize("strict", [False, True])
def test_unsigned_requests_are_anonymous(strict: bool) -> None:
    request = HttpRequest("GET", "/my-bucket/k", "", Headers([("Host", "localhost")]))
    principal = identity.authenticate(request, None, resolver(), strict, "s3", datetime.now(UTC))
    assert principal.kind == "anonymous"
    assert principal.access_key_id == ""

def unsigned(service: str, operation: str) -> HttpRequest:
    from botocore import UNSIGNED

    client = boto3.client(
        service, endpoint_url=ENDPOINT, region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}, parameter_validation=False),
    )
    client.meta.events.register_first("before-send", _raise)
    return capture(client, operation, service)


@pytest.mark.parametrize(
    "service, operation, code, status",
    [
        ("iam", "CreateUser", "MissingAuthenticationToken", 403),
        ("sts", "AssumeRole", "MissingAuthenticationToken", 403),
        ("dynamodb", "ListTables", "MissingAuthenticationTokenException", 400),
        ("lambda", "ListFunctions", "MissingAuthenticationTokenException", 403),
    ],
)
def test_strict_mode_refuses_unsigned_requests_to_operations_that_need_credentials(
    service: str, operation: str, code: str, status: int
) -> None:
    # Before, an unsigned IAM CreateUser/CreateAccessKey went through a --strict-auth node.
    request = unsigned(service, operation)
    with pytest.raises(ServiceError) as raised:
        identity.authenticate(request, None, resolver(), True, service, datetime.now(UTC))
    assert (raised.value.code, raised.value.status) == (code, status)
    # The pipeline may pass the operation it already identified.
    with pytest.raises(ServiceError):
        identity.authenticate(request, None, resolver(), True, service, datetime.now(UTC),
                              operation=service_model(service).operation_model(operation))
    # Default mode keeps them anonymous (authorization decides).
    assert identity.authenticate(request, None, resolver(), False, service, datetime.now(UTC)).kind == "anonymous"


def test_strict_mode_lets_unsigned_requests_reach_the_operations_aws_serves_without_credentials() -> None:
    request = unsigned("sts", "AssumeRoleWithWebIdentity")
    assert identity.authenticate(request, None, resolver(), True, "sts", datetime.now(UTC)).kind == "anonymous"



@pytest.mark.parametrize("strict", [False, True])
def test_issued_keys_act_as_their_principal(strict: bool) -> None:
    user = auth(signed("sts", "GetCallerIdentity", USER_KEY, USER_SECRET), strict, "sts")
    assert (user.arn, user.access_key_id, user.session_token) == (USER.arn, USER_KEY, None)
    role = auth(
        signed("dynamodb", "ListTables", SESSION_KEY, SESSION_SECRET, SESSION_TOKEN), strict, "dynamodb"
    )
    assert (role.kind, role.arn, role.access_key_id, role.session_token) == (
        "assumed-role",
        ROLE.arn,
        SESSION_KEY,
        SESSION_TOKEN,
    )


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("service", "operation", "code", "status", "message"),
    [
        (
            "sts",
            "GetCallerIdentity",
            "ExpiredToken",
            403,
            "The security token included in the request is expired",
        ),
        (
            "dynamodb",
            "ListTables",
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        ("lambda", "ListFunctions", "ExpiredTokenException", 403, None),
        ("s3", "ListBuckets", "ExpiredToken", 400, "The provided token has expired."),
    ],
)
def test_expired_session_credentials(
    strict: bool, service: str, operation: str, code: str, status: int, message: str | None
) -> None:
    request = signed(service, operation, SESSION_KEY, SESSION_SECRET, SESSION_TOKEN)
    expiry = when(info_of(request), -timedelta(seconds=1))
    fails(request, strict, service, code, status, message, creds=resolver(expiration=expiry))
    # One second before expiry it still works.
    assert (
        auth(
            request, strict, service, creds=resolver(expiration=when(info_of(request), timedelta(seconds=1)))
        ).kind
        == "assumed-role"
    )


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("sts", "GetCallerIdentity", "InvalidClientTokenId", 403),
        ("kms", "ListKeys", "UnrecognizedClientException", 400),
        ("s3", "ListBuckets", "InvalidToken", 400),
    ],
)
def test_session_token_must_be_the_issued_one(
    strict: bool, service: str, operation: str, code: str, status: int
) -> None:
    for token in ("not-the-token", None):
        fails(signed(service, operation, SESSION_KEY, SESSION_SECRET, token), strict, service, code, status)
    # A long-term key with a token it was never issued with.
    fails(signed(service, operation, USER_KEY, USER_SECRET, "stray"), strict, service, code, status)


# --------------------------------------------------------------------------- default mode


def test_default_mode_unknown_keys_are_account_roots() -> None:
    request = signed("sts", "GetCallerIdentity", "test", "test")
    principal = auth(request, False, "sts")
    assert (principal.kind, principal.account_id, principal.arn, principal.access_key_id) == (
        "root",
        "000000000000",
        "arn:aws:iam::000000000000:root",
        "test",
    )
    principal = auth(signed("sqs", "ListQueues", "123456789012", "anything"), False, "sqs")
    assert (principal.kind, principal.account_id) == ("root", "123456789012")
    assert identity.region_of(info_of(request)) == "eu-west-1"
    assert identity.region_of(None) == "us-east-1"


def test_default_mode_does_not_verify_signatures_or_skew() -> None:
    request = signed("sts", "GetCallerIdentity", USER_KEY, "wrong-secret")
    assert auth(request, False, "sts").arn == USER.arn
    assert auth(request, False, "sts", delta=timedelta(hours=3)).arn == USER.arn
    assert auth(request, False, "sts", creds=StaticCredentials()).kind == "root"


def test_default_mode_still_expires_presigned_urls() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    parts = urlsplit(
        s3.generate_presigned_url("get_object", Params={"Bucket": "b1x", "Key": "k"}, ExpiresIn=60)
    )
    request = HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))
    assert auth(request, False, "s3", delta=timedelta(seconds=59)).kind == "root"
    fails(request, False, "s3", "AccessDenied", 403, "Request has expired", delta=timedelta(seconds=61))


def test_no_resolver_means_every_key_is_a_root() -> None:
    request = signed("sts", "GetCallerIdentity", USER_KEY, USER_SECRET)
    info = info_of(request)
    principal = identity.authenticate(request, info, None, False, "sts", when(info))
    assert principal.kind == "root" and principal.account_id == "000000000000"


# --------------------------------------------------------------------------- strict mode


@pytest.mark.parametrize(
    ("service", "operation", "code", "status", "message"),
    [
        (
            "sts",
            "GetCallerIdentity",
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        ("iam", "ListUsers", "InvalidClientTokenId", 403, None),
        (
            "dynamodb",
            "ListTables",
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        ("lambda", "ListFunctions", "UnrecognizedClientException", 403, None),
        (
            "s3",
            "ListBuckets",
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
    ],
)
def test_strict_mode_rejects_unknown_keys(
    service: str, operation: str, code: str, status: int, message: str | None
) -> None:
    fails(signed(service, operation, "test", "test"), True, service, code, status, message)
    fails(signed(service, operation, "123456789012", "x"), True, service, code, status, message)


@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("sts", "GetCallerIdentity", "SignatureDoesNotMatch", 403),
        ("secretsmanager", "ListSecrets", "InvalidSignatureException", 400),
        ("apigateway", "GetRestApis", "InvalidSignatureException", 403),
        ("s3", "ListBuckets", "SignatureDoesNotMatch", 403),
    ],
)
def test_strict_mode_rejects_bad_signatures(service: str, operation: str, code: str, status: int) -> None:
    fails(
        signed(service, operation, USER_KEY, "wrong-secret"),
        True,
        service,
        code,
        status,
        sigv4.MISMATCH_MESSAGE,
    )
    tampered = signed(service, operation, USER_KEY, USER_SECRET)
    tampered.headers.set("X-Amz-Date", "20200101T000000Z")
    with pytest.raises(ServiceError):
        identity.authenticate(
            tampered, info_of(tampered), resolver(), True, service, datetime(2020, 1, 1, 0, 5, tzinfo=UTC)
        )


def test_strict_mode_rejects_skewed_requests() -> None:
    request = signed("sts", "GetCallerIdentity", USER_KEY, USER_SECRET)
    fails(request, True, "sts", "SignatureDoesNotMatch", 403, delta=timedelta(minutes=20))
    assert auth(request, True, "sts", delta=timedelta(minutes=10)).arn == USER.arn


def test_strict_mode_verifies_presigned_urls() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=SESSION_KEY,
        aws_secret_access_key=SESSION_SECRET,
        aws_session_token=SESSION_TOKEN,
        config=Config(signature_version="s3v4"),
    )
    parts = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "b1x", "Key": "k"}))
    request = HttpRequest("GET", parts.path, parts.query, Headers([("Host", parts.netloc)]))
    assert auth(request, True, "s3").arn == ROLE.arn
    forged = HttpRequest(
        "GET", parts.path.replace("/k", "/other"), parts.query, Headers([("Host", parts.netloc)])
    )
    fails(forged, True, "s3", "SignatureDoesNotMatch", 403)


def test_every_operation_of_a_strict_service_authenticates() -> None:
    # A broad check: strict mode accepts every IAM operation signed by a known key.
    client = boto3.client(
        "iam",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=USER_KEY,
        aws_secret_access_key=USER_SECRET,
        config=Config(retries={"max_attempts": 0}, parameter_validation=False),
    )
    client.meta.events.register_first("before-send", _raise)
    for operation in service_model("iam").operation_names:
        request = capture(client, operation, "iam")
        assert auth(request, True, "iam").arn == USER.arn, operation
