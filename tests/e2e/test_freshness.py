"""Through the local stack: a shared hash matches the very next check, and a withdrawn one stops
matching, with shares and checks overlapping."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hashmatch_tools.client import SHARE_REPLIES, Coalition
from hashmatch_tools.samples import jpeg_bytes, mirrored, png_bytes, resized, scene

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

ROUNDS = 50
TIMEOUT = 300.0


def _shared_notice(coalition: Coalition, platform: str, key: str, timeout: float) -> dict:
    """The sharer's own reply about `key` (share.accepted goes out with hash.shared). The sharers'
    inboxes fill with each other's hash.shared alerts: everything read here is consumed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for notification in coalition.notifications(platform, 0.5):
            if notification["event_type"] in SHARE_REPLIES and notification.get("object", {}).get("key") == key:
                return notification
    raise AssertionError(f"no reply to {key} within {timeout}s")


def test_fifty_overlapping_shares_each_match_the_very_next_check(coalition: Coalition) -> None:
    # Five sharing platforms share and check at once; each check follows its own share's reply.
    sharers = ["facebook", "youtube", "twitter", "pinterest", "reddit"]

    def round_trip(n: int) -> tuple[str, str]:
        picture = scene(5000 + n, (384, 288))
        sharer = sharers[n % len(sharers)]
        key = coalition.put("share", sharer, f"r{n}.jpg", jpeg_bytes(picture), {"labels": "graphic-violence"})
        notice = _shared_notice(coalition, sharer, key, TIMEOUT)
        assert notice["event_type"] == "share.accepted"
        check_key = coalition.put("check", "snapchat", f"r{n}.png", png_bytes(mirrored(resized(picture, 0.7))))
        return check_key, notice["items"][0]["item_id"]

    def rounds_of(sharer_index: int) -> list[tuple[int, tuple[str, str]]]:
        # One thread per sharer, its rounds one after another: no two readers share an inbox.
        return [(n, round_trip(n)) for n in range(sharer_index, ROUNDS, len(sharers))]

    with ThreadPoolExecutor(max_workers=len(sharers)) as pool:
        done = dict(pair for pairs in pool.map(rounds_of, range(len(sharers))) for pair in pairs)
    keys = [done[n][0] for n in range(ROUNDS)]
    verdicts = {v["object"]["key"]: v for v in coalition.verdicts("snapchat", set(keys), TIMEOUT)}
    assert len(verdicts) == ROUNDS
    for n, key in enumerate(keys):
        verdict = verdicts[key]
        assert verdict["event_type"] == "match.found", n
        # The item this round shared is among the matches.
        assert done[n][1] in {m["item_id"] for m in verdict["matches"]}, n


def test_a_withdrawn_hash_stops_matching_at_once(coalition: Coalition) -> None:
    picture = scene(6001, (384, 288))
    key = coalition.put("share", "twitch", "w.jpg", jpeg_bytes(picture), {"labels": "graphic-violence"})
    accepted = _shared_notice(coalition, "twitch", key, TIMEOUT)
    check = coalition.put("check", "instagram", "before.jpg", jpeg_bytes(picture, 50))
    (before,) = coalition.verdicts("instagram", {check}, TIMEOUT)
    assert before["event_type"] == "match.found"

    withdrawal = coalition.put(
        "withdraw", "twitch", "w.txt", f"sha256:{accepted['items'][0]['signals']['sha256']}\n".encode()
    )
    notice = _shared_notice(coalition, "twitch", withdrawal, TIMEOUT)
    assert notice["event_type"] == "hash.withdrawn"
    check = coalition.put("check", "instagram", "after.jpg", jpeg_bytes(picture, 50))
    (after,) = coalition.verdicts("instagram", {check}, TIMEOUT)
    assert after["event_type"] == "check.clean"
