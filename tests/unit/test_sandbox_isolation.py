"""What a decoder exploited by a hostile file could reach: not the function's AWS credentials."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from hashmatch.edge.sandbox import Sandbox, decoder_environment
from hashmatch_tools.samples import jpeg_bytes, smooth_photo

_PR_GET_DUMPABLE = 3


def test_the_decoders_environment_holds_no_aws_variable() -> None:
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIA...",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "aws_profile": "default",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/creds",
        "PATH": "/usr/bin",
        "PYTHONPATH": "/opt/python",
    }
    kept = decoder_environment(environment)
    assert kept == {
        "PATH": "/usr/bin",
        "PYTHONPATH": "/opt/python",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and prctl, Linux only")
def test_the_fork_server_runs_without_the_credentials_and_cannot_read_them_from_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-in-a-decoder")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "never-in-a-decoder-either")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(smooth_photo(3, (320, 240))))
    sandbox = Sandbox()
    try:
        assert sandbox.hash(photo).signals["sha256"]
        server = sandbox._server
        assert server is not None
        environ = Path(f"/proc/{server.pid}/environ").read_bytes()
        assert b"never-in-a-decoder" not in environ and b"AWS_" not in environ
    finally:
        sandbox.close()
    # The parent is not dumpable: a process of the same user cannot read its environ.
    assert ctypes.CDLL(None).prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
