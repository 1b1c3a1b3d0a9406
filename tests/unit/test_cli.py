from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashmatch_tools.cli import main
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit


def test_hash_prints_a_json_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture, text = tmp_path / "a.jpg", tmp_path / "b.jpg"
    picture.write_bytes(jpeg_bytes(scene(1, (320, 240))))
    text.write_text("not a picture")
    assert main(["hash", str(picture), str(text), str(tmp_path / "missing.jpg")]) == 1
    first, second, third = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["media"] == "image" and set(first["signals"]) == {"sha256", "md5", "pdq", "phash"}
    assert second == {"file": str(text), "error": {"code": "unsupported_media", "message": second["error"]["message"]}}
    assert third["error"]["code"] == "unreadable"


def test_remote_commands_say_where_the_stack_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert main(["inbox", "--platform", "tiktok"]) == 2  # a usage error
    assert "--stack-name" in capsys.readouterr().err


def test_an_unreachable_stack_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inbox", "--platform", "tiktok", "--endpoint-url", "http://127.0.0.1:9"]) == 3  # AWS / network
    assert "hashmatch:" in capsys.readouterr().err


def test_hash_for_check_prints_the_full_query_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    picture = tmp_path / "видео 1.jpg"
    picture.write_bytes(jpeg_bytes(scene(2, (320, 240))))
    assert main(["hash", "--for-check", str(picture)]) == 0
    captured = capsys.readouterr()
    (record,) = (json.loads(line) for line in captured.out.splitlines())
    assert record["content_id"] == "видео 1.jpg" and record["media"] == "image"
    labels = {query[1] for query in record["queries"]}  # [signal, label, hash] or with a region
    assert {"rotate_90", "whole", "whole+middle_band"} <= labels
    assert "uneven-crop search" in captured.err  # said loudly: no lookup API was given


def test_version_and_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out.startswith("hashmatch ")
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = capsys.readouterr().out
    assert "--by-hash" in text and "--content-id" in text and "--wait" in text


def test_hash_for_check_asks_about_many_files_at_once_and_keeps_their_order(tmp_path: Path) -> None:
    from hashmatch.bank.model import Provenance
    from hashmatch.edge.ingest import refine
    from hashmatch.index.bank_index import BankIndex
    from hashmatch.matching.matcher import Matcher
    from hashmatch.media.codec import hashes_to_json
    from hashmatch.media.hashing import hash_file
    from hashmatch.service.service import item_from_media
    from hashmatch_tools.cli import _hash_records
    from hashmatch_tools.fakes import MemoryBank

    original = scene(5, (640, 480))
    shared = tmp_path / "shared.jpg"
    shared.write_bytes(jpeg_bytes(original))
    bank = MemoryBank()
    bank.put_items([item_from_media(hash_file(shared, for_sharing=True), Provenance("tiktok", "2026-01-01T00:00:00Z"))])
    matcher = Matcher(bank, BankIndex())
    asked: list[int] = []

    class Counting:
        def uneven_crop_candidates(self, keys, grid_hashes):  # type: ignore[no-untyped-def]
            raise AssertionError("asked one file at a time")

        def uneven_crop_candidates_many(self, grids):  # type: ignore[no-untyped-def]
            asked.append(len(grids))
            return matcher.uneven_crop_candidates_many(grids)

    files = []
    for n, (a, b, c, d) in enumerate([(0.08, 0.01, 0.98, 0.93), (0.02, 0.09, 0.9, 0.97), (0.1, 0.1, 0.95, 0.9)]):
        path = tmp_path / f"cut{n}.jpg"
        path.write_bytes(jpeg_bytes(original.crop((round(a * 640), round(b * 480), round(c * 640), round(d * 480)))))
        files.append(str(path))
    files.insert(1, str(tmp_path / "missing.jpg"))
    records = list(_hash_records(files, "check", Counting()))
    assert asked == [3], "one question for the three readable files"
    assert [name for name, _, _ in records] == files
    assert records[1][1] is None and records[1][2] is not None and records[1][2]["error"]["code"] == "unreadable"
    for name, record, _ in (records[0], *records[2:]):
        alone = hashes_to_json(refine(hash_file(name), matcher))
        assert record == {"file": name, **alone, "content_id": Path(name).name}
    assert any(q[1].startswith("uneven_crop") for _, r, _ in records if r for q in r["queries"])
