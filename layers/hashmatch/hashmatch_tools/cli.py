"""The `hashmatch` command: hash files, run the local stack, and act as a member platform.

    hashmatch hash [--for-check | --for-share] FILE...
    hashmatch demo
    hashmatch share --platform P [--label L]... FILE...
    hashmatch check --platform P [--by-hash] [--wait SECONDS] FILE_OR_HASH_LIST...
    hashmatch withdraw --platform P HASH_OR_FILE...
    hashmatch subscribe --platform P [--filter-labels L...] [--events E...] [--queue-name N]
    hashmatch inbox --platform P
    hashmatch dlq list|replay [--message-id ID]...
    hashmatch purge --platform P [--before TIME]
    hashmatch local [--port N] [--no-retroactive]
    hashmatch export --format jsonl|csv|threatexchange [--label L] [--contributor P] [--since T] [--output FILE]
    hashmatch taxonomy
    hashmatch feedback --platform P ITEM_OR_NOTIFICATION_ID --confirm|--dispute [--reason TEXT]
    hashmatch operator quarantine|restore|remove|benign ID_OR_HASH... --reason TEXT
    hashmatch audit [--item ID] [--platform P] [--since T]
    hashmatch report [--since T] [--format md|json] [--platform P] [--chart PATH]
    hashmatch incident open|escalate|close ID [--title T] [--label L]... [--reason R] (--platform P | --operator NAME)
    hashmatch incident status ID [--chart PATH]

share/check/withdraw/inbox talk to the local stack (`AWS_ENDPOINT_URL` or `--endpoint-url`)
or to a deployed stack (`--stack-name`, resolved through CloudFormation outputs).

Every file gets its own JSON line on stdout, whatever happens to the others. Exit codes:
0 every file answered; 1 some file was rejected, unreadable or unanswered in time (its line says
why); 2 the command line was wrong; 3 AWS or the network failed (the message says how).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hashmatch import __version__
from hashmatch.aws.lookup import LookupApiError
from hashmatch.governance.taxonomy import TaxonomyError, taxonomy
from hashmatch.media.model import Rejected
from hashmatch_tools.client import Clients, Coalition, UnknownPlatform
from hashmatch_tools.export import add_export_command, export_command
from hashmatch_tools.governing import add_governance_commands

EXIT_OK, EXIT_SOME_FILES_FAILED, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3
# A member in an AWS account of its own: the coalition role it acts through, and the external id.
COALITION_ROLE_VARIABLE = "HASHMATCH_COALITION_ROLE_ARN"
EXTERNAL_ID_VARIABLE = "HASHMATCH_EXTERNAL_ID"


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True, ensure_ascii=False), flush=True)


def _file_error(name: str, code: str, message: str) -> dict[str, Any]:
    return {"file": name, "error": {"code": code, "message": message}}


def _hash_records(
    files: Sequence[str], mode: str | None, candidates: Any, content_ids: Sequence[str] | None = None
) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(file, record, error) for each file, in order: what `hash` prints for it, or why it could
    not. For a check, the coalition is asked for the uneven-crop candidates of `FILES_PER_REQUEST` files
    at a time (one request, not one per file)."""
    from hashmatch.aws.lookup import FILES_PER_REQUEST
    from hashmatch.edge.ingest import check_line, refine_many
    from hashmatch.media.codec import hashes_to_json

    batch = FILES_PER_REQUEST if mode == "check" else 1
    for start in range(0, len(files), batch):
        hashed = [
            (position, *_hashed(files[position], mode)) for position in range(start, min(start + batch, len(files)))
        ]
        refined = iter(refine_many([h for _, h, _ in hashed if h is not None], candidates) if mode == "check" else [])
        for position, hashes, error in hashed:
            name = files[position]
            if hashes is None:
                yield name, None, error
            elif mode is None:
                yield name, _plain_record(name, hashes), None
            elif mode == "share":
                yield name, {"file": name, **hashes_to_json(replace(hashes, uneven_crops=None))}, None
            else:
                content_id = content_ids[position] if content_ids else Path(name).name
                record, left_out = check_line(next(refined), {"file": name, "content_id": content_id})
                if left_out:
                    print(f"hashmatch: {name}: too long for one line of a check list: {left_out}", file=sys.stderr)
                yield name, record, None


def _hashed(name: str, mode: str | None) -> tuple[Any, dict[str, Any] | None]:
    """(hashes, None), or (None, the error to print)."""
    from hashmatch.media.hashing import hash_file

    try:
        return hash_file(name, for_sharing=mode == "share"), None
    except Rejected as rejected:
        return None, _file_error(name, rejected.reason.value, rejected.message)
    except OSError as error:
        return None, _file_error(name, "unreadable", error.strerror or str(error))


def _plain_record(name: str, hashes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"file": name, "media": hashes.media, "signals": hashes.signals}
    if hashes.pdq_quality is not None:
        record["pdq_quality"] = hashes.pdq_quality
    if hashes.frames:
        record["frames"] = [{"offset": f.offset, "pdq": f.pdq, "quality": f.quality} for f in hashes.frames]
    if hashes.duration is not None:
        record["duration"] = hashes.duration
    return record


def hash_command(args: argparse.Namespace) -> int:
    mode = "check" if args.for_check else "share" if args.for_share else None
    candidates = None
    if mode == "check":
        if args.endpoint_url or args.stack_name or os.environ.get("AWS_ENDPOINT_URL"):
            candidates = _coalition(args, need_platform=False).candidates()
        if candidates is None:
            print(
                "hashmatch: no lookup API given (--endpoint-url or --stack-name): these hashes carry no "
                "uneven-crop search, so copies cut unevenly on every side may be missed",
                file=sys.stderr,
            )
    failures = 0
    for _name, record, error in _hash_records(args.files, mode, candidates):
        failures += error is not None
        _print(error if error is not None else record or {})
    return EXIT_SOME_FILES_FAILED if failures else EXIT_OK


def _coalition(args: argparse.Namespace, *, need_platform: bool = True) -> Coalition:
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if args.stack_name:
        platform = getattr(args, "platform", None)
        inbox = getattr(args, "inbox_queue_url", None)
        inboxes = {platform: inbox} if platform and inbox else {}
        clients = Clients(endpoint, args.region, args.coalition_role_arn, args.external_id)
        return Coalition.deployed(args.stack_name, clients, inboxes)
    if not endpoint:
        raise UsageError("say where the stack is: --stack-name NAME, or --endpoint-url / AWS_ENDPOINT_URL for local")
    coalition = Coalition.local(endpoint)
    platform, inbox = getattr(args, "platform", None), getattr(args, "inbox_queue_url", None)
    if platform and inbox:
        coalition.inbox_urls[platform] = inbox
    return coalition


def _governance_command(run: Callable[[argparse.Namespace, Coalition], int], args: argparse.Namespace) -> int:
    return run(args, _coalition(args, need_platform=False))


class UsageError(Exception):
    """A command line that cannot be carried out as given."""


def taxonomy_command(args: argparse.Namespace) -> int:
    """The coalition's labels, one JSON line each, as the functions validate shares against them."""
    scheme = taxonomy()
    for label in scheme.labels:
        _print({**label.to_json(), "taxonomy_version": scheme.version})
    return EXIT_OK


def share_command(args: argparse.Namespace) -> int:
    scheme = taxonomy()
    try:
        # Checked here too so a typo is a usage error before anything is uploaded; the coalition
        # validates every share again (`share.rejected`, reason invalid_label).
        scheme.canonical_labels(args.label)
        scheme.severity(args.severity)
        scheme.confidence(args.confidence)
    except TaxonomyError as error:
        raise UsageError(str(error)) from None
    coalition = _coalition(args)
    metadata = {"labels": ",".join(args.label)} if args.label else {}
    for name, value in (
        ("severity", args.severity),
        ("confidence", args.confidence),
        ("incident", args.incident),
        ("note", args.note),
    ):
        if value:
            metadata[name] = value
    failures = 0
    for name in args.files:
        body = _read_file(name)
        if body is None:
            failures += 1
            continue
        key = coalition.put("share", args.platform, name, body, metadata)
        _print({"file": name, "key": key, "bucket": coalition.bucket})
    return EXIT_SOME_FILES_FAILED if failures else EXIT_OK


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
    return EXIT_OK


def _is_check_list(path: Path) -> bool:
    """A JSON Lines hash list (as `hash --for-check` prints), told apart from media by content."""
    try:
        with path.open("rb") as stream:
            head = stream.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def check_command(args: argparse.Namespace) -> int:
    coalition = _coalition(args)
    if args.content_id and len(args.content_id) != len(args.files):
        raise UsageError(f"--content-id was given {len(args.content_id)} times for {len(args.files)} files")
    lists = [name for name in args.files if _is_check_list(Path(name))]
    media = [name for name in args.files if name not in lists]
    failures = 0
    if args.by_hash and media:
        failures += _check_by_hash(args, coalition, media)
    elif media:
        failures += _check_media(args, coalition, media)
    for name in lists:
        failures += _check_list(args, coalition, name, Path(name).read_bytes(), _list_names(Path(name)))
    return EXIT_SOME_FILES_FAILED if failures else EXIT_OK


def _read_file(name: str) -> bytes | None:
    """The file's bytes, or None when it cannot be read (its error line is printed)."""
    try:
        return Path(name).read_bytes()
    except OSError as error:
        _print(_file_error(name, "unreadable", error.strerror or str(error)))
        return None


def _content_id(args: argparse.Namespace, name: str) -> str:
    if args.content_id:
        return str(args.content_id[args.files.index(name)])
    return Path(name).name


def _check_media(args: argparse.Namespace, coalition: Coalition, files: list[str]) -> int:
    """Upload each file; with --wait, print each verdict. The number of files not answered."""
    names, failures = {}, 0
    for name in files:
        body = _read_file(name)
        if body is None:
            failures += 1
            continue
        key = coalition.put("check", args.platform, name, body, {"content-id": _content_id(args, name)})
        names[key] = name
        if not args.wait:
            _print({"file": name, "key": key, "bucket": coalition.bucket})
    if not args.wait:
        return failures
    for verdict in coalition.verdicts(args.platform, set(names), timeout=args.wait):
        failures += verdict["event_type"] in ("check.rejected", "check.expired")
        _print({"file": names.pop(verdict["object"]["key"]), **verdict})
    for key, name in names.items():
        _print({**_file_error(name, "timeout", f"no verdict in {args.wait}s"), "key": key})
    return failures + len(names)


def _check_by_hash(args: argparse.Namespace, coalition: Coalition, files: list[str]) -> int:
    """Hash the files here (media never leaves this machine), upload one check list of their hashes."""
    content_ids = [_content_id(args, name) for name in files]
    lines, names, failures = [], {}, 0
    for name, record, error in _hash_records(files, "check", coalition.candidates(), content_ids):
        if error is not None:
            failures += 1
            _print(error)
            continue
        assert record is not None
        record.pop("file", None)
        lines.append(json.dumps(record, separators=(",", ":")))
        names[len(lines)] = name
    if not lines:
        return failures
    body = ("\n".join(lines) + "\n").encode()
    return failures + _check_list(args, coalition, "by-hash.jsonl", body, names)


def _list_names(path: Path) -> dict[int, str]:
    """Line number -> the name an entry of a saved check list goes by (its file, else content id)."""
    names = {}
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                names[number] = str(record.get("file") or record.get("content_id") or f"{path.name}:{number}")
    return names


def _check_list(args: argparse.Namespace, coalition: Coalition, name: str, body: bytes, names: dict[int, str]) -> int:
    """Upload a check list; with --wait, print one verdict line per entry. Entries not answered."""
    key = coalition.put("check", args.platform, name, body, {"content-id": name})
    if not args.wait:
        _print({"file": name, "key": key, "bucket": coalition.bucket, "entries": len(names)})
        return 0
    pending = dict(names)
    failures = 0
    for verdict in coalition.list_verdicts(args.platform, key, timeout=args.wait):
        line = verdict.get("entry", {}).get("line")
        if line is None:  # the whole list was rejected or expired
            _print({"file": name, **verdict})
            return len(pending)
        failures += verdict["event_type"] != "match.found" and verdict["event_type"] != "check.clean"
        _print({"file": pending.pop(line, f"{name}:{line}"), **verdict})
    for line, entry_name in pending.items():
        _print({**_file_error(entry_name, "timeout", f"no verdict in {args.wait}s"), "key": key, "line": line})
    return failures + len(pending)


def dlq_command(args: argparse.Namespace) -> int:
    """Operators: list the parked dead letters, or replay them to the queues they came from."""
    coalition = _coalition(args, need_platform=False)
    parked = coalition.parked(limit=args.limit)
    chosen = [m for m in parked if not args.message_id or m["message_id"] in args.message_id]
    for message in chosen:
        record = {k: v for k, v in message.items() if k != "receipt_handle"}
        if args.action == "replay":
            coalition.replay(message)
            record["replayed"] = True
        _print(record)
    coalition.release([m for m in parked if args.action == "list" or m not in chosen])
    return EXIT_OK


def subscribe_command(args: argparse.Namespace) -> int:
    try:
        # Notifications carry taxonomy ids, so a filter on an alias ("terrorism") filters on its id.
        labels = list(taxonomy().canonical_labels(args.filter_labels))
    except TaxonomyError as error:
        raise UsageError(str(error)) from None
    subscribed = _coalition(args).subscribe(
        args.platform, labels=labels, events=args.events, queue_name=args.queue_name
    )
    _print(subscribed)
    return EXIT_OK


def inbox_command(args: argparse.Namespace) -> int:
    for notification in _coalition(args).notifications(args.platform, wait_seconds=args.wait):
        _print(notification)
    return EXIT_OK


def local_command(args: argparse.Namespace) -> int:
    from hashmatch_tools.local.stack import LocalStack

    stack = LocalStack(port=args.port, retroactive=not args.no_retroactive).start()
    print(f"hashmatch local stack on {stack.endpoint}", flush=True)
    print(f"export AWS_ENDPOINT_URL={stack.endpoint}", flush=True)
    print(f"lookup API: {stack.api_endpoint}", flush=True)
    print(f"ingest bucket: {stack.outputs['IngestBucketName']}; platforms: {', '.join(stack.platforms)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return EXIT_OK


def demo_command(args: argparse.Namespace) -> int:
    from hashmatch_tools.demo import run_demo

    return run_demo(port=args.port)


def _iso_time(text: str) -> str:
    """An ISO 8601 time as the retained checks' keys compare it (UTC, milliseconds, Z)."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def incident_command(args: argparse.Namespace) -> int:
    """Open, escalate or close an incident as a member (``incident/<platform>/``) or an operator
    (``operator/``), or show its status; the coalition answers on the topics (`incident.*`)."""
    if args.verb == "status":
        return _incident_status(args)
    if bool(args.platform) == bool(args.operator):
        raise UsageError(f"incident {args.verb}: say who asks, --platform P (a member) or --operator NAME")
    request: dict[str, Any] = {"action": args.verb, "incident": args.incident}
    if args.verb == "open":
        if not args.title:
            raise UsageError("incident open: --title is required (every member sees it)")
        try:
            taxonomy().canonical_labels(args.label)
        except TaxonomyError as error:
            raise UsageError(str(error)) from None
        request.update(title=args.title, labels=list(args.label))
    coalition = _coalition(args)
    if args.operator:
        if not args.reason:
            raise UsageError("an operator's request goes on the record with its reason: --reason")
        request.update(action=f"incident-{args.verb}", operator=args.operator, reason=args.reason)
        key = coalition.put_operator(f"incident-{args.verb}.json", json.dumps(request).encode())
    else:
        if args.reason:
            request["note"] = args.reason
        key = coalition.put("incident", args.platform, f"{args.verb}.json", json.dumps(request).encode())
    _print({"key": key, "bucket": coalition.bucket, "request": request})
    return EXIT_OK


def _incident_status(args: argparse.Namespace) -> int:
    from hashmatch_tools.incident_chart import draw_chart, status_lines

    bank = _coalition(args, need_platform=False).bank()
    incident = bank.get_incident(args.incident)
    if incident is None:
        print(f"hashmatch: no incident {args.incident!r} was opened", file=sys.stderr)
        return EXIT_SOME_FILES_FAILED
    counts = bank.incident_counts(args.incident)
    for line in status_lines(incident, counts):
        print(line)
    chart = draw_chart(incident, counts, args.chart or f"incident-{args.incident}.png")
    print(f"\nchart: {chart}", flush=True)
    return EXIT_OK


def purge_command(args: argparse.Namespace) -> int:
    from hashmatch.aws.retained import DynamoRetainedChecks
    from hashmatch.aws.retained_shards import S3RetainedShards, ShardedRetainedChecks
    from hashmatch.service.retroactive import RetainedChecks

    coalition = _coalition(args)
    if args.platform not in coalition.platforms:
        raise UnknownPlatform(f"unknown platform {args.platform!r}; members: {', '.join(coalition.platforms)}")
    table = coalition.clients.resource("dynamodb").Table(coalition.outputs["BankTableName"])
    retained: RetainedChecks = DynamoRetainedChecks(table)
    if coalition.outputs.get("RetainedBucketName"):
        # Compacted checks too: the platform's shards wholly before --before are deleted, the one it
        # falls in rewritten without them.
        shards = S3RetainedShards(coalition.outputs["RetainedBucketName"], coalition.clients("s3"))
        retained = ShardedRetainedChecks(DynamoRetainedChecks(table), shards)
    purged = retained.purge(args.platform, args.before)
    _print({"platform": args.platform, "purged": purged, "before": args.before})
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashmatch",
        description="Catch re-uploads of harmful media by sharing hashes.",
        epilog="Exit codes: 0 every file answered; 1 some file rejected, unreadable or unanswered; "
        "2 usage error; 3 AWS or network error.",
    )
    parser.add_argument("--version", action="version", version=f"hashmatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def where(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--endpoint-url", help="the local stack's endpoint (default: AWS_ENDPOINT_URL)")
        sub.add_argument("--stack-name", help="a deployed stack, found through its CloudFormation outputs")
        sub.add_argument("--region", help="the deployed stack's AWS region (default: AWS_DEFAULT_REGION)")
        sub.add_argument(
            "--coalition-role-arn",
            default=os.environ.get(COALITION_ROLE_VARIABLE),
            help="a member in an AWS account of its own: the role the coalition made for it (the stack's "
            f"MemberRole<platform>Arn output; default: {COALITION_ROLE_VARIABLE}); its queues stay in its own account",
        )
        sub.add_argument(
            "--external-id",
            default=os.environ.get(EXTERNAL_ID_VARIABLE),
            help=f"the external id the coalition gave its members (default: {EXTERNAL_ID_VARIABLE})",
        )

    hash_parser = commands.add_parser("hash", help="print the hashes of files as JSON lines")
    mode = hash_parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--for-check",
        action="store_true",
        help="each file's full query set (rotations, framings, uneven-crop search), to check by hash",
    )
    mode.add_argument(
        "--for-share", action="store_true", help="each file's hashes and stored framings, to share by hash list"
    )
    hash_parser.add_argument("files", nargs="+", metavar="FILE", help="images or videos")
    where(hash_parser)

    commands.add_parser("taxonomy", help="print the coalition's labels (id, definition, scope), one JSON line each")

    local = commands.add_parser("local", help="run the local stack in the foreground")
    local.add_argument("--port", type=int, default=4566, help="the AWS emulation's port on 127.0.0.1 (default 4566)")
    local.add_argument(
        "--no-retroactive",
        action="store_true",
        help="members do not retain their checks (by default here every member opts in to retroactive matching)",
    )

    demo = commands.add_parser("demo", help="the whole story on a fresh local stack")
    demo.add_argument("--port", type=int, default=0, help="the AWS emulation's port (default: any free one)")

    def remote(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--platform", required=True, help="the member platform acting")
        where(sub)
        return sub

    share = remote("share", "share files (media or hash lists) with the coalition")
    share.add_argument(
        "--label",
        action="append",
        default=[],
        help="a label of the shared item from the coalition's taxonomy (repeatable; `hashmatch taxonomy` lists them)",
    )
    share.add_argument("--severity", help=f"how severe the shared item is: {', '.join(taxonomy().severities)}")
    share.add_argument("--confidence", help=f"how sure you are it is in scope: {', '.join(taxonomy().confidences)}")
    share.add_argument(
        "--incident", help="an open incident the item belongs to (`hashmatch incident open`; else share.rejected)"
    )
    share.add_argument("--note", help="a note for the other members")
    share.add_argument("files", nargs="+", metavar="FILE", help="media, or hash lists")

    check = remote("check", "check files against the shared bank")
    check.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for and print each verdict")
    check.add_argument(
        "--by-hash", action="store_true", help="hash the files here and upload only their hashes, never the media"
    )
    check.add_argument(
        "--content-id", action="append", help="the platform's own id of each file, in order (default: the file name)"
    )
    check.add_argument(
        "--inbox-queue-url", help="an SQS queue subscribed to the platform topic (default: the one `subscribe` made)"
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="media, or check lists made by `hash --for-check`")

    withdraw = remote("withdraw", "withdraw hashes this platform shared")
    withdraw.add_argument("targets", nargs="+", metavar="HASH_OR_FILE", help="signal:hex, bare hex, or a file")

    dlq = commands.add_parser("dlq", help="operators: dead letters whose platform was told they failed")
    dlq.add_argument("action", choices=["list", "replay"], help="list them, or send them back to their queue")
    dlq.add_argument("--message-id", action="append", help="only these messages (repeatable; default: all)")
    dlq.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    where(dlq)

    add_export_command(commands, where)
    parser.set_defaults(governance=add_governance_commands(commands, where))

    purge = remote("purge", "delete the checks this platform retained for retroactive matching, at once")
    purge.add_argument(
        "--before", type=_iso_time, metavar="TIME", help="only checks made before TIME (ISO 8601; default: all)"
    )

    subscribe = remote(
        "subscribe", "create an SQS queue (with the right policy) subscribed to the platform's topic; prints its URL"
    )
    subscribe.add_argument(
        "--filter-labels",
        nargs="+",
        default=[],
        metavar="LABEL",
        help="only notifications carrying one of these labels",
    )
    subscribe.add_argument(
        "--events",
        nargs="+",
        default=[],
        metavar="EVENT",
        help="only these event types (match.found, check.clean, hash.shared, ...; default: all)",
    )
    subscribe.add_argument(
        "--queue-name", help="the queue's name (default <stack>-inbox-<platform>, which check --wait and inbox find)"
    )

    incident = commands.add_parser(
        "incident", help="open, escalate or close an incident (shares name it), or show its status and match counts"
    )
    incident.add_argument("verb", choices=["open", "escalate", "close", "status"], help="what to do")
    incident.add_argument("incident", metavar="ID", help="the incident's id, e.g. inc-7 (shares name it: --incident)")
    incident.add_argument("--title", help="open: what happened (every member sees it)")
    incident.add_argument("--label", action="append", default=[], help="open: a taxonomy label (repeatable)")
    incident.add_argument("--reason", help="why: a member's note, or an operator's reason (required for operators)")
    who = incident.add_mutually_exclusive_group()
    who.add_argument("--platform", help="the member platform asking")
    who.add_argument("--operator", metavar="NAME", help="the operator asking (drops under operator/)")
    incident.add_argument(
        "--chart", metavar="PATH", help="status: where to write the PNG chart (default incident-ID.png)"
    )
    where(incident)

    inbox = remote("inbox", "print the notifications the platform received")
    inbox.add_argument("--wait", type=float, default=2, metavar="SECONDS", help="how long to wait for more")
    inbox.add_argument(
        "--inbox-queue-url", help="an SQS queue subscribed to the platform topic (default: the one `subscribe` made)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {
        "hash": hash_command,
        "local": local_command,
        "demo": demo_command,
        "share": share_command,
        "check": check_command,
        "withdraw": withdraw_command,
        "inbox": inbox_command,
        "dlq": dlq_command,
        "export": lambda a: export_command(a, _coalition(a, need_platform=False).bank()),
        "purge": purge_command,
        "subscribe": subscribe_command,
        "taxonomy": taxonomy_command,
        "incident": incident_command,
    }
    if args.command in args.governance:
        handlers[args.command] = partial(_governance_command, args.governance[args.command])
    try:
        return handlers[args.command](args)
    except (UnknownPlatform, UsageError) as error:
        print(f"hashmatch: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (BotoCoreError, ClientError, LookupApiError) as error:
        print(f"hashmatch: {error}", file=sys.stderr)
        return EXIT_AWS


if __name__ == "__main__":
    sys.exit(main())
