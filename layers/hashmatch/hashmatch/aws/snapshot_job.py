"""The snapshot builder: previous snapshot + the change log's tail -> a new published snapshot.

Run on a schedule (template.yaml, `SnapshotFunction`). A warm builder keeps its indexes between
runs and reads only what was logged since; a cold one starts from the newest snapshot, or from
the whole log when there is none (on a large bank the first build may take several runs: each
publishes what it applied before its time ran out, and the next continues from there).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import boto3

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.snapshots import S3SnapshotStore
from hashmatch.index.bank_index import BankIndex, IndexState
from hashmatch.index.snapshot import SnapshotError
from hashmatch.service.ports import Bank
from hashmatch.service.settings import SNAPSHOT_BUCKET, Settings, SettingsError

logger = logging.getLogger(__name__)

# Changes applied per refresh step: the time left is checked between steps.
REFRESH_STEP = 100_000
# Seconds kept back for compacting, writing and uploading (a 10M-hash snapshot: well under a minute).
PUBLISH_RESERVE_SECONDS = 180.0


@dataclass(frozen=True)
class RebuildReport:
    """What one run did: changes applied, the position reached, and the key published (None: nothing new)."""

    applied: int
    position: str | None
    entries: int
    published: str | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SnapshotBuilder:
    """Keeps a `BankIndex` up to date from `bank` and publishes it to `store`."""

    def __init__(self, bank: Bank, store: S3SnapshotStore, clock: Callable[[], float] = time.monotonic) -> None:
        self._bank = bank
        self._store = store
        self._clock = clock
        self._index: BankIndex | None = None

    def rebuild(self, time_left: Callable[[], float] | None = None) -> RebuildReport:
        """Apply the log's tail, compact and publish; `time_left()` is the run's remaining seconds.

        Raises what the bank or S3 raise; the indexes applied so far are kept for the next run.
        """
        started = self._clock()
        if self._index is None:
            self._index = BankIndex(bootstrap=self._previous)
        index = self._index
        applied = 0
        while True:
            step = index.refresh(self._bank, max_changes=REFRESH_STEP)
            applied += step
            if step < REFRESH_STEP or (time_left is not None and time_left() < PUBLISH_RESERVE_SECONDS):
                break
        published = None
        if index.position is not None:
            pointer = self._store.pointer()
            if pointer is None or str(pointer.get("position", "")) < index.position:
                index.compact()
                published = self._store.publish(index)
        return RebuildReport(applied, index.position, len(index), published, round(self._clock() - started, 3))

    def _previous(self) -> IndexState | None:
        try:
            return self._store.latest_state()
        except SnapshotError:
            logger.exception("the newest snapshot is unreadable; rebuilding from the whole change log")
            return None


@functools.cache
def builder() -> SnapshotBuilder:
    """The process-wide builder, from the environment (SNAPSHOT_BUCKET is required here)."""
    settings = Settings.from_environment()
    if not settings.snapshot_bucket:
        raise SettingsError(f"environment variable {SNAPSHOT_BUCKET} is required")
    session = boto3.session.Session()
    return SnapshotBuilder(
        DynamoBank(settings.table_name, session.resource("dynamodb")),
        S3SnapshotStore(settings.snapshot_bucket, session.client("s3")),
    )


def rebuild(time_left: Callable[[], float] | None = None) -> RebuildReport:
    """One scheduled run of the process-wide builder (see `SnapshotBuilder.rebuild`)."""
    return builder().rebuild(time_left)
