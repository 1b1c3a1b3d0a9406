"""The governance commands of the `hashmatch` CLI: feedback, operator, audit and report.

    hashmatch feedback --platform P ITEM_OR_NOTIFICATION_ID --confirm|--dispute [--reason TEXT]
    hashmatch operator quarantine|restore|remove ID --reason TEXT [--operator NAME] [--wait S]
    hashmatch operator benign HASH... --reason TEXT [--operator NAME] [--wait S]
    hashmatch audit [--item ID] [--platform P] [--since T]
    hashmatch report [--since T] [--format md|json] [--platform P] [--chart PATH]

Feedback is answered on the member's topic (`hash.confirmed`, `hash.disputed`, `feedback.rejected`);
an operator's request on the audit log, which `operator --wait` reads back.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from hashmatch.aws.audit import S3AuditLog
from hashmatch.bank.model import SharedItem
from hashmatch.governance.requests import feedback_from_json
from hashmatch.governance.taxonomy import taxonomy
from hashmatch.media.model import Rejected
from hashmatch.service.governance import BENIGN_CONTRIBUTOR
from hashmatch.service.ports import AuditRecord
from hashmatch.signals import SIGNALS, UnknownSignal
from hashmatch_tools.client import Coalition

__all__ = ["add_governance_commands", "build_report", "render_report", "write_chart"]

Where = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace, Coalition], int]
EXIT_USAGE = 2
STATUS_COLUMNS = ("shared", "withdrawn", "disputed", "quarantined", "removed")


def _since(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _week_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=7)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add_governance_commands(commands: Any, where: Where) -> dict[str, Handler]:
    """Define the commands on the CLI's sub-parsers; their handlers by command name."""
    feedback = commands.add_parser("feedback", help="confirm or dispute a bank item (by its id or a match.found id)")
    feedback.add_argument("--platform", required=True, help="the member platform giving feedback")
    feedback.add_argument("target", metavar="ITEM_OR_NOTIFICATION_ID")
    verdict = feedback.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--confirm", action="store_true", help="stand behind it (adds corroboration)")
    verdict.add_argument("--dispute", action="store_true", help="say it is out of scope or wrong (needs --reason)")
    feedback.add_argument("--reason", default="", help="why; the contributor is told who disputed and why")
    where(feedback)

    operator = commands.add_parser("operator", help="operators: quarantine, restore, remove items; the benign bank")
    operator.add_argument("action", choices=["quarantine", "restore", "remove", "benign"])
    operator.add_argument("targets", nargs="+", metavar="ID_OR_HASH", help="an item id; for benign: signal:hex...")
    operator.add_argument("--reason", required=True, help="why (on the audit log, told to every member)")
    operator.add_argument("--operator", default="operator", help="who is acting (on the audit log)")
    operator.add_argument("--wait", type=float, default=30, metavar="SECONDS", help="wait for the audit record")
    where(operator)

    audit = commands.add_parser("audit", help="operators: print the append-only audit log, one JSON line per record")
    audit.add_argument("--item", help="only records about this item")
    audit.add_argument("--platform", help="only records of this member's actions")
    audit.add_argument("--since", type=_since, default=None, metavar="TIME", help="from TIME (default: a week ago)")
    where(audit)

    report = commands.add_parser("report", help="the transparency report: tables, and a chart of matches per label")
    report.add_argument("--since", type=_since, default=None, metavar="TIME", help="from TIME (default: a week ago)")
    report.add_argument("--format", choices=["md", "json"], default="md")
    report.add_argument("--platform", help="as this member sees it: its own figures in full, others' in aggregate")
    report.add_argument("--chart", default="hashmatch-report.png", metavar="PATH", help="where the PNG chart goes")
    where(report)
    return {
        "feedback": feedback_command,
        "operator": operator_command,
        "audit": audit_command,
        "report": report_command,
    }


def feedback_command(args: argparse.Namespace, coalition: Coalition) -> int:
    request = {"target": args.target, "verdict": "confirm" if args.confirm else "dispute"}
    if args.reason:
        request["reason"] = args.reason
    try:  # the coalition checks it again; saying what is wrong here saves a round trip
        feedback_from_json(request)
    except Rejected as refused:
        print(f"hashmatch: {refused.message}", file=sys.stderr)
        return EXIT_USAGE
    key = coalition.put("feedback", args.platform, "feedback.json", json.dumps(request).encode())
    print(json.dumps({"key": key, **request, "answer": f"on {args.platform}'s topic (hashmatch inbox)"}))
    return 0


def _benign_hashes(targets: Iterable[str]) -> list[dict[str, str]]:
    hashes = []
    for target in targets:
        name, _, value = target.partition(":")
        try:
            signal, value = SIGNALS.parse(name, value) if value else SIGNALS.parse("pdq", name)
        except (UnknownSignal, ValueError) as error:
            raise argparse.ArgumentTypeError(f"{target!r}: {error}") from None
        hashes.append({signal: value})
    return hashes


def operator_command(args: argparse.Namespace, coalition: Coalition) -> int:
    request: dict[str, Any] = {"action": args.action, "reason": args.reason, "operator": args.operator}
    if args.action == "benign":
        request["hashes"] = _benign_hashes(args.targets)
        requests = [request]
    else:
        requests = [{**request, "item_id": target} for target in args.targets]
    failures = 0
    for body in requests:
        started = datetime.now(UTC) - timedelta(seconds=5)
        key = f"operator/{uuid.uuid4().hex[:12]}-{args.action}.json"
        coalition.clients("s3").put_object(Bucket=coalition.bucket, Key=key, Body=json.dumps(body).encode())
        record = _wait_for_record(coalition, key, started, args.wait)
        if record is None:
            print(json.dumps({"key": key, "outcome": "unanswered", "message": f"no audit record in {args.wait}s"}))
            failures += 1
            continue
        print(json.dumps({"key": key, **asdict(record)}))
        failures += record.outcome != "done"
    return 1 if failures else 0


def _audit_log(coalition: Coalition) -> S3AuditLog:
    return S3AuditLog(coalition.outputs["AuditBucketName"], coalition.clients("s3"))


def _wait_for_record(coalition: Coalition, key: str, started: datetime, wait: float) -> AuditRecord | None:
    since = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    deadline = time.monotonic() + wait
    while True:
        found = [r for r in _audit_log(coalition).read(since) if r.request == key]
        if found or time.monotonic() >= deadline:
            return found[-1] if found else None
        time.sleep(0.5)


def audit_command(args: argparse.Namespace, coalition: Coalition) -> int:
    for record in _audit_log(coalition).read(args.since or _week_ago()):
        if args.item and args.item not in record.item_ids:
            continue
        if args.platform and record.actor != f"platform:{args.platform}":
            continue
        print(json.dumps(asdict(record), ensure_ascii=False))
    return 0


# -- the transparency report --------------------------------------------------------------------


def build_report(
    items: Iterable[SharedItem], counts: Iterable[tuple[str, str, str, int]], since: str, viewer: str | None
) -> dict[str, Any]:
    """The report's figures: items per label and per contributor by status (shared in the period;
    status as now), and checks matched per label per member (counts only). A `viewer` (a member)
    sees its own matches in full and the other members' summed; without one, members are summed."""
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    by_contributor: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        if item.provenance.contributor == BENIGN_CONTRIBUTOR or item.provenance.shared_at < since:
            continue
        statuses = ["shared"]
        if item.status in ("withdrawn", "quarantined", "removed"):
            statuses.append(item.status)
        if item.disputed_by:
            statuses.append("disputed")
        for label in item.provenance.labels or ("unlabelled",):
            by_label[label].update(statuses)
        by_contributor[item.provenance.contributor].update(statuses)
    matches: dict[tuple[str, str], int] = defaultdict(int)
    hourly: dict[tuple[str, str], int] = defaultdict(int)
    for hour, member, label, checks in counts:
        if hour < since[:13]:
            continue
        who = member if viewer is None or member == viewer else "other members"
        who = "all members" if viewer is None else who
        matches[(label, who)] += checks
        hourly[(hour, label)] += checks
    return {
        "since": since,
        "taxonomy_version": taxonomy().version,
        "viewer": viewer,
        "items_by_label": {label: {c: n[c] for c in STATUS_COLUMNS} for label, n in sorted(by_label.items())},
        "items_by_contributor": {p: {c: n[c] for c in STATUS_COLUMNS} for p, n in sorted(by_contributor.items())},
        "matches": [{"label": label, "member": who, "checks": n} for (label, who), n in sorted(matches.items())],
        "matches_per_hour": [{"hour": h, "label": label, "checks": n} for (h, label), n in sorted(hourly.items())],
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# hashmatch transparency report since {report['since']}",
        f"Taxonomy version {report['taxonomy_version']}"
        + (f"; as {report['viewer']} sees it" if report["viewer"] else "; members in aggregate"),
        "",
    ]
    for title, table, key in (
        ("Items by label", report["items_by_label"], "label"),
        ("Items by contributor", report["items_by_contributor"], "contributor"),
    ):
        lines += [f"## {title}", "", f"| {key} | " + " | ".join(STATUS_COLUMNS) + " |"]
        lines.append("|---|" + "---:|" * len(STATUS_COLUMNS))
        lines += [
            f"| {name} | " + " | ".join(str(row[c]) for c in STATUS_COLUMNS) + " |" for name, row in table.items()
        ]
        lines.append("")
    lines += ["## Checks that matched, by label and member (counts only)", "", "| label | member | checks |"]
    lines.append("|---|---|---:|")
    lines += [f"| {m['label']} | {m['member']} | {m['checks']} |" for m in report["matches"]]
    return "\n".join(lines) + "\n"


PALETTE = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
MAX_CHART_HOURS = 24 * 31


def _hours(first: str, last: str) -> list[str]:
    """Every hour (``YYYY-MM-DDTHH``) from `first` to `last`."""
    start, end = datetime.fromisoformat(first + ":00"), datetime.fromisoformat(last + ":00")
    hours: list[str] = []
    while start <= end and len(hours) < MAX_CHART_HOURS:
        hours.append(start.strftime("%Y-%m-%dT%H"))
        start += timedelta(hours=1)
    return hours


def write_chart(report: dict[str, Any], path: Path, size: tuple[int, int] = (900, 420)) -> None:
    """A PNG bar chart of checks matched per hour, one bar per label in each hour's group."""
    width, height = size
    left, right, top, bottom = 60, 200, 30, 50
    plot_width, plot_height = width - left - right, height - top - bottom
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rows = report["matches_per_hour"]
    seen = sorted({r["hour"] for r in rows})
    hours = _hours(seen[0], seen[-1]) if seen else []
    labels = sorted({r["label"] for r in rows})
    step = max(1, -(-max([r["checks"] for r in rows] or [1]) // 4))
    top_value = 4 * step
    draw.text((left, 8), f"Checks matched per hour, by label (since {report['since'][:16]}, UTC)", fill="black")
    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], fill="black")
    for tick in range(5):
        y = height - bottom - plot_height * tick / 4
        draw.line([(left - 4, y), (left, y)], fill="black")
        draw.text((left - 40, y - 6), f"{tick * step:>5}", fill="black")
    if not hours:
        draw.text((left + 20, top + plot_height / 2), "no matches in this period", fill="black")
    group = plot_width / max(1, len(hours))
    bar = max(1.0, group * 0.8 / max(1, len(labels)))
    counts = {(r["hour"], r["label"]): r["checks"] for r in rows}
    for position, hour in enumerate(hours):
        x0 = left + group * position + group * 0.1
        for number, label in enumerate(labels):
            value = counts.get((hour, label), 0)
            if value:
                y = height - bottom - plot_height * value / top_value
                draw.rectangle(
                    [x0 + bar * number, y, x0 + bar * (number + 1) - 1, height - bottom], fill=_colour(number)
                )
        if position == 0 or position == len(hours) - 1 or len(hours) <= 12:
            draw.text((x0, height - bottom + 8), hour[5:].replace("T", " ") + "h", fill="black")
    for number, label in enumerate(labels):
        y = top + 20 * number
        draw.rectangle([width - right + 15, y, width - right + 27, y + 12], fill=_colour(number))
        draw.text((width - right + 33, y), label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")


def _colour(number: int) -> tuple[int, int, int]:
    return PALETTE[number % len(PALETTE)]


def render_report(coalition: Coalition, since: str, viewer: str | None, chart: Path, form: str = "md") -> str:
    """The report on the coalition's bank as text (`form` md or json), its chart written to `chart`."""
    bank = coalition.bank()
    report = build_report(bank.iter_items(), bank.match_counts(since), since, viewer)
    write_chart(report, chart)
    report["chart"] = str(chart)
    return json.dumps(report, indent=2) if form == "json" else _markdown(report) + f"\nChart: {chart}"


def report_command(args: argparse.Namespace, coalition: Coalition) -> int:
    print(render_report(coalition, args.since or _week_ago(), args.platform, Path(args.chart), args.format))
    return 0
