"""`hashmatch demo`, as `make demo` runs it: a fresh local stack in its own process, every verdict as expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


def test_the_demo_ends_with_every_verdict_as_expected(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from hashmatch_tools.cli import main; raise SystemExit(main(['demo']))"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "All verdicts as expected" in done.stdout
    for upload in ("cropped-unevenly.jpg", "meme-text.jpg", "mirrored-letterboxed.mp4", "unrelated.jpg"):
        assert f"ok  {upload}" in done.stdout, done.stdout
    # The retroactive part of the story: a copy checked clean before the share, reported after it.
    assert "ok  early-post.jpg" in done.stdout and "check.clean" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if "earlier check now matches" in line]
    assert line.strip().startswith("ok") and "match.found" in line and "retroactive: post-1001" in line, line
    # The transparency report on the demo's bank: items by label, matches by label, and its chart.
    assert "| graphic-violence | 1 | 0 | 0 | 0 | 0 |" in done.stdout, done.stdout[-3000:]
    assert "| suicide-self-harm | 1 | 0 | 0 | 0 | 0 |" in done.stdout
    (matched,) = [line for line in done.stdout.splitlines() if "| graphic-violence | all members |" in line]
    assert int(matched.strip(" |").split("|")[-1]) >= 6, matched
    with Image.open(tmp_path / "hashmatch-demo-report.png") as chart:
        assert chart.format == "PNG" and chart.size == (900, 420)
