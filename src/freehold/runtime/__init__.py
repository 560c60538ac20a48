"""Function execution: sandbox processes speaking the Lambda Runtime API.

The one seam is `Executor.invoke(invocation) -> InvocationResult` (runtime/executor.py).
Behind it: a Runtime API server on loopback (api_server.py), sandboxes forked by a zygote per
Python interpreter with their isolation (zygote.py, spawned and spoken to by zygotes.py), the
isolation rungs this host allows (isolation.py), a warm pool per function version (pool.py),
and the in-sandbox runtime clients (runtimes/python, runtimes/nodejs; provided.* runs the
function's own bootstrap).
"""
