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


def test_remote_commands_say_where_the_stack_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(SystemExit, match="--stack-name"):
        main(["inbox", "--platform", "tiktok"])


def test_an_unreachable_stack_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inbox", "--platform", "tiktok", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "hashmatch:" in capsys.readouterr().err
