"""Warm botocore's data in the zygote, so that `boto3.client("dynamodb")` at a function's init
costs little: the JSON of common services' models and endpoint rules, endpoints, partitions,
retry and default configuration are parsed once here, and every botocore Loader a sandbox
creates later (one per Session) starts with them.

Two pure functions botocore calls ~140 times per Session (each handler it registers) are
memoized as well: whether a handler accepts **kwargs (an inspect.getfullargspec per handler)
and the aliasing of event names (string surgery per name, cached per Session by botocore);
their results depend only on the function and on the name. And clients of one service share
their endpoint provider (the parsed endpoint rule set, which only answers questions).

Nothing here resolves credentials or a region, nor leaves a Session behind for the function:
the client made to warm up gets explicit dummy values, under an empty environment, and is
dropped. Only the loader's parsed files are kept (they are the same for every function; a
function that sets AWS_DATA_PATH or has ~/.aws/models gets loaders of other search paths,
which are not primed).

Runs in the zygote (3.9+, stdlib and the SDK only, never freehold).
"""

import os
import sys

# What functions use most; each costs the zygote a few MB once, shared by every sandbox.
COMMON_SERVICES = (
    "s3", "dynamodb", "sqs", "sns", "lambda", "sts", "logs", "events", "secretsmanager", "ssm", "kms",
    "kinesis", "stepfunctions", "ses", "sesv2", "cognito-idp", "iam", "apigateway", "cloudwatch", "scheduler",
)


def _memoize_handler_checks():
    import types

    import botocore.hooks

    accepts_kwargs = botocore.hooks.accepts_kwargs
    known = {}  # type: dict[object, object]

    def cached_accepts_kwargs(func):
        # A bound method accepts **kwargs exactly when its function does; a plain function
        # exactly when its code does (inspect reads the code, unless the function carries a
        # __signature__ or other attributes of its own: those are asked as they are). boto3's
        # lazy_call makes a new closure per registration, of one code.
        target = getattr(func, "__func__", func)
        if not isinstance(target, types.FunctionType):
            return accepts_kwargs(func)
        key = target if target.__dict__ else target.__code__
        if key not in known:
            known[key] = accepts_kwargs(func)
        return known[key]

    botocore.hooks.accepts_kwargs = cached_accepts_kwargs

    aliaser = botocore.hooks.EventAliaser
    original_init = aliaser.__init__
    # event name -> its aliased name, per alias table. Every client's aliaser holds a copy of
    # its session's table (EventAliaser.__copy__): tables are told apart by content.
    shared = {}  # type: dict[tuple, dict[str, str]]

    def __init__(self, event_emitter, event_aliases=None):
        original_init(self, event_emitter, event_aliases)
        table = self._event_aliases
        if type(table) is dict and len(table) < 256:
            key = tuple(table.items())
            try:
                self._alias_name_cache = shared.setdefault(key, {})
            except TypeError:
                pass  # an alias that is not a string: its own cache, as botocore has it

    aliaser.__init__ = __init__


def _share_handler_tries():
    """Every client copies its session's handler trie (~400 nodes, ~0.4 ms), and registers a
    dozen handlers on the copy. Tries made from now on share their nodes instead: a copy costs
    nothing, and a trie copies a node (and its handler lists) only before changing it, along
    the path to the key it changes, as a persistent structure does. What a trie holds and
    answers is botocore's, node for node."""
    import botocore.hooks

    base = botocore.hooks._PrefixTrie
    node_list = botocore.hooks.NodeList
    middle = botocore.hooks._MIDDLE

    class SharedPrefixTrie(botocore.hooks._PrefixTrie):
        _root: dict

        def __init__(self):
            base.__init__(self)
            # The nodes this trie alone holds, by id (kept here, so that no id is reused).
            self._own = {id(self._root): self._root}

        def _take(self, node):
            if self._own.get(id(node)) is node:
                return node
            copied = dict(node)
            copied["children"] = dict(node["children"])
            values = node["values"]
            if values is not None:
                copied["values"] = node_list(values[0].copy(), values[1].copy(), values[2].copy())
            self._own[id(copied)] = copied
            return copied

        def _take_path(self, key_parts):
            current = self._root = self._take(self._root)
            for part in key_parts:
                children = current["children"]
                child = children.get(part)
                if child is None:
                    return
                current = children[part] = self._take(child)

        def append_item(self, key, value, section=middle):
            current = self._root = self._take(self._root)
            for part in key.split("."):
                children = current["children"]
                child = children.get(part)
                if child is None:
                    child = {"chunk": part, "values": None, "children": {}}
                    self._own[id(child)] = child
                else:
                    child = self._take(child)
                current = children[part] = child
            if current["values"] is None:
                current["values"] = node_list([], [], [])
            current["values"][section].append(value)

        def remove_item(self, key, value):
            self._take_path(key.split("."))
            base.remove_item(self, key, value)

        def __copy__(self):
            new_copy = self.__class__()
            new_copy._root = self._root
            new_copy._own = {}
            self._own = {}  # every node is shared from now on
            return new_copy

    botocore.hooks._PrefixTrie = SharedPrefixTrie


def _template_builtin_handlers():
    """A Session registers botocore's ~135 builtin handlers one by one (~0.5 ms); they are the
    same for every Session: a new Session's empty emitter gets a copy of the handlers they
    make, registered once here. Only when nothing differs from then: the same BUILTIN_HANDLERS,
    botocore's own Session, emitter and aliases, an emitter with nothing registered yet."""
    import copy

    import botocore.handlers
    import botocore.hooks
    import botocore.session

    session_class = botocore.session.Session
    original = session_class._register_builtin_handlers
    snapshot = list(botocore.handlers.BUILTIN_HANDLERS)
    model = session_class.__new__(session_class)
    model._original_handler = botocore.hooks.HierarchicalEmitter()
    model._events = botocore.hooks.EventAliaser(model._original_handler)
    original(model, model._events)
    template = model._original_handler
    if template._lookup_cache:
        return  # not a state a copy reproduces: leave botocore as it is

    def unchanged(session, events):
        emitter = getattr(session, "_original_handler", None)
        current = botocore.handlers.BUILTIN_HANDLERS
        return (type(session) is session_class and events is session._events
                and type(events) is botocore.hooks.EventAliaser and events._emitter is emitter
                and events._event_aliases is botocore.hooks.EVENT_ALIASES
                and type(emitter) is botocore.hooks.HierarchicalEmitter
                and not emitter._unique_id_handlers and not emitter._lookup_cache
                and type(emitter._handlers) is botocore.hooks._PrefixTrie
                and not emitter._handlers._root["children"] and not emitter._handlers._root["values"]
                and len(current) == len(snapshot) and all(a is b for a, b in zip(current, snapshot)))

    def _register_builtin_handlers(self, events):
        if not unchanged(self, events):
            return original(self, events)
        emitter = self._original_handler
        emitter._handlers = copy.copy(template._handlers)
        # Their values are dicts a later registration of the same id updates (its count).
        emitter._unique_id_handlers = {key: dict(value) for key, value in template._unique_id_handlers.items()}
        emitter._lookup_cache = {}

    session_class._register_builtin_handlers = _register_builtin_handlers


def _share_endpoint_providers():
    """A client's endpoint provider is a parsed rule set (thousands of objects for S3) that
    only answers questions: clients built from the same rule set data share one."""
    import botocore.regions

    original = botocore.regions.EndpointProvider
    providers = {}  # type: dict[tuple[int, int], tuple[object, object, object]]

    def shared_provider(ruleset_data, partition_data):
        key = (id(ruleset_data), id(partition_data))
        known = providers.get(key)
        if known is not None and known[0] is ruleset_data and known[1] is partition_data:
            return known[2]
        provider = original(ruleset_data=ruleset_data, partition_data=partition_data)
        providers[key] = (ruleset_data, partition_data, provider)  # the data kept: ids stay theirs
        return provider

    botocore.regions.EndpointProvider = shared_provider


# SSL contexts a blank makes ahead: a client's connection pool wants one (made whether or not
# the endpoint is https), and a Session's first credential chain two (its container and
# instance metadata fetchers).
READY_SSL_CONTEXTS = 6
_ready_ssl_contexts = []  # type: list[object]  # made in a blank (never in the zygote), taken by botocore


def _pool_ssl_contexts():
    """botocore makes a new SSLContext per HTTP session (~0.4 ms each in a fresh sandbox:
    OpenSSL builds its context). A context fresh from the constructor is the same for every
    function (nothing of the environment is read until botocore configures it, which it still
    does, SSLKEYLOGFILE included), so blanks make a few ahead and botocore takes those first."""
    import ssl

    import botocore.httpsession

    real = botocore.httpsession.SSLContext
    if real is not ssl.SSLContext:
        return  # urllib3 or pyOpenSSL put another class there: left alone

    class Kind(type):
        def __instancecheck__(cls, instance):
            return isinstance(instance, real)

        def __subclasscheck__(cls, subclass):
            return issubclass(subclass, real)

    class SSLContext(ssl.SSLContext, metaclass=Kind):
        """ssl.SSLContext as botocore sees it: made contexts come from the blank's first."""

        def __new__(cls, *args, **kwargs):
            if _ready_ssl_contexts and not kwargs and args == (ssl.PROTOCOL_TLS_CLIENT,):
                return _ready_ssl_contexts.pop()
            return real(*args, **kwargs)

    botocore.httpsession.SSLContext = SSLContext


PREFAULTED_SERVICES = ("s3", "dynamodb")


def prefault(services=PREFAULTED_SERVICES):
    """In a blank sandbox (forked from the zygote, not yet given a function): build and drop a
    client or two as warm() did. The memory such a build touches is shared with the zygote
    until written, and CPython writes it (reference counts): the copies the kernel makes then
    are made here, ahead of demand, instead of inside the function's own boto3.client().
    Then the SSL contexts the function's first clients will take are made."""
    import ssl

    import boto3.session
    import botocore.session

    saved = dict(os.environ)
    os.environ.clear()
    try:
        session = boto3.session.Session(botocore_session=botocore.session.Session())
        for service in services:
            session.client(service, region_name="us-east-1", aws_access_key_id="warm",
                           aws_secret_access_key="warm", endpoint_url="http://127.0.0.1:9")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    del session
    _ready_ssl_contexts[:] = [ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) for _ in range(READY_SSL_CONTEXTS)]


def warm(services=COMMON_SERVICES):
    import boto3.session  # (its modules too: functions import boto3, not botocore)
    import botocore.credentials
    import botocore.loaders
    import botocore.session

    _memoize_handler_checks()
    _share_handler_tries()
    _template_builtin_handlers()
    _share_endpoint_providers()
    _pool_ssl_contexts()

    saved = dict(os.environ)
    os.environ.clear()
    try:
        core = botocore.session.Session()
        loader = core.get_component("data_loader")
        search_paths = list(loader.search_paths)  # a new Loader's (boto3 adds its own later)
        # Through boto3, as functions do: the modules its handlers import on first use
        # (boto3.s3.inject and s3transfer for S3) are imported here.
        session = boto3.session.Session(botocore_session=core)
        for service in services:
            try:
                session.client(service, region_name="us-east-1", aws_access_key_id="warm",
                               aws_secret_access_key="warm", endpoint_url="http://127.0.0.1:9")
            except Exception:
                continue  # not in this botocore
        # The credential chain a Session builds on its first client (built, never asked for
        # credentials): compiles the patterns its providers check endpoints with.
        botocore.credentials.create_credential_resolver(core)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if os.path.isdir(search_paths[0]):
        return  # the zygote's own ~/.aws/models: its files are not every function's
    primed = dict(loader._cache)
    original_init = botocore.loaders.Loader.__init__
    builtin = search_paths[1:]

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # A Loader searches ~/.aws/models first: the primed files are its when that is absent.
        paths = self._search_paths
        if paths[1:] == builtin and type(self.file_loader) is botocore.loaders.JSONFileLoader \
                and not os.path.isdir(paths[0]):
            self._cache.update(primed)

    botocore.loaders.Loader.__init__ = __init__


def enter_function():
    """In a sandbox, once its function's environment is in place: botocore computed the
    customer models directory (~/.aws/models) when the zygote imported it, from the zygote's
    HOME; a function's botocore computes it from its own."""
    loaders = sys.modules.get("botocore.loaders")
    if loaders is not None:
        loaders.Loader.CUSTOMER_DATA_PATH = os.path.join(os.path.expanduser("~"), ".aws", "models")
