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
