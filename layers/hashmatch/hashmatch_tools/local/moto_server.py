"""moto server with one emulation cost bounded: a DynamoDB query reads its own partition.

moto (5.x) answers a query on a table's key by sorting every item of the table and keeping those
of the queried partition, so each query costs the whole table: at a few thousand checks the local
stack's table holds tens of thousands of kept answers (and claims), retained checks,
and every check's log-tail query slows with them (a load run fell from ~6 to under 1 check a
second). DynamoDB reads one partition. `partition_queries()` hands moto's query only the queried
partition's items; everything else (key conditions, order, pages, filters, projections, indexes)
is moto's own code, unchanged.

    python -m hashmatch_tools.local.moto_server -H 127.0.0.1 -p PORT   # moto.server's arguments
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from moto.dynamodb.models.table import Table

_querying = threading.local()
_installed = False


def partition_queries() -> None:
    """Make moto's table queries (not index queries, not scans) read only the queried partition.
    Idempotent; moto serves each request on a thread of its own, so the partition is per thread."""
    global _installed
    if _installed:
        return
    whole_table = Table.all_items
    query = Table.query
    signature = inspect.signature(query)

    def all_items(self: Table) -> list[Any]:
        partition = getattr(_querying, "partition", None)
        if partition is None or partition[0] is not self:
            return whole_table(self)
        items = self.items.get(partition[1])
        if items is None:
            return []
        if not self.range_key_attr:
            return [items]
        return sorted(items.values(), key=lambda item: item.range_key)

    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name") or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _querying.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _querying.partition = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
    _installed = True


def main() -> None:
    from moto.server import main as moto_main

    partition_queries()
    moto_main()


if __name__ == "__main__":
    main()
