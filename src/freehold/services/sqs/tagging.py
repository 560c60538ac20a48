"""Queue tags: AWS's limits (50 per queue, keys 1-128 and values 0-256 characters, the
`aws:` prefix reserved). https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-queue-tags.html
"""

from __future__ import annotations

from freehold.protocol.errors import ServiceError

MAX_TAGS = 50


def check_tags(tags: dict[str, str] | None, required: bool = False) -> dict[str, str]:
    if not tags:
        if required:
            raise ServiceError("MissingParameter", "The request must contain the parameter Tags.")
        return {}
    if len(tags) > MAX_TAGS:
        raise ServiceError("InvalidParameterValue", f"Too many tags added for queue. The maximum is {MAX_TAGS}.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise ServiceError("InvalidParameterValue", f"Tag key must be between 1 and 128 characters: {key!r}.")
        if key.lower().startswith("aws:"):
            raise ServiceError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for AWS use.")
        if len(value) > 256:
            raise ServiceError("InvalidParameterValue", f"Tag value for key {key} must be at most 256 characters.")
    return dict(tags)


def check_tag_keys(keys: list[str]) -> set[str]:
    if not keys:
        raise ServiceError("MissingParameter", "The request must contain the parameter TagKeys.")
    return set(keys)
