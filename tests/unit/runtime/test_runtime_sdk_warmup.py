"""The zygote's SDK warm-up (runtimes/python/freehold_sdk_warmup.py) changes how fast boto3 builds
a client, never what it builds: the same handlers in the same order, the same answers from the
handler tries, and a client made in a sandbox still reads the function's own credentials,
region and endpoint from its environment.

Each check runs in a fresh interpreter: warm() patches botocore process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from freehold.runtime import launch

WARMUP_DIR = str(Path(launch.RUNTIMES_DIR) / "python")


def _run(code: str, env: dict[str, str] | None = None) -> str:
    script = f"import sys\nsys.path.insert(0, {WARMUP_DIR!r})\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_shared_tries_answer_as_botocores_own() -> None:
    """Random registrations, removals and copies on botocore's trie and on the shared one, side
    by side: every search answers the same handlers in the same order, every structure is the
    same, and changing a copy never changes the trie it was copied from (nor the reverse)."""
    out = _run("""
        import copy, random
        import botocore.hooks
        import freehold_sdk_warmup
        original = botocore.hooks._PrefixTrie
        freehold_sdk_warmup._share_handler_tries()
        shared = botocore.hooks._PrefixTrie
        assert shared is not original

        def shape(node):
            values = node["values"]
            return (node["chunk"], None if values is None else tuple(map(tuple, values)),
                    tuple(sorted((k, shape(v)) for k, v in node["children"].items())))

        parts = ["a", "b", "c", "*"]
        rng = random.Random(6)
        pairs = [(original(), shared())]
        checks = 0
        for step in range(2500):
            plain, ours = rng.choice(pairs)
            key = ".".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
            action = rng.random()
            if action < 0.5:
                value, section = rng.randint(0, 9), rng.randint(0, 2)
                plain.append_item(key, value, section=section)
                ours.append_item(key, value, section=section)
            elif action < 0.75:
                value = rng.randint(0, 9)
                outcomes = []
                for trie in (plain, ours):
                    try:
                        trie.remove_item(key, value)
                        outcomes.append("ok")
                    except Exception as error:
                        outcomes.append(type(error).__name__)
                assert outcomes[0] == outcomes[1], outcomes
            elif action < 0.85 and len(pairs) < 12:
                pairs.append((copy.copy(plain), copy.copy(ours)))
            for plain, ours in pairs:
                search = ".".join(rng.choice(parts[:3]) for _ in range(rng.randint(1, 4)))
                assert list(plain.prefix_search(search)) == list(ours.prefix_search(search)), search
                assert shape(plain._root) == shape(ours._root)
                checks += 1
        print(checks)
    """)
    assert int(out) > 5000


def test_sessions_and_clients_get_the_same_handlers() -> None:
    """A Session and a boto3 client made after warm() hold exactly the handlers (by function,
    in order, per event) of ones made before it."""
    out = _run("""
        import os
        os.environ.update(AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="eu-west-3",
                          AWS_ENDPOINT_URL="http://127.0.0.1:9")
        import boto3.session
        import freehold_sdk_warmup

        def handlers(emitter):
            found = []
            def walk(node, path):
                values = node["values"]
                if values is not None:
                    found.append((path, [[getattr(h, "__qualname__", type(h).__qualname__) for h in section]
                                         for section in values]))
                for chunk, child in sorted(node["children"].items()):
                    walk(child, path + "." + chunk)
            walk(emitter._handlers._root, "")
            return found, sorted(emitter._unique_id_handlers)

        def made():
            session = boto3.session.Session()
            client = session.client("s3")
            table = session.client("dynamodb")
            return [handlers(session._session._original_handler), handlers(client.meta.events._emitter),
                    handlers(table.meta.events._emitter)]

        before = made()
        freehold_sdk_warmup.warm()
        after = made()
        again = made()
        assert before == after == again
        print(len(before[1][0]))
    """)
    assert int(out) > 50


def test_a_sandbox_client_reads_the_functions_environment() -> None:
    """Forked after warm() and prefault() (as a blank is), then given a function's environment:
    boto3.client('s3') has that function's credentials, region and endpoint, takes the blank's
    SSL contexts first, and still makes more when they are gone; botocore looks for customer
    models under the function's HOME, and primes nothing when that directory exists."""
    out = _run("""
        import gc, json, os, ssl
        os.environ.clear()
        import freehold_sdk_warmup
        freehold_sdk_warmup.warm()
        gc.collect()
        gc.freeze()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            freehold_sdk_warmup.prefault()
            ready = len(freehold_sdk_warmup._ready_ssl_contexts)
            os.environ.update(AWS_ACCESS_KEY_ID="AKIDFUNCTION", AWS_SECRET_ACCESS_KEY="function-secret",
                              AWS_SESSION_TOKEN="function-token", AWS_DEFAULT_REGION="ap-south-2",
                              AWS_ENDPOINT_URL="http://127.0.0.1:4599", HOME="/nonexistent")
            freehold_sdk_warmup.enter_function()
            import boto3
            import botocore.httpsession
            import botocore.loaders
            clients = [boto3.client("s3")] + [boto3.client("sqs") for _ in range(8)]
            customer = botocore.loaders.Loader.CUSTOMER_DATA_PATH
            primed = len(botocore.loaders.Loader()._cache)
            # A function whose ~/.aws/models exists gets loaders that read it (nothing primed).
            home = "/tmp/freehold-warmup-home-%d" % os.getpid()
            os.makedirs(home + "/.aws/models")
            os.environ["HOME"] = home
            freehold_sdk_warmup.enter_function()
            own_models = len(botocore.loaders.Loader()._cache)
            os.rmdir(home + "/.aws/models"); os.rmdir(home + "/.aws"); os.rmdir(home)
            s3 = clients[0]
            credentials = s3._request_signer._credentials.get_frozen_credentials()
            contexts = [c._endpoint.http_session._manager.connection_pool_kw["ssl_context"] for c in clients]
            os.write(write, json.dumps({
                "ready": ready, "key": credentials.access_key, "secret": credentials.secret_key,
                "token": credentials.token, "region": s3.meta.region_name, "endpoint": s3.meta.endpoint_url,
                "left": len(freehold_sdk_warmup._ready_ssl_contexts),
                "contexts": [type(c).__name__ for c in contexts], "distinct": len({id(c) for c in contexts}),
                "verify": [c.verify_mode == ssl.CERT_REQUIRED for c in contexts],
                "instances": [isinstance(c, botocore.httpsession.SSLContext) for c in contexts]
                + [issubclass(ssl.SSLContext, botocore.httpsession.SSLContext)],
                "customer": customer, "primed": primed, "own_models": own_models,
            }).encode())
            os._exit(0)
        os.close(write)
        print(os.read(read, 65536).decode())
        os.waitpid(pid, 0)
    """)
    seen = json.loads(out)
    assert seen["ready"] == 6
    assert (seen["key"], seen["secret"], seen["token"]) == ("AKIDFUNCTION", "function-secret", "function-token")
    assert seen["region"] == "ap-south-2"
    assert seen["endpoint"] == "http://127.0.0.1:4599"
    assert seen["left"] == 0
    assert seen["contexts"] == ["SSLContext"] * 9 and seen["distinct"] == 9
    assert all(seen["verify"])
    assert all(seen["instances"])  # botocore's SSLContext name still answers isinstance as ssl's
    assert seen["customer"] == "/nonexistent/.aws/models"  # the function's HOME, not the zygote's
    assert seen["primed"] > 10 and seen["own_models"] == 0


def test_the_zygote_holds_no_ssl_context_of_its_own() -> None:
    """Contexts are made in blanks only: warm() leaves the pool empty (a blank fills its own)."""
    out = _run("""
        import freehold_sdk_warmup
        freehold_sdk_warmup.warm()
        print(len(freehold_sdk_warmup._ready_ssl_contexts))
    """)
    assert out.strip() == "0"


def test_event_aliases_are_botocores_and_cached_per_table() -> None:
    """Aliased event names are botocore's own; clients (whose aliasers hold copies of their
    session's table) share one cache, and an aliaser with another table keeps its own."""
    out = _run("""
        import copy
        import botocore.hooks
        names = ["before-call.s3.PutObject", "before-parameter-build.apigateway.GetRestApi",
                 "request-created.autoscaling.Describe", "creating-client-class.s3", "after-call.sqs",
                 "before-sign.cloudwatch-logs.PutLogEvents", "provide-client-params.stepfunctions.StartExecution"]
        plain = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
        expected = [plain._alias_event_name(name) for name in names]
        import freehold_sdk_warmup
        freehold_sdk_warmup.warm()
        session_level = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
        client_level = copy.copy(session_level)
        other = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter(), {"foo": "bar"})
        assert [client_level._alias_event_name(name) for name in names] == expected
        assert [session_level._alias_event_name(name) for name in names] == expected
        assert client_level._alias_name_cache is session_level._alias_name_cache
        assert other._alias_name_cache is not session_level._alias_name_cache
        assert other._alias_event_name("a.foo.b") == "a.bar.b"
        assert "a.foo.b" not in session_level._alias_name_cache
        print("ok")
    """)
    assert out.strip() == "ok"
