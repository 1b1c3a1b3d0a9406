from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hashmatch_tools.client import Coalition
from hashmatch_tools.local.stack import LocalStack

DEFAULT_PLATFORMS = (
    "tiktok",
    "facebook",
    "instagram",
    "youtube",
    "twitter",
    "twitch",
    "snapchat",
    "pinterest",
    "reddit",
)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The whole system on moto server at 127.0.0.1, resources from template.yaml, pollers running."""
    # twitter acts only on matches two members stand behind (tests/e2e/test_governance.py);
    # pinterest is the one member that does not opt in to retroactive matching (test_pipeline.py).
    retaining = [p for p in DEFAULT_PLATFORMS if p != "pinterest"]
    parameters = {
        "LogLevel": "WARNING",
        "MemberPolicies": json.dumps({"twitter": {"required_backers": 2}}),
        "RetroactivePlatforms": ",".join(retaining),
    }
    stack = LocalStack(parameters=parameters).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def coalition(local_stack: LocalStack) -> Coalition:
    return Coalition.local(local_stack.endpoint, local_stack.root)
