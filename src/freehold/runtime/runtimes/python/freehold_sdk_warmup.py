"""Warm botocore's data in the zygote, so that `boto3.client("dynamodb")` at a function's init
costs little: the JSON of common services' models and endpoint rules, endpoints, partitions,
retry and default configuration are parsed once here, and every botocore Loader a sandbox
creates later (one per Session) starts with them.

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


def warm(services=COMMON_SERVICES):
    import boto3  # noqa: F401  (its modules too: functions import boto3, not botocore)
    import botocore.loaders
    import botocore.session

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
