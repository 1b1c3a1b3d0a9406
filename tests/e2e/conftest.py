from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hashmatch_tools.client import Coalition
from hashmatch_tools.local.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The whole system on moto server at 127.0.0.1, resources from template.yaml, pollers running."""
    # twitter acts only on matches two members stand behind (tests/e2e/test_governance.py).
    parameters = {"LogLevel": "WARNING", "MemberPolicies": json.dumps({"twitter": {"required_backers": 2}})}
    stack = LocalStack(parameters=parameters).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def coalition(local_stack: LocalStack) -> Coalition:
    return Coalition.local(local_stack.endpoint, local_stack.root)
