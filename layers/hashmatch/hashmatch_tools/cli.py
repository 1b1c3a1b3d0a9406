"""The `hashmatch` command: hash files, run the local stack, and act as a member platform.

    hashmatch hash FILE...
    hashmatch local [--port N]
    hashmatch demo
    hashmatch share --platform P [--label L]... FILE...
    hashmatch check --platform P [--wait SECONDS] FILE...
    hashmatch withdraw --platform P HASH_OR_FILE...
    hashmatch inbox --platform P

share/check/withdraw/inbox talk to the local stack (`AWS_ENDPOINT_URL` or `--endpoint-url`)
or to a deployed stack (`--stack-name`, resolved through CloudFormation outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hashmatch.media.model import Rejected
from hashmatch_tools.client import Clients, Coalition, UnknownPlatform


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)


def hash_command(files: Sequence[str]) -> int:
    from hashmatch.media.hashing import hash_file

    failures = 0
    for name in files:
        try:
            hashes = hash_file(name)
        except Rejected as rejected:
            failures += 1
            _print({"file": name, "error": {"code": rejected.reason.value, "message": rejected.message}})
            continue
        except OSError as error:
            failures += 1
            _print({"file": name, "error": {"code": "unreadable", "message": error.strerror or str(error)}})
            continue
        record: dict[str, Any] = {"file": name, "media": hashes.media, "signals": hashes.signals}
        if hashes.pdq_quality is not None:
            record["pdq_quality"] = hashes.pdq_quality
        if hashes.frames:
            record["frames"] = [{"offset": f.offset, "pdq": f.pdq, "quality": f.quality} for f in hashes.frames]
        if hashes.duration is not None:
            record["duration"] = hashes.duration
        _print(record)
    return 1 if failures else 0


def _coalition(args: argparse.Namespace) -> Coalition:
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if args.stack_name:
        inboxes = {args.platform: args.inbox_queue_url} if getattr(args, "inbox_queue_url", None) else {}
        return Coalition.deployed(args.stack_name, Clients(endpoint, args.region), inboxes)
    if not endpoint:
        raise SystemExit("say where the stack is: --stack-name NAME, or --endpoint-url / AWS_ENDPOINT_URL for local")
    return Coalition.local(endpoint)


def share_command(args: argparse.Namespace) -> int:
    coalition = _coalition(args)
    metadata = {"labels": ",".join(args.label)} if args.label else {}
    for name, value in (("severity", args.severity), ("incident", args.incident), ("note", args.note)):
        if value:
            metadata[name] = value
    for name in args.files:
        key = coalition.put("share", args.platform, name, Path(name).read_bytes(), metadata)
        _print({"file": name, "key": key, "bucket": coalition.bucket})
    return 0


def withdraw_command(args: argparse.Namespace) -> int:
    from hashmatch.signals.digest import file_digests

    coalition = _coalition(args)
    lines = []
    for target in args.targets:
        if Path(target).is_file():
            with Path(target).open("rb") as stream:
                lines.append(f"sha256:{file_digests(stream)['sha256']}")
        else:
            lines.append(target if ":" in target else target.lower())
    key = coalition.put("withdraw", args.platform, "withdraw.txt", ("\n".join(lines) + "\n").encode())
    _print({"key": key, "hashes": lines})
    return 0


def check_command(args: argparse.Namespace) -> int:
    coalition = _coalition(args)
    names = {}
    for name in args.files:
        key = coalition.put("check", args.platform, name, Path(name).read_bytes(), {"content-id": Path(name).name})
        names[key] = name
        if not args.wait:
            _print({"file": name, "key": key, "bucket": coalition.bucket})
    if not args.wait:
        return 0
    for verdict in coalition.verdicts(args.platform, set(names), timeout=args.wait):
        _print({"file": names.pop(verdict["object"]["key"]), **verdict})
    for key, name in names.items():
        _print({"file": name, "key": key, "error": {"code": "timeout", "message": f"no verdict in {args.wait}s"}})
    return 1 if names else 0


def inbox_command(args: argparse.Namespace) -> int:
    for notification in _coalition(args).notifications(args.platform, wait_seconds=args.wait):
        _print(notification)
    return 0


def local_command(args: argparse.Namespace) -> int:
    from hashmatch_tools.local.stack import LocalStack

    stack = LocalStack(port=args.port).start()
    print(f"hashmatch local stack on {stack.endpoint}", flush=True)
    print(f"export AWS_ENDPOINT_URL={stack.endpoint}", flush=True)
    print(f"ingest bucket: {stack.outputs['IngestBucketName']}; platforms: {', '.join(stack.platforms)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from hashmatch_tools.demo import run_demo

    return run_demo(port=args.port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashmatch", description="Catch re-uploads of harmful media by sharing hashes."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    hash_parser = commands.add_parser("hash", help="print the signals of files as JSON lines")
    hash_parser.add_argument("files", nargs="+", metavar="FILE")

    local = commands.add_parser("local", help="run the local stack in the foreground")
    local.add_argument("--port", type=int, default=4566)

    demo = commands.add_parser("demo", help="the whole story on a fresh local stack")
    demo.add_argument("--port", type=int, default=0)

    def remote(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--platform", required=True)
        sub.add_argument("--endpoint-url", help="the local stack (default: AWS_ENDPOINT_URL)")
        sub.add_argument("--stack-name", help="a deployed stack, resolved through CloudFormation outputs")
        sub.add_argument("--region")
        return sub

    share = remote("share", "share files (media or hash lists) with the coalition")
    share.add_argument("--label", action="append", default=[])
    share.add_argument("--severity")
    share.add_argument("--incident")
    share.add_argument("--note")
    share.add_argument("files", nargs="+", metavar="FILE")

    check = remote("check", "check files against the shared bank")
    check.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for and print each verdict")
    check.add_argument("--inbox-queue-url", help="with --stack-name: an SQS queue subscribed to the platform topic")
    check.add_argument("files", nargs="+", metavar="FILE")

    withdraw = remote("withdraw", "withdraw hashes this platform shared")
    withdraw.add_argument("targets", nargs="+", metavar="HASH_OR_FILE", help="signal:hex, bare hex, or a file")

    inbox = remote("inbox", "print the notifications the platform received")
    inbox.add_argument("--wait", type=float, default=2, metavar="SECONDS")
    inbox.add_argument("--inbox-queue-url", help="with --stack-name: an SQS queue subscribed to the platform topic")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {
        "hash": lambda: hash_command(args.files),
        "local": lambda: local_command(args),
        "demo": lambda: demo_command(args),
        "share": lambda: share_command(args),
        "check": lambda: check_command(args),
        "withdraw": lambda: withdraw_command(args),
        "inbox": lambda: inbox_command(args),
    }
    try:
        return handlers[args.command]()
    except UnknownPlatform as error:
        parser.error(str(error))
    except (OSError, BotoCoreError, ClientError) as error:
        print(f"hashmatch: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
