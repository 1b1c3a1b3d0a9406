"""schemathesis against the local stack's lookup API (`make api-fuzz`): requests generated from
openapi/lookup.yaml, every answer checked against it, with openapi/schemathesis.toml's settings.

    .venv/bin/python .ci/api_fuzz.py --st .venv-schemathesis/bin/st [--max-time 120]

schemathesis lives in a virtual environment of its own (it pins what the project's tools would
not); it only speaks HTTP to the local stack this script starts on 127.0.0.1. Exit status:
schemathesis's (0 when no check failed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from hashmatch_tools.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--st", default=str(ROOT / ".venv-schemathesis" / "bin" / "st"), help="schemathesis's CLI")
    parser.add_argument("--max-time", type=int, default=120, help="seconds of generated requests")
    args = parser.parse_args()
    stack = LocalStack(root=ROOT, parameters={"LogLevel": "ERROR"}).start(poll=False)
    try:
        command = [
            args.st,
            "--config-file",
            str(ROOT / "openapi" / "schemathesis.toml"),
            "run",
            str(ROOT / "openapi" / "lookup.yaml"),
            "--url",
            stack.api_endpoint,
            "--max-time",
            str(args.max_time),
            "--phases",
            "examples,coverage,fuzzing",
        ]
        return subprocess.call(command, cwd=ROOT)  # the config names its hooks file from here
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
