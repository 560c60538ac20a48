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

# What functions use most; each costs the zygote a few MB once, shared by every sandbox.
COMMON_SERVICES = (
    "s3", "dynamodb", "sqs", "sns", "lambda", "sts", "logs", "events", "secretsmanager", "ssm", "kms",
    "kinesis", "stepfunctions", "ses", "sesv2", "cognito-idp", "iam", "apigateway", "cloudwatch", "scheduler",
)


def _memoize_handler_checks():
    import types

    import botocore.hooks

    accepts_kwargs = botocore.hooks.accepts_kwargs
    known = {}

    def cached_accepts_kwargs(func):
        # A bound method accepts **kwargs exactly when its function does.
        target = getattr(func, "__func__", func)
        if not isinstance(target, types.FunctionType):
            return accepts_kwargs(func)
        if target not in known:
            known[target] = accepts_kwargs(func)
        return known[target]

    botocore.hooks.accepts_kwargs = cached_accepts_kwargs

    aliaser = botocore.hooks.EventAliaser
    original_init = aliaser.__init__
    shared = {}  # type: dict[str, str]  # event name -> its aliased name, under botocore's own table

    def __init__(self, event_emitter, event_aliases=None):
        original_init(self, event_emitter, event_aliases)
        if self._event_aliases is botocore.hooks.EVENT_ALIASES:
            self._alias_name_cache = shared

    aliaser.__init__ = __init__


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


PREFAULTED_SERVICES = ("s3", "dynamodb")


def prefault(services=PREFAULTED_SERVICES):
    """In a blank sandbox (forked from the zygote, not yet given a function): build and drop a
    client or two as warm() did. The memory such a build touches is shared with the zygote
    until written, and CPython writes it (reference counts): the copies the kernel makes then
    are made here, ahead of demand, instead of inside the function's own boto3.client()."""
    import botocore.session

    saved = dict(os.environ)
    os.environ.clear()
    try:
        session = botocore.session.Session()
        for service in services:
            session.create_client(service, region_name="us-east-1", aws_access_key_id="warm",
                                  aws_secret_access_key="warm", endpoint_url="http://127.0.0.1:9")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def warm(services=COMMON_SERVICES):
    import boto3  # noqa: F401  (its modules too: functions import boto3, not botocore)
    import botocore.loaders
    import botocore.session

    _memoize_handler_checks()
    _share_endpoint_providers()

    saved = dict(os.environ)
    os.environ.clear()
    try:
        session = botocore.session.Session()
        for service in services:
            try:
                session.create_client(service, region_name="us-east-1", aws_access_key_id="warm",
                                      aws_secret_access_key="warm", endpoint_url="http://127.0.0.1:9")
            except Exception:
                continue  # not in this botocore
        loader = session.get_component("data_loader")
        # The credential chain a Session builds on its first client (built, never asked for
        # credentials): compiles the patterns its providers check endpoints with.
        import botocore.credentials

        botocore.credentials.create_credential_resolver(session)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    primed = dict(loader._cache)
    search_paths = list(loader.search_paths)
    original_init = botocore.loaders.Loader.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self._search_paths == search_paths and type(self.file_loader) is botocore.loaders.JSONFileLoader:
            self._cache.update(primed)

    botocore.loaders.Loader.__init__ = __init__
