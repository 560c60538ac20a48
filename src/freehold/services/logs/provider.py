"""The CloudWatch Logs provider: one method per operation, composed from the operation
families (groups, streams, events, metric/subscription filters, Logs Insights queries).

Every key holds the account and the region (Logs is regional). State lives in SQL only (see
store.py), so several nodes sharing PostgreSQL see the same logs; the one background task,
retention expiry, is in workers.py.
"""

from __future__ import annotations

from typing import ClassVar

from freehold.services.base import Provider, ServiceRuntime
from freehold.services.logs.events import EventOperations
from freehold.services.logs.filters import FilterOperations
from freehold.services.logs.groups import GroupOperations
from freehold.services.logs.store import LogsStore
from freehold.services.logs.streams import StreamOperations
from freehold.services.logs.workers import RetentionWorker


class LogsProvider(Provider, GroupOperations, StreamOperations, EventOperations, FilterOperations):
    service: ClassVar[str] = "logs"
    partial: ClassVar[dict[str, str]] = {
        "CreateLogGroup": "kmsKeyId is stored and reported, log data is not encrypted with it",
        "AssociateKmsKey": "the key is stored and reported, log data is not encrypted with it; "
                           "query-result resourceIdentifiers are not supported",
        "DescribeLogGroups": "storedBytes counts uncompressed message bytes (+26 per event); "
                             "includeLinkedAccounts/accountIdentifiers (cross-account observability) are ignored",
        "PutLogEvents": "entity (rejectedEntityInfo) is accepted and not stored",
        "FilterLogEvents": "unmask is ignored (no data protection policies)",
        "GetLogEvents": "unmask is ignored (no data protection policies)",
        "PutMetricFilter": "stored and listed; no CloudWatch metrics are published from matching events yet",
        "PutSubscriptionFilter": "stored and listed; events are not delivered to the destination yet",
        "TestMetricFilter": "extractedValues are given for space-delimited patterns without '...' only",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = LogsStore(runtime.db)
        self.retention = RetentionWorker(self.store)

    def start(self) -> None:
        self.store.migrate()
        self.retention.start()

    def stop(self) -> None:
        self.retention.stop()

    def reset(self) -> None:
        """Nothing is cached in memory."""

    def _retention_changed(self) -> None:
        self.retention.wake()
