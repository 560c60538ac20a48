"""Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfigs on a published
version or an alias, and the worker that keeps that many sandboxes initialised.

A config is stored in SQL (lambda_provisioned); a worker thread of each node makes the
runtime keep the requested sandboxes of the target version initialised (Executor.provision:
started with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency, never reaped, topped up
when one dies) and records the status: IN_PROGRESS until they are, then READY (FAILED when
the function cannot initialise). At start every config goes back to IN_PROGRESS and is
provisioned again, so configs survive restarts. An alias moved to another version is
re-provisioned on the next pass (changes made on this node wake the worker at once). Nodes
sharing a PostgreSQL database each keep the requested sandboxes (each node serves the
invocations it receives); the status is the last node's report.

https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_.invoke import InvokeOps
from freehold.services.lambda_.names import LATEST, VERSION_PATTERN, FunctionRef

log = logging.getLogger("freehold.lambda")

POLL_SECONDS = 5.0
ProvisionKey = tuple[str, str, str, str]


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def config_not_found() -> ServiceError:
    return ServiceError("ProvisionedConcurrencyConfigNotFoundException",
                        "No Provisioned Concurrency Config found for this function", 404, fields={"Type": "User"})


@dataclass
class Provisioned:
    """What this node keeps initialised for one config."""

    spec: Any  # runtime FunctionSpec
    count: int


class ProvisionedOps(InvokeOps):
    # -- control plane ----------------------------------------------------------------------------
    def _pc_ref(self, ctx: RequestContext, params: Params) -> FunctionRef:
        ref = self.ref(ctx, params)
        if ref.qualifier in (None, "", LATEST):
            raise ServiceError("InvalidParameterValueException",
                               "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        self.resolve(ref)  # the version or alias must exist
        return ref

    def _pc_rows(self, account_id: str, region: str, name: str) -> dict[str, dict[str, Any]]:
        rows = self.store.db.query(
            "SELECT qualifier, document FROM lambda_provisioned WHERE account_id = ? AND region = ? AND name = ? "
            "ORDER BY qualifier", (account_id, region, name),
        )
        return {str(q): json.loads(d) for q, d in rows}

    def _pc_write(self, ref: FunctionRef, document: dict[str, Any]) -> None:
        self.store.db.execute(
            "INSERT INTO lambda_provisioned (account_id, region, name, qualifier, document) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, region, name, qualifier) DO UPDATE SET document = excluded.document",
            (ref.account_id, ref.region, ref.name, ref.qualifier, json.dumps(document)),
        )

    def _target_version(self, ref: FunctionRef, qualifier: str) -> str | None:
        if VERSION_PATTERN.match(qualifier):
            return qualifier
        alias = self.store.get_alias(ref.account_id, ref.region, ref.name, qualifier)
        return str(alias["FunctionVersion"]) if alias else None

    def put_provisioned_concurrency_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._pc_ref(ctx, params)
        assert ref.qualifier is not None
        wanted = int(params["ProvisionedConcurrentExecutions"])
        row = self.function_row(ref)
        if row.reserved_concurrency is not None and wanted > row.reserved_concurrency:
            raise ServiceError(
                "InvalidParameterValueException",
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                "for function",
            )
        target = self._target_version(ref, ref.qualifier)
        for qualifier in self._pc_rows(ref.account_id, ref.region, ref.name):
            if qualifier != ref.qualifier and self._target_version(ref, qualifier) == target:
                raise ServiceError(
                    "ResourceConflictException",
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
                    409, fields={"Type": "User"},
                )
        document = {"RequestedProvisionedConcurrentExecutions": wanted,
                    "AllocatedProvisionedConcurrentExecutions": 0, "AvailableProvisionedConcurrentExecutions": 0,
                    "Status": "IN_PROGRESS", "LastModified": _timestamp()}
        self._pc_write(ref, document)
        self._provision_wake.set()
        return {key: document[key] for key in ("RequestedProvisionedConcurrentExecutions",
                                               "AllocatedProvisionedConcurrentExecutions", "Status", "LastModified")}

    def get_provisioned_concurrency_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._pc_ref(ctx, params)
        document = self._pc_rows(ref.account_id, ref.region, ref.name).get(str(ref.qualifier))
        if document is None:
            raise config_not_found()
        return document

    def delete_provisioned_concurrency_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._pc_ref(ctx, params)
        deleted = self.store.db.execute(
            "DELETE FROM lambda_provisioned WHERE account_id = ? AND region = ? AND name = ? AND qualifier = ?",
            (ref.account_id, ref.region, ref.name, ref.qualifier),
        )
        if deleted != 1:
            raise ServiceError("ResourceNotFoundException",
                               "No Provisioned Concurrency Config found for this function", 404, fields={"Type": "User"})
        self._provision_wake.set()
        return {}

    def list_provisioned_concurrency_configs(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        configs = [{"FunctionArn": f"{ref.arn}:{qualifier}", **document}
                   for qualifier, document in self._pc_rows(ref.account_id, ref.region, ref.name).items()]
        start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
        limit = params.get("MaxItems") or 50
        output: Params = {"ProvisionedConcurrencyConfigs": configs[start:start + limit]}
        if start + limit < len(configs):
            output["NextMarker"] = str(start + limit)
        return output

    # -- the worker -----------------------------------------------------------------------------------
    def start_provisioning(self) -> None:
        self._provision_wake = threading.Event()
        self._provision_stop = threading.Event()
        self._provisioned_here: dict[ProvisionKey, Provisioned] = {}
        rows = self.store.db.query("SELECT account_id, region, name, qualifier, document FROM lambda_provisioned")
        for account_id, region, name, qualifier, text in rows:
            # Nothing is initialised on this node yet: provisioned again from scratch.
            document = {**json.loads(text), "Status": "IN_PROGRESS", "AllocatedProvisionedConcurrentExecutions": 0,
                        "AvailableProvisionedConcurrentExecutions": 0}
            document.pop("StatusReason", None)
            self._pc_write(FunctionRef(account_id, region, name, qualifier), document)
        self._provision_thread = threading.Thread(target=self._provision_forever, name="freehold-lambda-provisioned",
                                                  daemon=True)
        self._provision_thread.start()
        if rows:
            self._provision_wake.set()

    def stop_provisioning(self) -> None:
        self._provision_stop.set()
        self._provision_wake.set()
        self._provision_thread.join(10)

    def reset_provisioning(self) -> None:
        self._provisioned_here.clear()

    def _provision_forever(self) -> None:
        while not self._provision_stop.is_set():
            self._provision_wake.wait(POLL_SECONDS)
            self._provision_wake.clear()
            if self._provision_stop.is_set():
                return
            try:
                self._provision_pass()
            except Exception:
                log.exception("lambda: provisioning concurrency failed")

    def _provision_pass(self) -> None:
        rows = self.store.db.query("SELECT account_id, region, name, qualifier, document FROM lambda_provisioned")
        wanted: dict[ProvisionKey, int] = {}
        for account_id, region, name, qualifier, text in rows:
            key = (account_id, region, name, qualifier)
            document = json.loads(text)
            wanted[key] = int(document["RequestedProvisionedConcurrentExecutions"])
            if self._provision_stop.is_set():
                return
            self._provision_one(key, document, wanted[key])
        for key in [k for k in self._provisioned_here if k not in wanted]:
            gone = self._provisioned_here.pop(key)
            if self._executor is not None:
                self._executor.provision(gone.spec, 0)

    def _provision_one(self, key: ProvisionKey, document: dict[str, Any], count: int) -> None:
        if document.get("Status") == "FAILED" and key not in self._provisioned_here:
            return  # as on AWS, a failed config stays failed until it is put again
        account_id, region, name, qualifier = key
        ref = FunctionRef(account_id, region, name, qualifier)
        number = self._target_version(ref, qualifier)
        version = self.store.get_version(account_id, region, name, number) if number else None
        function = self.store.function_row(account_id, region, name)
        if version is None or function is None:
            return
        _, spec = self._prepared(version, function.reserved_concurrency)
        current = self._provisioned_here.get(key)
        if current is not None and current.spec.key == spec.key and current.count == count \
                and document.get("Status") == "READY":
            self.executor.provision(spec, count)  # tops up, returns at once when all are there
            return
        if current is not None and current.spec.key != spec.key:
            self.executor.provision(current.spec, 0)  # the alias moved: release the old version's
        self._provisioned_here[key] = Provisioned(spec, count)
        started = time.monotonic()
        ready = self.executor.provision(spec, count)
        status = "READY" if ready >= count else ("FAILED" if ready == 0 else "IN_PROGRESS")
        updated = {**document, "Status": status, "AllocatedProvisionedConcurrentExecutions": ready,
                   "AvailableProvisionedConcurrentExecutions": ready}
        updated.pop("StatusReason", None)
        if status == "FAILED":
            updated["StatusReason"] = "FUNCTION_ERROR_INIT_FAILURE"
            self._provisioned_here.pop(key, None)
            self.executor.provision(spec, 0)  # no endless retries of an init that fails
        # Written only if the config was not changed or deleted meanwhile.
        self.store.db.execute(
            "UPDATE lambda_provisioned SET document = ? WHERE account_id = ? AND region = ? AND name = ? "
            "AND qualifier = ? AND document = ?",
            (json.dumps(updated), account_id, region, name, qualifier, json.dumps(document)),
        )
        log.debug("lambda: provisioned %d/%d of %s:%s in %.2fs", ready, count, name, qualifier,
                  time.monotonic() - started)
