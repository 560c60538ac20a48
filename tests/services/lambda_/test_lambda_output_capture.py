"""Every line a handler prints before returning is in that invocation's log (the LogType=Tail
answer), invocation after invocation: output is read from the sandbox's pipe in the same poll
as its answer, never left for the next invocation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from lambda_helpers import create_function, make_zip

PRINTER = make_zip({"app.py": (
    "import sys\n"
    "def handler(event, context):\n"
    "    print('x' * event.get('big', 0))\n"
    "    print('line', event['n'])\n"
    "    sys.stderr.write('err %d\\n' % event['n'])\n"
    "    return event['n']\n"
)})


@pytest.fixture(scope="module")
def freehold(freehold_sqlite: Any) -> Any:
    return freehold_sqlite


def test_each_invocations_output_is_in_its_own_log(lam: Any, role: str) -> None:
    name = create_function(lam, role, PRINTER)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    for n in range(150):
        event = {"n": n, "big": 100_000 if n % 25 == 0 else 0}  # some outputs span several pipe reads
        answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
        assert json.loads(answer["Payload"].read()) == n
        tail = base64.b64decode(answer["LogResult"]).decode()
        assert f"line {n}\n" in tail and f"err {n}\n" in tail, tail
        assert f"line {n - 1}\n" not in tail
