"""Through the local stack: the reference videos match their own family and nothing else, and
generated edits (clip, splice, mirror, letterbox, half resolution, other frame rate) match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashmatch_tools.client import SHARE_REPLIES, Coalition
from hashmatch_tools.samples import letterboxed_frames, mirrored_frames, panning_frames, video_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

TIMEOUT = 300.0
FAMILIES = {
    "chair": ["chair-orig-22-sd-bar", "chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar"],
    "pattern": ["pattern-hd-no-bar", "pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"],
}
SHARER, CHECKER = "twitch", "instagram"


def _share(coalition: Coalition, shares: dict[str, bytes]) -> dict[str, str]:
    """Share each body and wait until every share is accepted (checks run concurrently); the item
    id each share became, by name."""
    labels = {"labels": "graphic-violence"}
    keys = {coalition.put("share", SHARER, name, body, labels): name for name, body in shares.items()}
    replies = list(coalition.verdicts(SHARER, set(keys), TIMEOUT, SHARE_REPLIES))
    assert [reply["event_type"] for reply in replies] == ["share.accepted"] * len(shares)
    return {keys[reply["object"]["key"]]: reply["items"][0]["item_id"] for reply in replies}


def _check_all(coalition: Coalition, bodies: dict[str, bytes]) -> dict[str, dict]:
    keys = {coalition.put("check", CHECKER, name, body, {"content-id": name}): name for name, body in bodies.items()}
    verdicts = {keys[v["object"]["key"]]: v for v in coalition.verdicts(CHECKER, set(keys), TIMEOUT)}
    assert set(verdicts) == set(bodies), "every check gets a verdict"
    return verdicts


def _items(verdict: dict) -> set[str]:
    return {match["item_id"] for match in verdict["matches"]}


def test_reference_videos_match_their_family_only(coalition: Coalition, shared_data: Path) -> None:
    videos = shared_data / "video"
    shared = _share(
        coalition, {f"{names[0]}.mp4": (videos / f"{names[0]}.mp4").read_bytes() for names in FAMILIES.values()}
    )
    bodies = {name: (videos / f"{name}.mp4").read_bytes() for names in FAMILIES.values() for name in names[1:]}
    bodies["doorknob-hd-no-bar"] = (videos / "doorknob-hd-no-bar.mp4").read_bytes()
    verdicts = _check_all(coalition, bodies)
    for names in FAMILIES.values():
        for name in names[1:]:
            assert verdicts[name]["event_type"] == "match.found", name
            assert _items(verdicts[name]) == {shared[f"{names[0]}.mp4"]}, name
            assert verdicts[name]["matches"][0]["signal"] == "vpdq"
    assert verdicts["doorknob-hd-no-bar"]["event_type"] == "check.clean"


def test_generated_edits_of_a_shared_video_match(coalition: Coalition) -> None:
    fps = 24
    footage = panning_frames(21, seconds=12, fps=fps)
    other = panning_frames(22, seconds=10, fps=fps)
    shared = _share(coalition, {"stream.mp4": video_bytes(footage, fps)})
    half = [np.ascontiguousarray(frame[::2, ::2]) for frame in footage]
    bodies = {
        "clip": video_bytes(footage[41 : 41 + 6 * fps], fps),
        "splice": video_bytes(other[:100] + footage[30 : 30 + 6 * fps] + other[100:], fps),
        "mirror": video_bytes(mirrored_frames(footage), fps),
        "letterbox": video_bytes(letterboxed_frames(footage), fps),
        "half-resolution": video_bytes(half, fps),
        "12-fps": video_bytes(footage[::2], fps // 2),
        "unrelated": video_bytes(other, fps),
    }
    verdicts = _check_all(coalition, bodies)
    for name in ("clip", "splice", "mirror", "letterbox", "half-resolution", "12-fps"):
        assert verdicts[name]["event_type"] == "match.found", name
        assert _items(verdicts[name]) == {shared["stream.mp4"]}, name
    segment = verdicts["clip"]["matches"][0]["detail"]["segments"][0]
    assert abs(segment["shared_start"] - 41 / fps) < 1.0, segment
    assert verdicts["unrelated"]["event_type"] == "check.clean"
