from __future__ import annotations

from collections.abc import Iterator

import pytest

from hashmatch_tools.client import Coalition
from hashmatch_tools.local.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The whole system on moto server at 127.0.0.1, resources from template.yaml, pollers running."""
    stack = LocalStack(parameters={"LogLevel": "WARNING"}).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def coalition(local_stack: LocalStack) -> Coalition:
    return Coalition.local(local_stack.endpoint, local_stack.root)
