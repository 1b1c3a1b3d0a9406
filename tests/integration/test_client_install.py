"""`pip install clients/python` into a fresh virtual environment pulls boto3's closure and no media
stack. Needs a package index: where none is reachable (CI runs the tests with loopback only), the
test is skipped with a banner saying so."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.integration

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
UNREACHABLE_BANNER = "NO PACKAGE INDEX REACHABLE, THE CLEAN INSTALL OF THE LIGHT CLIENT DID NOT RUN"
HEAVY = {"numpy", "pillow", "av", "pillow-heif", "hashmatch"}


def _index_problem() -> str | None:
    index = urlparse(os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple")
    host, port = index.hostname or "pypi.org", index.port or (443 if index.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as error:
        return f"{host}:{port}: {error}"
    return None


def test_a_clean_install_of_the_client_pulls_no_media_stack(tmp_path: Path) -> None:
    problem = _index_problem()
    if problem:
        pytest.skip(f"{UNREACHABLE_BANNER}: {problem}")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    # From a copy: setuptools builds in the source folder (build/, *.egg-info).
    source = shutil.copytree(CLIENT, tmp_path / "client", ignore=shutil.ignore_patterns("__pycache__", "build"))
    subprocess.run([*pip, "install", "--quiet", str(source)], check=True, timeout=600)
    listed = subprocess.run([*pip, "list", "--format", "json"], check=True, capture_output=True, text=True)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert {"hashmatch-client", "boto3"} <= installed
    assert installed & HEAVY == set(), f"installed with the client: {sorted(installed & HEAVY)}"
    subprocess.run([str(python), "-c", "import hashmatch_client"], check=True, timeout=60, cwd=tmp_path)
