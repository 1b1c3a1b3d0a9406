"""`hashmatch demo`: the whole story on a fresh local stack, in under a minute.

A platform checks a copy of a picture nobody has shared yet: clean. Then one platform shares the
picture labelled graphic-violence; every other member is alerted, and the platform that checked
the copy earlier is told it matches now (retroactive matching: every member opts in on the
local stack). Another platform checks edited copies (re-encoded, resized, mirrored, letterboxed,
cropped unevenly, with meme text) and an unrelated picture and sees what the coalition catches.
It ends with the coalition's transparency report, its chart written to `REPORT_CHART`.
The demo makes its own media and exits non-zero when a verdict is not the expected one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hashmatch_tools.client import Coalition
from hashmatch_tools.edits import meme_text
from hashmatch_tools.governing import render_report
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import (
    jpeg_bytes,
    letterboxed,
    letterboxed_frames,
    mirrored,
    mirrored_frames,
    panning_frames,
    png_bytes,
    resized,
    scene,
    video_bytes,
)

SHARER = "tiktok"
CHECKER = "instagram"
EARLY_CHECKER = "youtube"
LABEL = "graphic-violence"
VERDICT_TIMEOUT = 60.0
REPORT_CHART = "hashmatch-demo-report.png"


@dataclass(frozen=True)
class Upload:
    name: str
    body: bytes
    expected: str


def _image_uploads(original: Image.Image) -> list[Upload]:
    width, height = original.size
    uneven = (round(width * 0.09), 0, round(width * 0.98), round(height * 0.93))  # 9% off the left, 2% right, 7% bottom
    edits: list[tuple[str, Callable[[], bytes], str]] = [
        ("exact-copy.jpg", lambda: jpeg_bytes(original), "match.found"),
        ("re-encoded-q35.jpg", lambda: jpeg_bytes(original, quality=35), "match.found"),
        ("resized-half.png", lambda: png_bytes(resized(original, 0.5)), "match.found"),
        ("mirrored.jpg", lambda: jpeg_bytes(mirrored(original)), "match.found"),
        ("letterboxed.jpg", lambda: jpeg_bytes(letterboxed(original)), "match.found"),
        ("cropped-unevenly.jpg", lambda: jpeg_bytes(original.crop(uneven)), "match.found"),
        ("meme-text.jpg", lambda: jpeg_bytes(meme_text(original, random.Random(7))), "match.found"),
        ("unrelated.jpg", lambda: jpeg_bytes(scene(2024)), "check.clean"),
        ("not-an-image.jpg", lambda: b"this is text pretending to be a JPEG\n", "check.rejected"),
    ]
    return [Upload(name, make(), expected) for name, make, expected in edits]


def _video_uploads(footage: list, other: list) -> list[Upload]:
    fps = 24
    return [
        Upload("clip-6s-offgrid.mp4", video_bytes(footage[37 : 37 + 6 * fps]), "match.found"),
        Upload("mirrored-letterboxed.mp4", video_bytes(letterboxed_frames(mirrored_frames(footage))), "match.found"),
        Upload("spliced-5s.mp4", video_bytes(other[:120] + footage[60 : 60 + 5 * fps] + other[120:]), "match.found"),
        Upload("screenshot.jpg", jpeg_bytes(Image.fromarray(footage[150])), "match.found"),
        Upload("unrelated.mp4", video_bytes(other), "check.clean"),
    ]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _describe(notification: dict[str, object]) -> str:
    event = str(notification["event_type"])
    if event == "match.found" and notification.get("retroactive"):
        return f"{event:<14} retroactive: {notification['content_id']} checked at {notification['checked_at']}"
    if event == "match.found":
        matches = notification["matches"]
        assert isinstance(matches, list)
        best = matches[0]
        evidence = f"{best['signal']} distance {best['distance']} via {best['query']}"
        if best["signal"] == "vpdq":
            segment = best["detail"]["segments"][0]
            evidence = (
                f"vpdq {best['detail']['matched_seconds']:.0f}s matched, check {segment['check_start']:.1f}-"
                f"{segment['check_end']:.1f}s = shared {segment['shared_start']:.1f}-{segment['shared_end']:.1f}s"
                f" ({segment['orientation']})"
            )
        return f"{event:<14} {evidence}; labels {','.join(best['labels'])}; shared by {best['contributor']}"
    if event == "check.rejected":
        rejection = notification["rejection"]
        assert isinstance(rejection, dict)
        return f"{event:<14} {rejection['reason']}: {rejection['message']}"
    if event in ("hash.shared", "share.accepted"):
        items = notification["items"]
        assert isinstance(items, list)
        return f"{event:<14} {len(items)} item(s) from {items[0]['contributor']}, labels {','.join(items[0]['labels'])}"
    return event


def _report(coalition: Coalition, keys: dict[str, Upload], received: dict[str, list[str]]) -> int:
    """Print each verdict against the expected one; how many were not as expected."""
    failures = 0
    verdicts = {v["object"]["key"]: v for v in coalition.verdicts(CHECKER, set(keys), VERDICT_TIMEOUT)}
    for key, upload in keys.items():
        verdict = verdicts.get(key)
        if verdict:
            received[CHECKER].append(f"{_describe(verdict)} [{upload.name}]")
        ok = (verdict["event_type"] if verdict else "no verdict") == upload.expected
        failures += not ok
        detail = _describe(verdict) if verdict else f"nothing within {VERDICT_TIMEOUT:.0f}s"
        _say(f"   {'ok ' if ok else 'BAD'} {upload.name:<26} {detail}")
    return failures


def _wait_for_alerts(
    coalition: Coalition,
    received: dict[str, list[str]],
    event: str,
    count: int,
    retroactive: list[dict[str, object]] | None = None,
    expect_retroactive: int = 0,
) -> list[str]:
    """Read every platform's inbox until `count` platforms got `event` (and `expect_retroactive`
    retroactive matches arrived, kept in `retroactive`); the platforms that got `event`."""
    alerted: list[str] = []
    found = retroactive if retroactive is not None else []
    deadline = time.monotonic() + VERDICT_TIMEOUT
    while (len(alerted) < count or len(found) < expect_retroactive) and time.monotonic() < deadline:
        for platform in coalition.platforms:
            for notification in coalition.notifications(platform, wait_seconds=0.5):
                received[platform].append(_describe(notification))
                if notification["event_type"] == event:
                    alerted.append(platform)
                if notification.get("retroactive"):
                    found.append(notification)
    return alerted


def run_demo(port: int = 0) -> int:
    """Run the story; 0 when every verdict is the expected one."""
    started = time.monotonic()
    _say("Starting the local stack (moto server on 127.0.0.1, resources from template.yaml) ...")
    with LocalStack(port=port, parameters={"LogLevel": "WARNING"}) as stack:
        coalition = Coalition.local(stack.endpoint, stack.root)
        _say(f"  endpoint {stack.endpoint}; members: {', '.join(coalition.platforms)}")
        original = scene(7)
        received: dict[str, list[str]] = {p: [] for p in coalition.platforms}

        _say(f"\n1. {EARLY_CHECKER} checks a post (a mirrored, re-encoded copy) before anyone has shared it")
        early = jpeg_bytes(mirrored(original), quality=50)
        early_key = coalition.put("check", EARLY_CHECKER, "early-post.jpg", early, {"content-id": "post-1001"})
        no_verdict: dict[str, object] = {"event_type": "no verdict"}
        verdicts = coalition.verdicts(EARLY_CHECKER, {early_key}, VERDICT_TIMEOUT)
        first: dict[str, object] = next(iter(verdicts), no_verdict)
        received[EARLY_CHECKER].append(f"{_describe(first)} [early-post.jpg]")
        failures = int(first["event_type"] != "check.clean")
        _say(f"   {'ok ' if not failures else 'BAD'} early-post.jpg             {_describe(first)}")

        _say(f"\n2. {SHARER} shares the picture, labelled {LABEL}")
        coalition.put("share", SHARER, "incident.jpg", jpeg_bytes(original), {"labels": LABEL, "severity": "high"})
        others = [p for p in coalition.platforms if p != SHARER]
        retroactive: list[dict[str, object]] = []
        alerted = _wait_for_alerts(coalition, received, "hash.shared", len(others), retroactive, 1)
        _say(f"   hash.shared reached {len(alerted)} of {len(others)} other members: {', '.join(alerted)}")
        late = [n for n in retroactive if n["platform"] == EARLY_CHECKER and n["content_id"] == "post-1001"]
        failures += not late
        _say(
            f"   {'ok ' if late else 'BAD'} {EARLY_CHECKER}'s earlier check now matches: "
            + (_describe(late[0]) if late else f"nothing within {VERDICT_TIMEOUT:.0f}s")
        )

        _say(f"\n3. {CHECKER} checks edited copies and unrelated files")
        uploads = _image_uploads(original)
        keys = {coalition.put("check", CHECKER, u.name, u.body, {"content-id": u.name}): u for u in uploads}
        failures += _report(coalition, keys, received)

        _say(f"\n4. {SHARER} shares 12 s of a live stream labelled suicide-self-harm; {CHECKER} checks re-uploads")
        footage, other = panning_frames(11, seconds=12), panning_frames(12, seconds=10)
        coalition.put("share", SHARER, "stream.mp4", video_bytes(footage), {"labels": "suicide-self-harm"})
        _wait_for_alerts(coalition, received, "hash.shared", 2)
        uploads = _video_uploads(footage, other)
        keys = {coalition.put("check", CHECKER, u.name, u.body, {"content-id": u.name}): u for u in uploads}
        failures += _report(coalition, keys, received)

        _say("\n5. The notifications each platform received on its own topic")
        for platform in coalition.platforms:
            received[platform] += [_describe(n) for n in coalition.notifications(platform, wait_seconds=0.2)]
            for line in received[platform] or ["-"]:
                _say(f"   {platform:<10} {line}")
        if sorted(alerted) != sorted(others):
            failures += 1

        _say("\n6. The transparency report on the demo's bank (`hashmatch report`): counts only, no content")
        since = time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime())
        for line in render_report(coalition, since, None, Path(REPORT_CHART)).splitlines():
            _say(f"   {line}")
    elapsed = time.monotonic() - started
    _say(f"\n{'All verdicts as expected' if not failures else f'{failures} unexpected result(s)'} in {elapsed:.1f}s")
    return 1 if failures else 0
