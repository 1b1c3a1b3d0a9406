"""The retained checks' day registry (`hashmatch.aws.retained`): a reader queries the days a
platform's records may be in, not every day of its retention, and still finds every record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from hashmatch.aws.retained import DynamoRetainedChecks, encode_check
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import smooth_photo
from tests.integration.retained_world import REGION, Clock, at, retained_check

pytestmark = pytest.mark.integration

DAY = 24 * 60  # minutes


class CountedTable:
    """The bank table, counting the queries and updates made through it."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.queries = 0
        self.updates = 0

    def query(self, **kwargs: Any) -> Any:
        self.queries += 1
        return self._table.query(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        self.updates += 1
        return self._table.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


@pytest.fixture
def table(moto_aws: Stack) -> CountedTable:
    session = boto3.session.Session(region_name=REGION)
    return CountedTable(session.resource("dynamodb").Table(moto_aws.physical_names("BankTable")["ref"]))


def keys(retained: DynamoRetainedChecks, clock: Clock, platform: str = "facebook", days: int = 30) -> set[str]:
    return {check.obj.key for check in retained.checks(platform, at(clock, days * DAY))}


def test_a_reader_queries_the_days_with_records_and_finds_them_all(table: CountedTable) -> None:
    clock = Clock()
    retained = DynamoRetainedChecks(table, clock)  # the table was made today, after every day here
    photo = smooth_photo(5, (320, 240))
    for number, days_ago in enumerate((20, 20, 12, 3)):
        retained.retain(retained_check("facebook", f"k{number}", photo, at(clock, days_ago * DAY)), 30)
    assert table.updates == 3  # one registration a day, however many checks it holds
    table.queries = 0
    assert keys(retained, clock) == {"k0", "k1", "k2", "k3"}
    # The registry, days 20, 12 and 3, yesterday and today: not the 31 days of the retention.
    assert table.queries == 1 + 3 + 2
    table.queries = 0
    assert keys(DynamoRetainedChecks(table, clock), clock) == {"k0", "k1", "k2", "k3"}  # another process
    assert table.queries == 6
    # A table older than its registry: every day from its creation to the registry's first day
    # and the next is read too (records a version without the registry may have written).
    table.queries = 0
    created = (clock.now - timedelta(days=25)).date().isoformat()
    assert keys(DynamoRetainedChecks(table, clock, created=created), clock) == {"k0", "k1", "k2", "k3"}
    assert table.queries == 1 + 25 + 1
    # Another platform's registry is its own: its day is not read for this one.
    retained.retain(retained_check("youtube", "y0", photo, at(clock, 7 * DAY)), 30)
    table.queries = 0
    assert keys(retained, clock) == {"k0", "k1", "k2", "k3"}
    assert table.queries == 6
    assert keys(retained, clock, platform="youtube") == {"y0"}
    # The last hours (a scan's tail windows) are read without the registry.
    table.queries = 0
    assert list(retained.checks("facebook", at(clock, 60))) == []
    assert table.queries == 1


def test_records_written_before_the_registry_existed_are_still_found(table: CountedTable) -> None:
    clock = Clock()
    created = (clock.now - timedelta(days=40)).date().isoformat()
    photo = smooth_photo(6, (320, 240))
    # As a version without the registry wrote it: the record alone.
    old = retained_check("facebook", "before", photo, at(clock, 25 * DAY))
    table.put_item(
        Item={
            "pk": f"RETAINED#facebook#{old.checked_at[:10]}",
            "sk": f"{old.checked_at}#{old.check_id}",
            "check": encode_check(old),
            "expires_at": int(clock()) + 30 * 86400,
        }
    )
    retained = DynamoRetainedChecks(table, clock, created=created)
    # The registry begins today (by the clock), whatever day a retried check carries.
    retained.retain(retained_check("facebook", "after", photo, at(clock, 10 * DAY)), 30)
    assert keys(retained, clock) == {"before", "after"}
    assert keys(DynamoRetainedChecks(table, clock), clock) == {"after"}  # were the table as new as today
    clock.now += timedelta(days=3)  # and later, once the registry covers the days since
    retained.retain(retained_check("facebook", "later", photo, at(clock, 0)), 30)
    assert keys(retained, clock) == {"before", "after", "later"}


def test_a_purge_leaves_the_registry_so_a_process_that_registered_the_day_still_is_read(
    table: CountedTable,
) -> None:
    clock = Clock()
    photo = smooth_photo(7, (320, 240))
    retained = DynamoRetainedChecks(table, clock)
    retained.retain(retained_check("facebook", "a", photo, at(clock, 5 * DAY)), 30)
    retained.purge("facebook")
    assert keys(retained, clock) == set()
    # This process remembers day -5 as registered and does not register it again.
    updates = table.updates
    retained.retain(retained_check("facebook", "b", photo, at(clock, 5 * DAY + 1)), 30)
    assert table.updates == updates
    assert keys(DynamoRetainedChecks(table, clock), clock) == {"b"}


def test_the_compactor_reads_and_the_purge_deletes_through_the_registry_too(table: CountedTable) -> None:
    clock = Clock()
    photo = smooth_photo(8, (320, 240))
    retained = DynamoRetainedChecks(table, clock)
    for number, days_ago in enumerate((9, 2)):
        retained.retain(retained_check("facebook", f"k{number}", photo, at(clock, days_ago * DAY)), 30)
    table.queries = 0
    moved = list(retained.records("facebook", before=at(clock, 0)))
    assert len(moved) == 2
    assert table.queries == 1 + 2 + 2  # the registry, days 9 and 2, yesterday and today
    assert retained.purge("facebook") == 2
    assert keys(retained, clock) == set()
