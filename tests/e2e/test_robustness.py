"""Edited copies of real photos through the local stack: S3 put -> check function -> bank -> verdict.

The reference photos (`edits.REFERENCE_PHOTOS`, one per scene) of usable PDQ quality are shared by
`tiktok`, except `HELD_OUT` of them picked with a fixed seed; photos of PDQ quality below 50 are
never shared either (the service stores no PDQ for them, only an exact copy could match). `reddit`
then checks one seeded edited copy of every shared photo for every edit in `edits.EDITS`, and
every photo not shared, as it is and with every edit: those must all come back `check.clean`.

Photos are shrunk to at most `MAX_SIDE` pixels before editing (platforms serve them about that
size; it keeps uploads to moto small), and every copy is uploaded as `edits.encode_copy` writes it
(JPEG q95; PNG for edits that end in a JPEG re-encode). All edits of all photos are checked (no
subset): about 280 checks, which the local stack answers in 1-3 minutes on two cores.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from hashmatch.signals.pdq import PDQ_MIN_QUALITY, pdq_hash
from hashmatch_tools.client import Coalition
from hashmatch_tools.edits import EDITS, REFERENCE_PHOTOS, encode_copy, open_photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

SEED = 20240611
SHARER, CHECKER = "tiktok", "reddit"
HELD_OUT = 2
MAX_SIDE = 1024
MIN_MATCHED = 0.95
TIMEOUT = 300.0


@dataclass
class Row:
    """What the verdicts on one edit's copies said."""

    copies: int = 0
    matched: int = 0  # copies of shared photos whose verdict names their own photo
    held_out: int = 0  # copies of photos never shared
    false_matches: int = 0  # verdicts naming a photo the copy is not of (any, for held-out photos)


def _photos(shared_data: Path) -> dict[str, Image.Image]:
    photos = {}
    for relative in REFERENCE_PHOTOS:
        path = shared_data / relative
        if not path.exists():
            pytest.skip(f"reference photo missing: {path}")
        photo = open_photo(path)
        photo.thumbnail((MAX_SIDE, MAX_SIDE))
        photos[Path(relative).stem] = photo
    return photos


def _shared_items(coalition: Coalition, keys: dict[str, str]) -> dict[str, str]:
    """Photo name by item id, from the sharer's share.accepted notifications about `keys`."""
    items: dict[str, str] = {}
    pending = set(keys)
    deadline = time.monotonic() + TIMEOUT
    while pending and time.monotonic() < deadline:
        for notification in coalition.notifications(SHARER, 1):
            key = notification.get("object", {}).get("key")
            if key in pending:
                assert notification["event_type"] == "share.accepted", notification
                items[notification["items"][0]["item_id"]] = keys[key]
                pending.discard(key)
    assert not pending, f"no share.accepted for {sorted(pending)}"
    return items


def _table(rows: dict[str, Row]) -> str:
    lines = [
        "| edit | copies of shared photos | matched | copies of held-out photos | false matches |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        share = f"{100.0 * row.matched / row.copies:.0f}%" if row.copies else "-"
        lines.append(f"| {name} | {row.copies} | {share} | {row.held_out} | {row.false_matches} |")
    return "\n".join(lines)


def test_edited_copies_of_shared_photos_match_and_others_stay_clean(coalition: Coalition, shared_data: Path) -> None:
    started = time.monotonic()
    photos = _photos(shared_data)
    usable = [name for name, photo in photos.items() if pdq_hash(photo).quality >= PDQ_MIN_QUALITY]
    held_out = set(random.Random(SEED).sample(usable, HELD_OUT))
    shared = [name for name in usable if name not in held_out]
    never_shared = [name for name in photos if name not in shared]

    share_keys = {
        coalition.put(
            "share", SHARER, f"{name}{suffix}", body, {"labels": "graphic-violence", "content-id": name}
        ): name
        for name in shared
        for body, suffix in [encode_copy(photos[name], "original")]
    }
    item_photo = _shared_items(coalition, share_keys)
    # hash.shared alerts about these shares (and whatever earlier tests left) reached the checker's
    # inbox too: read them now, so that the verdicts below are not queued behind them.
    for _ in coalition.notifications(CHECKER, 2):
        pass

    checks: dict[str, tuple[str, str]] = {}  # key -> (edit, photo)
    for edit_name, edit in {"original": None, **EDITS}.items():
        for name in shared + never_shared:
            if edit is None:
                if name in shared:
                    continue  # the very file shared: an exact copy, nothing to learn
                image = photos[name]
            else:
                image = edit(photos[name], random.Random(f"{SEED}:{edit_name}:{name}"))
            body, suffix = encode_copy(image, edit_name)
            key = coalition.put("check", CHECKER, f"{name}{suffix}", body, {"content-id": f"{edit_name}|{name}"})
            checks[key] = (edit_name, name)
    put_seconds = time.monotonic() - started
    verdicts = {v["object"]["key"]: v for v in coalition.verdicts(CHECKER, set(checks), TIMEOUT)}
    assert set(verdicts) == set(checks), f"{len(checks) - len(verdicts)} checks got no verdict"

    rows: dict[str, Row] = {}
    misses: list[str] = []
    false_matches: list[str] = []
    for key, (edit_name, name) in checks.items():
        verdict = verdicts[key]
        assert verdict["event_type"] in ("match.found", "check.clean"), verdict
        named = {item_photo.get(m["item_id"], f"item {m['item_id']}") for m in verdict["matches"]}
        row = rows.setdefault(edit_name, Row())
        if name in shared:
            row.copies += 1
            row.matched += name in named
            if name not in named:
                misses.append(f"{edit_name}: {name}")
        else:
            row.held_out += 1
        wrong = named - {name}
        row.false_matches += len(wrong)
        if wrong:
            false_matches.append(f"{edit_name}: {name} matched {', '.join(sorted(wrong))}")

    counted = [row for name, row in rows.items() if name != "original"]
    copies, matched = sum(r.copies for r in counted), sum(r.matched for r in counted)
    print(f"\nshared: {', '.join(shared)}; never shared: {', '.join(never_shared)}\n")
    print(_table(rows))
    print(f"\nmatched, all edits: {matched} of {copies} ({100.0 * matched / copies:.1f}%)")
    print(f"missed: {'; '.join(misses) or 'none'}")
    print(f"({len(checks)} checks, {time.monotonic() - started:.0f} s, all put after {put_seconds:.0f} s)")

    assert all(rows[name].copies == len(shared) for name in EDITS), "an edit was not measured on every photo"
    assert not false_matches, false_matches
    assert rows["original"].held_out == len(never_shared)
    assert matched / copies >= MIN_MATCHED, misses
