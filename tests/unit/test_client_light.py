"""The light client installs light: boto3 is its only dependency, and nothing it runs imports the
media stack (numpy, Pillow, PyAV) or hashmatch itself."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
HEAVY = ("numpy", "PIL", "av", "pillow_heif", "hashmatch", "hashmatch_tools")
# What the client may import besides the standard library and itself.
ALLOWED = {"boto3", "botocore", "hashmatch_client"}


def test_the_distribution_declares_boto3_and_nothing_else() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "hashmatch-client"
    assert [requirement.split(">")[0].split("=")[0].strip() for requirement in project["dependencies"]] == ["boto3"]
    assert "optional-dependencies" not in project


def test_the_client_source_imports_only_the_standard_library_and_boto3() -> None:
    sources = sorted((CLIENT / "hashmatch_client").glob("*.py"))
    assert sources
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED, f"{source.name} imports {name}"


def test_using_the_client_never_imports_the_media_stack() -> None:
    """In a fresh interpreter of this venv (where numpy, Pillow and PyAV are installed): import the
    client, parse a notification, make boto3 clients, and list what got imported."""
    script = """
import json, sys
import hashmatch_client
from hashmatch_client import Member, parse_notification
parse_notification({"schema_version": "2", "notification_id": "0" * 32, "event_type": "incident.opened",
    "platform": "reddit", "occurred_at": "2026-12-04T12:00:00Z", "incident": {"incident_id": "inc-1",
    "title": "t", "labels": [], "status": "open", "opened_by": "platform:reddit",
    "opened_at": "2026-12-04T12:00:00Z", "timeline": [{"at": "2026-12-04T12:00:00Z", "action": "opened",
    "by": "platform:reddit"}]}})
member = Member("reddit", "bucket", "https://sqs.us-east-1.amazonaws.com/1/q")
member.s3, member.sqs
print(json.dumps(sorted(sys.modules)))
"""
    environment = {
        **os.environ,
        "PYTHONPATH": str(CLIENT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        cwd=CLIENT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout.splitlines()[-1]))
    assert "boto3" in imported and "hashmatch_client" in imported
    heavy = sorted(name for name in imported if name.split(".")[0] in HEAVY)
    assert heavy == [], f"the client imported {heavy}"
