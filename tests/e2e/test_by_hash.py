"""Checking by hash through the local stack: the same verdicts as checking the media, with only
hashes ever uploaded; check lists with Unicode content ids; a member's edge delivering hashes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from hashmatch.media.model import sniff_media
from hashmatch_tools.cli import main
from hashmatch_tools.client import Coalition
from hashmatch_tools.edits import EDITS
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

SHARER, CHECKER = "youtube", "snapchat"
EDITS_CHECKED = (
    "mirror",
    "letterbox (black bars)",
    "crop 0-10% per side, asymmetric",
    "caption bar on top",
    "meme text on the picture",
)
WHOLE_HASH_FIELDS = {"media", "signals", "quality", "queries", "framings", "frames", "width", "height", "duration"}


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """Every object the CLI uploads, as (key, body)."""
    seen: list[tuple[str, bytes]] = []
    put = Coalition.put

    def recording(self: Coalition, action: str, platform: str, name: str, body: bytes, metadata=None) -> str:
        key = put(self, action, platform, name, body, metadata)
        seen.append((key, body))
        return key

    monkeypatch.setattr(Coalition, "put", recording)
    return seen


def test_by_hash_and_by_media_give_the_same_verdicts_and_only_hashes_travel(
    local_stack: LocalStack,
    coalition: Coalition,
    tmp_path: Path,
    uploads: list[tuple[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    original = scene(401)
    shared = tmp_path / "original.jpg"
    shared.write_bytes(jpeg_bytes(original))
    assert main(["share", "--platform", SHARER, "--label", "graphic-violence", str(shared)]) == 0
    (accepted,) = coalition.verdicts(SHARER, {uploads[-1][0]}, 60, event_types=("share.accepted",))
    assert accepted["event_type"] == "share.accepted"
    files = []
    names = {"mirror": "зеркало.jpg", "letterbox (black bars)": "letterbox 信箱.jpg"}
    for k, edit in enumerate(EDITS_CHECKED):
        path = tmp_path / names.get(edit, f"copy-{k}.jpg")
        copy: Image.Image = EDITS[edit](original, random.Random(k))
        path.write_bytes(jpeg_bytes(copy))
        files.append(str(path))
    unrelated = tmp_path / "unrelated.jpg"
    unrelated.write_bytes(jpeg_bytes(scene(402)))
    files.append(str(unrelated))
    capsys.readouterr()
    uploads.clear()

    assert main(["check", "--platform", CHECKER, "--wait", "120", *files]) == 0
    by_media = {line["file"]: line for line in _lines(capsys.readouterr().out)}
    media_uploads = list(uploads)
    uploads.clear()
    assert main(["check", "--platform", CHECKER, "--by-hash", "--wait", "120", *files]) == 0
    by_hash = {line["file"]: line for line in _lines(capsys.readouterr().out)}

    assert set(by_media) == set(by_hash) == set(files)
    for name in files:
        media_verdict, hash_verdict = by_media[name], by_hash[name]
        assert media_verdict["event_type"] == hash_verdict["event_type"], name
        assert {m["item_id"] for m in media_verdict["matches"]} == {m["item_id"] for m in hash_verdict["matches"]}
        assert hash_verdict["content_id"] == Path(name).name == media_verdict["content_id"]
    assert by_hash[str(unrelated)]["event_type"] == "check.clean"
    assert all(by_hash[name]["event_type"] == "match.found" for name in files[:-1])
    # By media every file went up as itself; by hash one list went up, holding no pixels.
    assert len(media_uploads) == len(files) and all(sniff_media(body[:64]) for _, body in media_uploads)
    ((key, body),) = uploads
    assert key.startswith(f"check/{CHECKER}/") and sniff_media(body[:64]) is None
    entries = [json.loads(line) for line in body.splitlines()]
    assert len(entries) == len(files)
    assert all(set(e) <= WHOLE_HASH_FIELDS | {"sample_fps", "content_id"} for e in entries)
    assert any(q[1] == "uneven_crop" for e in entries for q in e["queries"])  # refined at the edge, via the API


def test_a_saved_check_list_is_answered_line_by_line(
    local_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    pictures = []
    for k, name in enumerate(("один.jpg", "اثنان.jpg", "三.jpg")):
        path = tmp_path / name
        path.write_bytes(jpeg_bytes(scene(410 + k, (400, 300))))
        pictures.append(str(path))
    assert main(["hash", "--for-check", *pictures]) == 0
    saved = tmp_path / "hashes.jsonl"
    saved.write_text(capsys.readouterr().out + "{broken\n")
    assert main(["check", "--platform", CHECKER, "--wait", "60", str(saved)]) == 1  # one line rejected
    lines = _lines(capsys.readouterr().out)
    answered = {line["file"]: line for line in lines}
    assert {answered[p]["content_id"] for p in pictures} == {"один.jpg", "اثنان.jpg", "三.jpg"}
    assert all(answered[p]["event_type"] == "check.clean" for p in pictures)
    assert [line["event_type"] for line in lines if line["file"] not in pictures] == ["check.rejected"]
