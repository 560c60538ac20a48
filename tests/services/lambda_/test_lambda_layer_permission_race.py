"""AddLayerVersionPermission / RemoveLayerVersionPermission racing each other (Terraform adds a
layer version's permissions in parallel): every call succeeds, no statement is lost or kept by
mistake, and RevisionId keeps AWS's meaning (a stale one is a 412, the current one works)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_helpers import error_of, make_zip, unique

THREADS = 8
LAYER = make_zip({"python/racing.py": "X = 1\n"})


@pytest.fixture(scope="module")
def racing_lam(freehold: Any) -> Any:
    # No client retries: every answer is seen as it was given.
    return freehold.client("lambda", config=Config(retries={"total_max_attempts": 1},
                                                   max_pool_connections=THREADS, read_timeout=60))


def _sids(lam: Any, name: str) -> list[str]:
    try:
        policy = json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    return sorted(statement["Sid"] for statement in policy["Statement"])


def _at_once(calls: list[Any]) -> list[Any]:
    """Run the calls together, all released at the same moment; each one's answer or error."""
    def run(call: Any) -> Any:
        try:
            return call()
        except ClientError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_adds_and_removes_keep_every_statement(racing_lam: Any) -> None:
    lam = racing_lam
    name = unique("race-layer")
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER})
    sids = sorted(f"grant-{i}" for i in range(THREADS))
    for round_ in range(2):  # twice: from no policy, then from a policy emptied by removes
        added = _at_once([
            partial(lam.add_layer_version_permission, LayerName=name, VersionNumber=1, StatementId=sid,
                    Action="lambda:GetLayerVersion", Principal=f"1111111111{i:02d}")
            for i, sid in enumerate(sids)])
        errors = [answer for answer in added if isinstance(answer, ClientError)]
        assert not errors, [error.response["Error"] for error in errors]
        assert _sids(lam, name) == sids, f"round {round_}"
        # Each call's RevisionId is distinct; the policy's is the last writer's.
        revisions = {answer["RevisionId"] for answer in added}
        assert len(revisions) == THREADS
        assert lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"] in revisions

        removed = _at_once([
            partial(lam.remove_layer_version_permission, LayerName=name, VersionNumber=1, StatementId=sid)
            for sid in sids[: THREADS // 2]])
        errors = [answer for answer in removed if isinstance(answer, ClientError)]
        assert not errors, [error.response["Error"] for error in errors]
        assert _sids(lam, name) == sids[THREADS // 2:]
        removed = _at_once([
            partial(lam.remove_layer_version_permission, LayerName=name, VersionNumber=1, StatementId=sid)
            for sid in sids[THREADS // 2:]])
        assert not [answer for answer in removed if isinstance(answer, ClientError)]
        assert _sids(lam, name) == []  # the last statement gone, the version has no policy


def test_parallel_adds_of_one_statement_id_conflict_once(racing_lam: Any) -> None:
    """Only one of several calls adding the same statement id wins; the others get AWS's 409."""
    lam = racing_lam
    name = unique("race-layer")
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER})
    answers = _at_once([
        lambda: lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="same",
                                                 Action="lambda:GetLayerVersion", Principal="*")
        for _ in range(THREADS)])
    wins = [answer for answer in answers if not isinstance(answer, ClientError)]
    conflicts = [answer for answer in answers if isinstance(answer, ClientError)]
    assert len(wins) == 1
    assert {error.response["Error"]["Code"] for error in conflicts} == {"ResourceConflictException"}
    assert _sids(lam, name) == ["same"]


def test_revision_id_semantics(racing_lam: Any) -> None:
    lam = racing_lam
    name = unique("rev-layer")
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER})

    def add(sid: str, **extra: Any) -> Any:
        return lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId=sid,
                                                Action="lambda:GetLayerVersion", Principal="*", **extra)

    # No policy yet: any RevisionId is stale.
    with pytest.raises(ClientError) as excinfo:
        add("a", RevisionId="00000000-0000-0000-0000-000000000000")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("PreconditionFailedException", 412)
    assert message.startswith("The Revision Id provided does not match the latest Revision Id.")
    assert _sids(lam, name) == []

    first = add("a")
    second = add("b", RevisionId=first["RevisionId"])  # the current one: accepted
    assert second["RevisionId"] != first["RevisionId"]
    with pytest.raises(ClientError) as excinfo:
        add("c", RevisionId=first["RevisionId"])  # stale now
    assert error_of(excinfo)[:3:2] == ("PreconditionFailedException", 412)
    with pytest.raises(ClientError) as excinfo:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="a",
                                            RevisionId=first["RevisionId"])
    assert error_of(excinfo)[:3:2] == ("PreconditionFailedException", 412)
    assert _sids(lam, name) == ["a", "b"]
    current = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"]
    assert current == second["RevisionId"]
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="a", RevisionId=current)
    assert _sids(lam, name) == ["b"]
    assert lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"] != current

    # A version that does not exist, and one of another account: 404 as before.
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=9, StatementId="x",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error_of(excinfo) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    with pytest.raises(ClientError) as excinfo:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=9, StatementId="b")
    assert error_of(excinfo)[2] == 404
    with pytest.raises(ClientError) as excinfo:
        lam.add_layer_version_permission(LayerName=f"arn:aws:lambda:us-east-1:222222222222:layer:{name}",
                                         VersionNumber=1, StatementId="x", Action="lambda:GetLayerVersion",
                                         Principal="*")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
