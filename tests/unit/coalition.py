"""A coalition on in-memory ports for governance tests: the real edge and service, objects
dropped by key as members and operators drop them, and what each platform was told."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator

from hashmatch.governance.policy import CoalitionRules
from hashmatch.service.notifications import EventType, Notification, notification_schema
from hashmatch_tools.fakes import MemoryAuditLog, MemoryBank, MemoryStore, Pipeline, RecordingNotifier, service_on

SCHEMA = Draft202012Validator(notification_schema())


class InMemoryCoalition:
    def __init__(
        self, platforms: tuple[str, ...], rules: CoalitionRules | None = None, now: datetime | None = None
    ) -> None:
        self.store, self.bank, self.notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
        self.audit = MemoryAuditLog()
        self.now = now or datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
        self.pipeline: Pipeline = service_on(
            self.bank, self.store, self.notifier, platforms, clock=lambda: self.now, rules=rules, audit=self.audit
        )
        self._dropped = 0

    def drop(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """Put an object under `key` (made unique) and let the edge and the coalition process it."""
        self._dropped += 1
        self.pipeline.process(self.store.put("ingest", f"{key}-{self._dropped}", body, metadata))

    def operator(self, **request: Any) -> None:
        self.drop("operator/r.json", json.dumps({"operator": "alice", "reason": "reviewed", **request}).encode())

    def last(self, platform: str) -> Notification:
        return self.notifier.to(platform)[-1]

    def events(self, platform: str) -> list[str]:
        return [n.event_type.value for n in self.notifier.to(platform)]

    def told(self, platform: str, event_type: EventType) -> bool:
        return event_type.value in self.events(platform)

    def assert_valid(self) -> None:
        """Every notification sent is valid against the published schema."""
        for notification in self.notifier.sent:
            errors = list(SCHEMA.iter_errors(notification.body))
            assert not errors, (notification.body, errors[0].message)
