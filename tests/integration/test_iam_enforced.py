"""The IAM-enforced checks (`tests/integration/iam/`), each module run by pytest in a process of
its own.

moto enforces IAM through process-wide state: a count of unauthenticated requests
(`set_initial_no_auth_action_count`) and the authentication of every request it serves. A local
stack's moto server running in the same test process (the e2e stack lives for a whole xdist
worker) would spend that count and have its own requests refused while enforcement is on, so
these checks never share a process with one. Nor its environment: a local stack started in the
calling process sets `AWS_ENDPOINT_URL` (and credentials) for its functions, which would send the
child's clients to that server instead of moto's in-process mock.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHECKS = Path(__file__).resolve().parent / "iam"
ROOT = Path(__file__).resolve().parents[2]


def _clean_environment() -> dict[str, str]:
    """This process's environment without any AWS setting, with moto's stand-in credentials."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return {
        **kept,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.mark.parametrize(
    ("module", "tests"), [("audit_log_checks.py", 5), ("member_access_checks.py", 4), ("member_flow_checks.py", 3)]
)
def test_iam_enforced_checks_pass_in_a_process_of_their_own(module: str, tests: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(CHECKS / module)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=_clean_environment(),
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(rf"\b{tests} passed\b", summary) and "skipped" not in summary, summary
