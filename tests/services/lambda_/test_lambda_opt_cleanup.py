"""Merged /opt trees (a function's layers unpacked one over the other under the data directory)
are removed once no function version uses them: on DeleteFunction (whole or one version) and on
UpdateFunctionConfiguration changing Layers; never while a sandbox still runs with one (it has
the tree bind-mounted), and never while another version still uses it (DeleteLayerVersion
included: functions keep their layers, as on AWS)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_helpers import create_function, make_zip, unique

LAYER_A = make_zip({"python/which.py": "NAME = 'a'\n"})
LAYER_B = make_zip({"python/which.py": "NAME = 'b'\n"})
APP = make_zip({"app.py": '''
import os, time
import which

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("exit"):
        os._exit(3)  # the sandbox dies with this invocation: nothing holds its trees any more
    return {"layer": which.NAME}
'''})


def _trees(server: Any) -> set[str]:
    root = Path(server.data_dir) / "lambda" / "code"
    return {path.name for path in root.iterdir() if path.name.startswith("opt-")} if root.is_dir() else set()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


def _layer(lam: Any, content: bytes = LAYER_A) -> str:
    return str(lam.publish_layer_version(LayerName=unique("opt"), Content={"ZipFile": content})["LayerVersionArn"])


def test_delete_function_removes_its_tree(freehold: Any, lam: Any, role: str) -> None:
    before = _trees(freehold)
    name = create_function(lam, role, APP, Layers=[_layer(lam)])
    assert _invoke(lam, name) == ({"layer": "a"}, None)
    made = _trees(freehold) - before
    assert len(made) == 1
    lam.delete_function(FunctionName=name)  # its idle sandbox is closed, then its tree goes
    assert _wait_for(lambda: not made & _trees(freehold)), made


def test_update_configuration_removes_the_replaced_tree(freehold: Any, lam: Any, role: str) -> None:
    layer_a, layer_b = _layer(lam), _layer(lam, LAYER_B)
    before = _trees(freehold)
    name = create_function(lam, role, APP, Layers=[layer_a])
    assert _invoke(lam, name, {"exit": True})[1] == "Unhandled"  # the tree is made, its sandbox is gone
    tree_a = _trees(freehold) - before
    assert len(tree_a) == 1
    lam.update_function_configuration(FunctionName=name, Layers=[layer_b])
    assert _wait_for(lambda: not tree_a & _trees(freehold)), tree_a  # no version and no sandbox uses it
    assert _invoke(lam, name) == ({"layer": "b"}, None)
    # The same layers again: the tree is made anew.
    lam.update_function_configuration(FunctionName=name, Layers=[layer_a])
    assert _invoke(lam, name) == ({"layer": "a"}, None)
    assert tree_a <= _trees(freehold)
    lam.delete_function(FunctionName=name)
    assert _wait_for(lambda: not (_trees(freehold) - before)), _trees(freehold) - before


def test_tree_outlives_a_deleted_version_while_its_sandbox_runs(freehold: Any, lam: Any, role: str) -> None:
    layer_a, layer_b = _layer(lam), _layer(lam, LAYER_B)
    before = _trees(freehold)
    name = create_function(lam, role, APP, Layers=[layer_a], Timeout=30)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Layers=[layer_b])
    assert _invoke(lam, name, {"exit": True})[1] == "Unhandled"  # $LATEST's tree made, no sandbox left
    tree_b = _trees(freehold) - before

    answers: list[Any] = []
    running = threading.Thread(target=lambda: answers.append(
        _invoke(lam, f"{name}:{version}", {"sleep": 4, "exit": True})))
    running.start()
    try:
        assert _wait_for(lambda: len(_trees(freehold) - before - tree_b) == 1, 10)
        tree_a = _trees(freehold) - before - tree_b
        time.sleep(1.0)  # the version's sandbox is running its handler now
        lam.delete_function(FunctionName=name, Qualifier=version)
        time.sleep(0.5)
        assert running.is_alive()
        assert tree_a <= _trees(freehold), "removed while a sandbox runs with it"
    finally:
        running.join(30)
    assert answers and answers[0][1] == "Unhandled"
    # The sandbox died with its invocation: now nothing holds the tree.
    assert _wait_for(lambda: not tree_a & _trees(freehold)), tree_a
    assert tree_b <= _trees(freehold)  # $LATEST still uses its own
    assert _invoke(lam, name) == ({"layer": "b"}, None)


def test_tree_kept_while_another_version_uses_it(freehold: Any, lam: Any, role: str) -> None:
    layer = _layer(lam)
    before = _trees(freehold)
    name = create_function(lam, role, APP, Layers=[layer])
    version = lam.publish_version(FunctionName=name)["Version"]
    assert _invoke(lam, name, {"exit": True})[1] == "Unhandled"
    assert _invoke(lam, f"{name}:{version}", {"exit": True})[1] == "Unhandled"
    trees = _trees(freehold) - before
    assert len(trees) == 1  # one function, one set of layers: one tree
    lam.update_function_configuration(FunctionName=name, Layers=[])
    time.sleep(0.6)  # a removal would be done by now (nothing holds it)
    assert trees <= _trees(freehold), "version 1 still uses it"
    # Deleting the layer version changes nothing: functions keep the layers they were given.
    lam.delete_layer_version(LayerName=layer.rsplit(":", 1)[0], VersionNumber=int(layer.rsplit(":", 1)[1]))
    assert _invoke(lam, f"{name}:{version}", {"exit": True})[1] == "Unhandled"
    assert trees <= _trees(freehold)
    assert _invoke(lam, f"{name}:{version}") == ({"layer": "a"}, None)
    lam.delete_function(FunctionName=name)
    assert _wait_for(lambda: not trees & _trees(freehold)), trees


def test_functions_sharing_layers(freehold: Any, lam: Any, role: str) -> None:
    layer = _layer(lam)
    before = _trees(freehold)
    first = create_function(lam, role, APP, Layers=[layer])
    second = create_function(lam, role, APP, Layers=[layer])
    assert _invoke(lam, first, {"exit": True})[1] == "Unhandled"
    assert _invoke(lam, second, {"exit": True})[1] == "Unhandled"
    trees = _trees(freehold) - before
    assert len(trees) in (1, 2)  # one shared tree, or one per function when each has its own group
    lam.delete_function(FunctionName=first)
    time.sleep(0.6)
    assert len(_trees(freehold) - before) == len(trees) - (len(trees) == 2)
    assert _invoke(lam, second) == ({"layer": "a"}, None)
    lam.delete_function(FunctionName=second)
    assert _wait_for(lambda: not trees & _trees(freehold)), trees


def _all_trees(server: Any) -> set[str]:
    root = Path(server.data_dir) / "lambda" / "code"
    return {path.name for path in root.iterdir() if not path.name.startswith(".")} if root.is_dir() else set()


def test_trees_left_by_a_crash_are_removed_at_start(freehold: Any, lam: Any, role: str) -> None:
    """Removals still waiting for a sandbox when the node dies are not lost: the next start
    removes what no version uses. (Last in this module: it crashes the server.)"""
    before = _all_trees(freehold)
    name = create_function(lam, role, APP, Layers=[_layer(lam)])
    assert _invoke(lam, name) == ({"layer": "a"}, None)  # its idle sandbox holds code and /opt
    held = _all_trees(freehold) - before
    assert len(held) == 2 and len({tree for tree in held if tree.startswith("opt-")}) == 1
    lam.update_function_configuration(FunctionName=name, Layers=[])
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(
        {"app.py": "def handler(event, context):\n    return {'layer': None}\n"}))
    time.sleep(0.6)
    assert held <= _all_trees(freehold)  # both wait for the idle sandbox of the old configuration
    freehold.kill9()
    freehold.start()
    assert _wait_for(lambda: not held & _all_trees(freehold)), held
    assert _invoke(lam, name) == ({"layer": None}, None)
