"""Fixtures shared by every test tier."""

from __future__ import annotations

from pathlib import Path

import pytest

# The reference media live beside the checkout (../shared/data), never inside it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference media folder; tests that need it skip where a checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference media not found at {SHARED_DATA} (the shared/data folder beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data_or_none() -> Path | None:
    """The reference media folder, or None where a checkout has none beside it (for tests that
    check more with it but still run without it)."""
    return SHARED_DATA if SHARED_DATA.is_dir() else None
