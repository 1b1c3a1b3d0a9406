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
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch.media import Rejected


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)


def hash_command(files: Sequence[str]) -> int:
    from hashmatch.hashing import hash_file

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


@dataclass
class Deployment:
    """Where a member platform drops files and reads notifications."""

    bucket: str
    platforms: list[str]
    clients: Any
    inbox_urls: dict[str, str]

    def inbox(self, platform: str) -> str:
        if platform not in self.inbox_urls:
            raise SystemExit(
                f"no inbox queue for {platform}: subscribe an SQS queue to its topic and pass --inbox-queue-url"
            )
        return self.inbox_urls[platform]


class _Clients:
    def __init__(self, endpoint: str | None, region: str | None) -> None:
        import boto3

        self._session = boto3.session.Session(region_name=region or os.environ.get("AWS_DEFAULT_REGION"))
        self._endpoint = endpoint
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._session.client(service, endpoint_url=self._endpoint)
        return self._made[service]


def _deployment(args: argparse.Namespace) -> Deployment:
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if args.stack_name:
        clients = _Clients(endpoint, args.region)
        stacks = clients("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        inboxes = {args.platform: args.inbox_queue_url} if getattr(args, "inbox_queue_url", None) else {}
        return Deployment(outputs["IngestBucketName"], outputs["PlatformList"].split(","), clients, inboxes)
    if not endpoint:
        raise SystemExit("say where the stack is: --stack-name NAME, or --endpoint-url / AWS_ENDPOINT_URL for local")
    from hashmatch.local.stack import DEFAULT_STACK_NAME, LOCAL_CREDENTIALS, inbox_queue_name, project_root
    from hashmatch.local.template import Stack

    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    clients = _Clients(endpoint, args.region)
    stack = Stack.from_file(project_root() / "template.yaml", DEFAULT_STACK_NAME, endpoint=endpoint)
    outputs = stack.outputs()
    platforms = list(stack.parameters["Platforms"])
    inboxes = {
        p: clients("sqs").get_queue_url(QueueName=inbox_queue_name(DEFAULT_STACK_NAME, p))["QueueUrl"]
        for p in platforms
    }
    return Deployment(outputs["IngestBucketName"], platforms, clients, inboxes)


def _require_platform(deployment: Deployment, platform: str) -> None:
    if platform not in deployment.platforms:
        raise SystemExit(f"unknown platform {platform!r}; members: {', '.join(deployment.platforms)}")


def _put(deployment: Deployment, key: str, body: bytes, metadata: dict[str, str]) -> None:
    deployment.clients("s3").put_object(Bucket=deployment.bucket, Key=key, Body=body, Metadata=metadata)


def _object_key(action: str, platform: str, name: str) -> str:
    return f"{action}/{platform}/{uuid.uuid4().hex[:12]}-{Path(name).name}"


def share_command(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    _require_platform(deployment, args.platform)
    metadata = {"labels": ",".join(args.label)} if args.label else {}
    for name, value in (("severity", args.severity), ("incident", args.incident), ("note", args.note)):
        if value:
            metadata[name] = value
    for name in args.files:
        key = _object_key("share", args.platform, name)
        _put(deployment, key, Path(name).read_bytes(), metadata)
        _print({"file": name, "key": key, "bucket": deployment.bucket})
    return 0


def withdraw_command(args: argparse.Namespace) -> int:
    from hashmatch.signals.digest import file_digests

    deployment = _deployment(args)
    _require_platform(deployment, args.platform)
    lines = []
    for target in args.targets:
        if Path(target).is_file():
            with Path(target).open("rb") as stream:
                lines.append(f"sha256:{file_digests(stream)['sha256']}")
        else:
            lines.append(target if ":" in target else target.lower())
    key = _object_key("withdraw", args.platform, "withdraw.txt")
    _put(deployment, key, ("\n".join(lines) + "\n").encode(), {})
    _print({"key": key, "hashes": lines})
    return 0


def check_command(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    _require_platform(deployment, args.platform)
    keys = {}
    for name in args.files:
        key = _object_key("check", args.platform, name)
        _put(deployment, key, Path(name).read_bytes(), {"content-id": Path(name).name})
        keys[key] = name
        if not args.wait:
            _print({"file": name, "key": key, "bucket": deployment.bucket})
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.wait
    pending = dict(keys)
    for notification in _read_inbox(deployment, args.platform, until=deadline, keys=set(pending)):
        name = pending.pop(notification["object"]["key"])
        _print({"file": name, **notification})
        if not pending:
            return 0
    for key, name in pending.items():
        _print({"file": name, "key": key, "error": {"code": "timeout", "message": f"no verdict in {args.wait}s"}})
    return 1


def _read_inbox(
    deployment: Deployment, platform: str, until: float, keys: set[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Notifications from the platform's inbox queue; with `keys`, only verdicts about those objects
    (others are left in the queue for the next reader)."""
    sqs = deployment.clients("sqs")
    url = deployment.inbox(platform)
    while time.monotonic() < until:
        wait = max(0, min(2, int(until - time.monotonic())))
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
        if not messages and keys is None:
            return
        for message in messages:
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"]) if "Message" in envelope else envelope
            wanted = keys is None or (
                body.get("event_type") in ("match.found", "check.clean", "check.rejected")
                and body.get("object", {}).get("key") in keys
            )
            if wanted:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                yield body
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def inbox_command(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    _require_platform(deployment, args.platform)
    for notification in _read_inbox(deployment, args.platform, until=time.monotonic() + args.wait):
        _print(notification)
    return 0


def local_command(args: argparse.Namespace) -> int:
    from hashmatch.local.stack import LocalStack

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
    from hashmatch.demo import run_demo

    return run_demo(port=args.port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hashmatch", description="Catch re-uploads of harmful media by sharing hashes.")
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
    args = _parser().parse_args(argv)
    handlers = {
        "hash": lambda: hash_command(args.files),
        "local": lambda: local_command(args),
        "demo": lambda: demo_command(args),
        "share": lambda: share_command(args),
        "check": lambda: check_command(args),
        "withdraw": lambda: withdraw_command(args),
        "inbox": lambda: inbox_command(args),
    }
    return handlers[args.command]()


if __name__ == "__main__":
    sys.exit(main())
