"""A function version's configuration, the rules that build it from API parameters, and its
FunctionConfiguration output.

Every version of a function ($LATEST and the published numbers) is one `FunctionVersion`:
the configuration as the API reports it, plus where its code package lives.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.lambda_ import limits
from freehold.services.lambda_.names import LATEST, function_arn

# Configuration members that UpdateFunctionConfiguration may change (the API name of each).
CONFIG_MEMBERS = (
    "Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime",
    "DeadLetterConfig", "TracingConfig", "Layers", "EphemeralStorage", "LoggingConfig",
    "KMSKeyArn", "VpcConfig", "FileSystemConfigs", "SnapStart",
)
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
DEFAULT_EPHEMERAL = 512


def lambda_timestamp(moment: datetime | None = None) -> str:
    """LastModified as Lambda writes it: 2024-01-02T03:04:05.678+0000."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass
class CodePackage:
    """A stored .zip: its blob key, size and base64 SHA-256 (Lambda's CodeSha256)."""

    blob_key: str
    size: int
    sha256: str  # base64 of the raw digest, as CodeSha256 reports it
    unzipped_size: int


@dataclass
class FunctionVersion:
    """One version of a function: its configuration and its code."""

    account_id: str
    region: str
    name: str
    version: str
    runtime: str | None
    role: str
    handler: str | None
    code: CodePackage
    description: str = ""
    timeout: int = DEFAULT_TIMEOUT
    memory_size: int = DEFAULT_MEMORY
    ephemeral_storage: int = DEFAULT_EPHEMERAL
    environment: dict[str, str] = field(default_factory=dict)
    architectures: list[str] = field(default_factory=lambda: ["x86_64"])
    tracing_mode: str = "PassThrough"
    dead_letter_target: str | None = None
    layers: list[str] = field(default_factory=list)
    # The layer versions of `layers`, in order: {"Arn", "CodeSize", "Blob", "UnzippedSize"}
    # (resolved when configured: a function keeps its layers after they are deleted, as on AWS).
    layer_code: list[dict[str, Any]] = field(default_factory=list)
    kms_key_arn: str | None = None
    log_format: str = "Text"
    log_group: str | None = None
    last_modified: str = field(default_factory=lambda_timestamp)
    revision_id: str = field(default_factory=new_revision)
    state: str = "Active"
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: str = "Successful"
    # For a published version: the RevisionId of $LATEST it was published from.
    source_revision: str = ""

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)

    @property
    def qualified_arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name, self.version)

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> FunctionVersion:
        data = json.loads(text)
        data["code"] = CodePackage(**data["code"])
        return FunctionVersion(**data)

    def published(self, version: str, description: str | None) -> FunctionVersion:
        """The version PublishVersion makes of this $LATEST: a frozen copy with its number."""
        return replace(
            self, version=version, description=self.description if description is None else description,
            last_modified=lambda_timestamp(), revision_id=new_revision(), source_revision=self.revision_id,
            environment=dict(self.environment), layers=list(self.layers),
            layer_code=[dict(layer) for layer in self.layer_code],
        )

    def configuration(self) -> dict[str, Any]:
        """The FunctionConfiguration output shape."""
        output: dict[str, Any] = {
            "FunctionName": self.name,
            # $LATEST is reported with the unqualified ARN, a published version with its number.
            "FunctionArn": self.arn if self.version == LATEST else self.qualified_arn,
            "Role": self.role,
            "CodeSize": self.code.size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code.sha256,
            "Version": self.version,
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "State": self.state,
            "LastUpdateStatus": self.last_update_status,
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": self.log_format, "LogGroup": self.log_group_name},
        }
        if self.runtime:
            output["Runtime"] = self.runtime
            output["RuntimeVersionConfig"] = {
                "RuntimeVersionArn": f"arn:aws:lambda:{self.region}::runtime:freehold-{self.runtime}"
            }
        if self.handler:
            output["Handler"] = self.handler
        if self.environment:
            output["Environment"] = {"Variables": dict(self.environment)}
        if self.dead_letter_target:
            output["DeadLetterConfig"] = {"TargetArn": self.dead_letter_target}
        if self.layers:
            sizes = {layer["Arn"]: layer["CodeSize"] for layer in self.layer_code}
            output["Layers"] = [{"Arn": arn, "CodeSize": sizes.get(arn, 0)} for arn in self.layers]
        if self.kms_key_arn:
            output["KMSKeyArn"] = self.kms_key_arn
        for key, value in (("StateReason", self.state_reason), ("StateReasonCode", self.state_reason_code)):
            if value:
                output[key] = value
        return output


def apply_configuration(version: FunctionVersion, params: dict[str, Any]) -> FunctionVersion:
    """A copy of `version` with the configuration members present in `params` applied."""
    limits.check_ranges(params)
    changes: dict[str, Any] = {}
    if "Role" in params:
        changes["role"] = params["Role"]
    if "Handler" in params:
        changes["handler"] = params["Handler"]
    if "Description" in params:
        changes["description"] = params["Description"]
    if "Timeout" in params:
        changes["timeout"] = params["Timeout"]
    if "MemorySize" in params:
        changes["memory_size"] = params["MemorySize"]
    if "Runtime" in params:
        changes["runtime"] = params["Runtime"]
    if "Environment" in params:
        limits.check_environment(params["Environment"])
        changes["environment"] = dict((params["Environment"] or {}).get("Variables") or {})
    if "TracingConfig" in params:
        changes["tracing_mode"] = (params["TracingConfig"] or {}).get("Mode") or "PassThrough"
    if "DeadLetterConfig" in params:
        target = (params["DeadLetterConfig"] or {}).get("TargetArn") or None
        if target and not (target.startswith("arn:aws:sqs:") or target.startswith("arn:aws:sns:")):
            raise ServiceError(
                "InvalidParameterValueException",
                "The provided target arn is invalid. Only SQS and SNS are supported targets.",
            )
        changes["dead_letter_target"] = target
    if "EphemeralStorage" in params:
        changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
    if "KMSKeyArn" in params:
        changes["kms_key_arn"] = params["KMSKeyArn"] or None
    if "Architectures" in params:
        changes["architectures"] = list(params["Architectures"])
    if "LoggingConfig" in params:
        logging_config = params["LoggingConfig"] or {}
        changes["log_format"] = logging_config.get("LogFormat", version.log_format)
        changes["log_group"] = logging_config.get("LogGroup", version.log_group)
    return replace(version, **changes)


def check_package(params: dict[str, Any], runtime: str | None, handler: str | None) -> None:
    """Zip functions need a runtime and a handler; container images are not supported."""
    if params.get("PackageType") == "Image" or (params.get("Code") or {}).get("ImageUri"):
        raise ServiceError(
            "InvalidParameterValueException",
            "freehold does not run container image functions (PackageType Image); "
            "deploy the function as a .zip package with a Runtime and a Handler instead.",
        )
    if not runtime:
        raise ServiceError("InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
    if not handler:
        raise ServiceError("InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
    if len(params.get("Architectures") or []) > 1:
        raise ServiceError(
            "InvalidParameterValueException", "Lambda does not support multiple architectures for a function."
        )
