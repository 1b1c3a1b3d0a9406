"""Every upload answered once while AWS calls fail and workers die: the local stack under faults.

    .venv/bin/python benchmarks/bench_faults.py [--checks 1000] [--shares 50] [--seed 1234]
        [--fault-rate 0.2] [--kill-rate 0.03] [--kills 1] [--timeout 3600]

Starts the local stack (moto server on 127.0.0.1, resources from template.yaml, the handlers
polled as Lambda would) with `hashmatch_tools.local.faults` in the functions' path:

- `FaultInjector` in front of moto for the functions' AWS clients only: `--fault-rate` of their
  DynamoDB, S3 and SNS requests are throttled (ProvisionedThroughputExceededException, SlowDown,
  Throttling), answered 500/503, stalled, or dropped before or after the service carried them
  out; botocore's retries then act as in AWS. This script's own calls (putting objects, reading
  inboxes, reading the bank) and the pollers standing in for the event source mappings go to
  moto directly and never fail.
- `WorkerKiller`: `--kill-rate` of the invocations (and every one until `--kills` have died) die
  right after a random one of their first 16 AWS calls (e.g. after publishing a verdict, before
  marking it published); nothing of the batch is acknowledged, so SQS delivers it again, to a new
  (cold) instance.

Time is compressed as in AWS's own proportions: the functions' Lambda context reports a
`--function-timeout` deadline (the template's is 300 s), and a failed record or a dead worker's
batch is shown again after `--retry-seconds` (AWS: the queues' 1800 s visibility timeout), which
stays above the deadline as in AWS, so a retry never meets a dead attempt's live claim.

Then it drops `--shares` 256x256 JPEGs to share and `--checks` to check (copies of the shared
pictures, unrelated pictures, and unusable files), interleaved, from every member, and reads
every member's inbox until every upload is answered and the function queues are empty (or
`--timeout` passes).

How it counts. Subscribers are told to dedupe on `notification_id`: it is stable across
redeliveries, and a retried record republishes the answer kept the first time with the ids it
had. So notifications are deduplicated on `notification_id` first; a repeat of the same id is
counted as a delivery, never as a second answer. A check's final verdicts are its `match.found`,
`check.clean`, `check.rejected`, `check.failed` and `check.expired` (a retroactive `match.found`,
sent when a later share matches a retained check, is a later notice, not the check's verdict):

- lost: a check with no final verdict;
- duplicated: a check with more than one distinct `notification_id` of final verdict types;
- contradictory: a check told both `check.clean` and `match.found`;
- a share is complete when `share.accepted` reached the sharer, `hash.shared` (naming its items) every other member,
  and its items are active in the bank;
- a share failed cleanly when it could not be made on any try the queue allows: the sharer was told
  `share.failed` (never `share.accepted`), its item is not active in the bank, and every member
  told `hash.shared` of it was told `hash.withdrawn` of it too. Answered, nothing of it left shared;
- any other share is incomplete (no answer yet, or half made).

Controls, to see that the accounting can fail: `--forget-answers` replaces the kept-answer store
with one that keeps nothing (a retry decides and publishes anew, with new notification ids), and
`--kill-after sns.Publish` puts the `--kills` forced deaths right after a verdict went out and
before it was marked published: together they must show duplicated answers.

The last line is `faults: checks N verdicts N lost N duplicated N contradictory N | shares N complete N failed N`;
the exit status is 0 only when nothing was lost, duplicated or contradictory and every share is
complete or failed cleanly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hashmatch.bank.model import item_id_for
from hashmatch_tools.client import Coalition
from hashmatch_tools.local.faults import FaultInjector, WorkerKiller
from hashmatch_tools.local.stack import LocalStack, client, inbox_queue_name
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene

SEED = 1234
SIZE = (256, 256)
FINAL_VERDICTS = ("match.found", "check.clean", "check.rejected", "check.failed", "check.expired")
# The function queues (and their dead-letter queues) whose emptiness says no more answers can come.
WORK_QUEUES = (
    "HashQueueUrl",
    "CheckQueueUrl",
    "ShareQueueUrl",
    "HashDeadLetterQueueUrl",
    "CheckDeadLetterQueueUrl",
    "ShareDeadLetterQueueUrl",
)
SETTLE_SECONDS = 10.0
COPY_SHARE = 0.45
FUNCTION_TIMEOUT = 10
RETRY_SECONDS = 12


@dataclass(frozen=True)
class Upload:
    action: str  # "check" or "share"
    platform: str
    name: str
    body: bytes
    metadata: dict[str, str]
    kind: str  # share; check: copy, unrelated, unusable
    scene: int | None = None  # the shared picture a copy is of


@dataclass
class Received:
    """One notification as it reached an inbox: its body and when SQS took it (epoch seconds)."""

    body: dict[str, Any]
    sent_at: float


class InboxReader:
    """Reads every member's inbox queue on a thread of its own (straight to moto, never faulted)
    and keeps every notification, in arrival order."""

    def __init__(self, endpoint: str, stack_name: str, platforms: list[str]) -> None:
        self._sqs = client("sqs", endpoint)
        self._urls = [self._sqs.get_queue_url(QueueName=inbox_queue_name(stack_name, p))["QueueUrl"] for p in platforms]
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="InboxReader")

    def start(self) -> InboxReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def _run(self) -> None:
        while not self._stop.is_set():
            got = sum(self._read(url) for url in self._urls)
            if not got:
                self._stop.wait(0.2)

    def _read(self, url: str) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        if not messages:
            return 0
        batch = []
        for message in messages:
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"]) if "Message" in envelope else envelope
            sent = int(message.get("Attributes", {}).get("SentTimestamp", 0)) / 1000 or time.time()
            batch.append(Received(body, sent))
        with self._lock:
            self._received.extend(batch)
        self._sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
        return len(messages)


def workload(checks: int, shares: int, seed: int, platforms: list[str], copy_share: float = COPY_SHARE) -> list[Upload]:
    """Shares and checks, interleaved: each share placed among the checks' first half; checks are
    `copy_share` (45%) re-encoded (some mirrored) copies of shared pictures, then unrelated
    pictures up to 90%, 10% unusable (empty, not media, a truncated JPEG)."""
    rng = random.Random(seed)
    base = seed * 100_000
    shared = [
        Upload(
            "share",
            platforms[n % len(platforms)],
            f"share-{n}.jpg",
            jpeg_bytes(scene(base + n, SIZE), 90),
            {"labels": "graphic-violence", "content-id": f"share-{n}"},
            "share",
            base + n,
        )
        for n in range(shares)
    ]
    checked = []
    for n in range(checks):
        platform = platforms[(n * 7 + 3) % len(platforms)]
        roll = rng.random()
        metadata = {"content-id": f"check-{n}"}
        if roll < copy_share and shares:
            picture = base + rng.randrange(shares)
            image = scene(picture, SIZE)
            if rng.random() < 0.3:
                image = mirrored(image)
            body = jpeg_bytes(image, rng.randint(70, 88))
            checked.append(Upload("check", platform, f"copy-{n}.jpg", body, metadata, "copy", picture))
        elif roll < max(0.9, copy_share):
            body = jpeg_bytes(scene(base + 50_000 + n, SIZE), rng.randint(70, 92))
            checked.append(Upload("check", platform, f"other-{n}.jpg", body, metadata, "unrelated"))
        else:
            unusable = rng.choice([b"", b"not a picture at all", jpeg_bytes(scene(base + 90_000 + n, SIZE))[:400]])
            checked.append(Upload("check", platform, f"bad-{n}.jpg", unusable, metadata, "unusable"))
    uploads: list[Upload] = []
    spacing = max(1, checks // max(1, 2 * shares))
    pending = list(shared)
    for n, upload in enumerate(checked):
        if pending and n % spacing == 0:
            uploads.append(pending.pop(0))
        uploads.append(upload)
    return uploads + pending


@dataclass
class Accounting:
    """What the inboxes say about each upload, deduplicated on notification_id."""

    checks: int = 0
    verdicts: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    contradictory: list[str] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    retroactive: int = 0
    shares: int = 0
    complete: int = 0
    failed: list[str] = field(default_factory=list)  # shares that failed cleanly
    incomplete: list[str] = field(default_factory=list)
    share_duplicates: list[str] = field(default_factory=list)
    copies_expected: int = 0
    copies_matched: int = 0
    details: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.contradictory or self.incomplete or self.share_duplicates)

    def last_line(self) -> str:
        return (
            f"faults: checks {self.checks} verdicts {self.verdicts} lost {len(self.lost)} "
            f"duplicated {len(self.duplicated)} contradictory {len(self.contradictory)} | "
            f"shares {self.shares} complete {self.complete} failed {len(self.failed)}"
        )


def account(
    uploads: dict[str, Upload],
    put_at: dict[str, float],
    received: list[Received],
    platforms: list[str],
    bank_status: dict[str, str],
) -> Accounting:
    """Checks and shares against what reached the inboxes (and, for shares, the bank)."""
    result = Accounting()
    verdict_ids: dict[str, dict[str, str]] = defaultdict(dict)  # key -> notification_id -> event type
    share_notices: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # key -> type -> ids
    alerted: dict[str, set[str]] = defaultdict(set)  # item id -> members told by hash.shared
    withdrawn: dict[str, set[str]] = defaultdict(set)  # item id -> members told by hash.withdrawn
    accepted_at: dict[int, float] = {}
    items_of: dict[str, set[str]] = defaultdict(set)
    failures: dict[str, set[str]] = defaultdict(set)  # share key -> what share.failed said
    for notice in received:
        body = notice.body
        key = body.get("object", {}).get("key", "")
        event_type = str(body.get("event_type"))
        if event_type in ("hash.shared", "hash.withdrawn"):
            # Other members are not told the sharer's object key: the items say which share it was.
            told_of = alerted if event_type == "hash.shared" else withdrawn
            for item in body.get("items", []):
                told_of[str(item["item_id"])].add(str(body.get("platform")))
            continue
        upload = uploads.get(key)
        if upload is None:
            continue
        if upload.action == "check" and event_type in FINAL_VERDICTS:
            if body.get("retroactive"):
                result.retroactive += 1
                continue
            result.deliveries += 1
            verdict_ids[key][str(body["notification_id"])] = event_type
        elif upload.action == "share":
            share_notices[key][event_type].add(str(body["notification_id"]))
            if event_type == "share.failed":
                failures[key].add(str(body.get("failure", {}).get("message", "?")))
            if event_type == "share.accepted":
                items_of[key].update(item["item_id"] for item in body.get("items", []))
                if upload.scene is not None:
                    accepted_at[upload.scene] = min(notice.sent_at, accepted_at.get(upload.scene, notice.sent_at))
    for key, upload in uploads.items():
        if upload.action == "check":
            result.checks += 1
            answers = verdict_ids.get(key, {})
            result.verdicts += len(answers)
            types = set(answers.values())
            result.by_type.update(answers.values())
            if not answers:
                result.lost.append(key)
            if len(answers) > 1:
                result.duplicated.append(key)
            if {"match.found", "check.clean"} <= types:
                result.contradictory.append(key)
            if len(answers) != 1:
                result.details[key] = [(upload.kind, nid, t) for nid, t in answers.items()]
            if upload.kind == "copy" and upload.scene in accepted_at and accepted_at[upload.scene] < put_at[key]:
                result.copies_expected += 1
                result.copies_matched += types == {"match.found"}
        else:
            result.shares += 1
            notices = share_notices.get(key, {})
            if len(notices.get("share.accepted", ())) > 1:
                result.share_duplicates.append(key)
            others = set(platforms) - {upload.platform}
            in_bank = bool(items_of[key]) and all(bank_status.get(item) == "active" for item in items_of[key])
            told = set.intersection(*(alerted[item] for item in items_of[key])) if items_of[key] else set()
            own = share_item_id(upload)
            # Failed cleanly: told share.failed only, its item not active, every alert withdrawn.
            undone = alerted[own] <= withdrawn[own] and bank_status.get(own) != "active"
            if notices.get("share.accepted") and told >= others and in_bank:
                result.complete += 1
            elif failures.get(key) and not notices.get("share.accepted") and undone:
                result.failed.append(key)
                result.details[key] = [
                    *(("told, then withdrawn", member, own) for member in sorted(alerted[own])),
                    *(("share.failed", "", message[:300]) for message in sorted(failures[key])),
                ]
            else:
                result.incomplete.append(key)
                # Why: what the sharer was told, which members were not, what the bank holds.
                result.details[key] = [
                    *(("told", event_type, str(len(ids))) for event_type, ids in sorted(notices.items())),
                    *(("not told", member, "hash.shared") for member in sorted(others - told)),
                    *(("not told", member, "hash.withdrawn") for member in sorted(alerted[own] - withdrawn[own])),
                    *(("bank", item, bank_status.get(item, "absent")) for item in sorted(items_of[key] | {own})),
                    *(("share.failed", "", message[:300]) for message in sorted(failures.get(key, ()))),
                ]
    return result


def share_item_id(upload: Upload) -> str:
    """The bank item a share of one picture makes (`hashmatch.service.service.item_from_media`)."""
    return item_id_for(upload.platform, "sha256", hashlib.sha256(upload.body).hexdigest())


def _wait_for_a_verdict(reader: InboxReader, until: float) -> None:
    while time.monotonic() < until:
        if any(notice.body.get("event_type") in FINAL_VERDICTS for notice in reader.received()):
            return
        time.sleep(0.2)


def _bank_status(endpoint: str, table: str, item_ids: set[str]) -> dict[str, str]:
    dynamodb = client("dynamodb", endpoint)
    status = {}
    for item_id in item_ids:
        record = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": f"ITEM#{item_id}"}, "sk": {"S": "META"}}, ConsistentRead=True
        ).get("Item")
        status[item_id] = record["status"]["S"] if record and "status" in record else "missing"
    return status


def _queues_empty(sqs: Any, urls: list[str]) -> bool:
    for url in urls:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) or int(attributes["ApproximateNumberOfMessagesNotVisible"]):
            return False
    return True


class ForgetfulAnswers:
    """A kept-answer store that keeps nothing: the control `--forget-answers` (never the product)."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def kept(self, _key: str) -> None:
        return None

    def claim(self, _key: str, _seconds: float) -> Any:
        from hashmatch.service.answers import CLAIMED

        return CLAIMED

    def release(self, _key: str) -> None:
        pass

    def keep(self, _key: str, notifications: list[Any]) -> tuple[Any, ...]:
        return tuple(notifications)

    def mark_published(self, _key: str) -> None:
        pass


@contextmanager
def answers_forgotten(forget: bool) -> Iterator[None]:
    """The functions' runtimes (built on first use, after this) get `ForgetfulAnswers` when `forget`."""
    if not forget:
        yield
        return
    import hashmatch.aws.runtime as runtime

    kept_store = runtime.DynamoAnswerStore
    runtime.DynamoAnswerStore = ForgetfulAnswers  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        runtime.DynamoAnswerStore = kept_store  # type: ignore[misc]


@contextmanager
def quiet_functions(verbose: bool) -> Iterator[None]:
    """The stack's own warnings (a batch failed, a worker died) are expected by the hundred here."""
    names = ("hashmatch_tools.local.stack", "botocore", "urllib3")
    levels = {name: logging.getLogger(name).level for name in names}
    if not verbose:
        for name in names:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def run(
    checks: int,
    shares: int,
    seed: int,
    fault_rate: float,
    kill_rate: float,
    timeout: float,
    verbose: bool = False,
    log: Callable[..., None] = print,
    kills: int = 1,
    function_timeout: int = FUNCTION_TIMEOUT,
    retry_seconds: int = RETRY_SECONDS,
    kill_after: str | None = None,
    forget_answers: bool = False,
    copy_share: float = COPY_SHARE,
    shares_after_verdict: bool = False,
) -> Accounting:
    """The whole run: stack up with faults, uploads, answers collected and accounted, stack down."""
    injector = FaultInjector(fault_rate, seed)
    killer = WorkerKiller(kill_rate, seed + 1, at_least=kills, after=kill_after)
    started = time.monotonic()
    with quiet_functions(verbose), answers_forgotten(forget_answers), killer:
        stack = LocalStack(
            parameters={"LogLevel": "DEBUG" if verbose else "CRITICAL"},
            function_middleware=injector.wrap,
            around_invoke=killer.invocation,
            function_timeout=function_timeout,
            retry_seconds=retry_seconds,
        ).start()
        try:
            coalition = Coalition.local(stack.endpoint, stack.root)
            platforms = coalition.platforms
            uploads = workload(checks, shares, seed, platforms, copy_share)
            if shares_after_verdict:
                # Checks first; the shares once a first verdict is out, so a check retried after
                # it was answered meets a bank that changed since.
                uploads = sorted(uploads, key=lambda upload: upload.action == "share")
            reader = InboxReader(stack.endpoint, stack.stack_name, platforms).start()
            by_key: dict[str, Upload] = {}
            put_at: dict[str, float] = {}
            for upload in uploads:
                if shares_after_verdict and upload.action == "share":
                    _wait_for_a_verdict(reader, time.monotonic() + timeout)
                at = time.time()
                key = coalition.put(upload.action, upload.platform, upload.name, upload.body, upload.metadata)
                by_key[key] = upload
                put_at[key] = at
            log(f"put {len(uploads)} objects in {time.monotonic() - started:.0f} s", file=sys.stderr)
            sqs = client("sqs", stack.endpoint)
            queues = [stack.outputs[name] for name in WORK_QUEUES]
            table = stack.outputs["BankTableName"]
            deadline = started + timeout
            quiet_since: float | None = None
            last_report = 0.0
            while time.monotonic() < deadline:
                result = account(by_key, put_at, reader.received(), platforms, {})
                answered = result.checks - len(result.lost)
                if time.monotonic() - last_report > 60:
                    last_report = time.monotonic()
                    log(
                        f"{time.monotonic() - started:.0f} s: {answered} of {checks} checks answered; "
                        f"{injector.summary()}; {killer.summary()}",
                        file=sys.stderr,
                    )
                if not result.lost and _queues_empty(sqs, queues):
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= SETTLE_SECONDS:
                        break
                else:
                    quiet_since = None
                time.sleep(2)
            reader.stop()
            received = reader.received()
            item_ids = {share_item_id(upload) for upload in uploads if upload.action == "share"}
            result = account(by_key, put_at, received, platforms, _bank_status(stack.endpoint, table, item_ids))
        finally:
            stack.stop()
    elapsed = time.monotonic() - started
    kinds = Counter(u.kind for u in uploads if u.action == "check")
    log(
        f"local stack, seed {seed}: {checks} checks of {SIZE[0]}x{SIZE[1]} JPEGs ({kinds['copy']} copies of shared "
        f"pictures, {kinds['unrelated']} unrelated, {kinds['unusable']} unusable) and {shares} shares; "
        f"fault rate {fault_rate}, kill rate {kill_rate}; {elapsed:.0f} s"
        + ("; CONTROL: kept answers forgotten" if forget_answers else "")
    )
    log(injector.summary())
    log(injector.busiest())
    log(killer.summary())
    for where, count in sorted(killer.kills.items()):
        log(f"  killed {count}x {where}")
    log("final verdicts: " + ", ".join(f"{t} {result.by_type[t]}" for t in FINAL_VERDICTS))
    log(
        f"deliveries of final verdicts: {result.deliveries} for {result.verdicts} distinct notification ids "
        f"({result.deliveries - result.verdicts} repeats of an id, deduplicated); "
        f"retroactive match.found (not verdicts): {result.retroactive}"
    )
    log(
        f"copies of pictures shared (share.accepted) before their check: matched {result.copies_matched} of "
        f"{result.copies_expected}"
    )
    log(
        f"shares: {result.shares}, complete {result.complete}, failed cleanly {len(result.failed)} "
        f"(share.failed, nothing of it left shared), incomplete {len(result.incomplete)}, "
        f"share.accepted duplicated {len(result.share_duplicates)}"
    )
    for label, keys in (
        ("lost", result.lost),
        ("duplicated", result.duplicated),
        ("contradictory", result.contradictory),
        ("incomplete share", result.incomplete),
        ("share failed cleanly", result.failed),
        ("duplicated share.accepted", result.share_duplicates),
    ):
        for key in keys[:10]:
            log(f"  {label}: {key} {result.details.get(key, '')}")
    log(result.last_line())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--shares", type=int, default=50)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of DynamoDB/S3/SNS calls that fail")
    parser.add_argument("--kill-rate", type=float, default=0.03, help="share of invocations whose worker dies")
    parser.add_argument("--kills", type=int, default=1, help="workers killed at least, whatever --kill-rate draws")
    parser.add_argument("--kill-after", help="the forced deaths right after this call, e.g. sns.Publish")
    parser.add_argument("--forget-answers", action="store_true", help="control: keep no answers (must duplicate)")
    parser.add_argument("--copy-share", type=float, default=COPY_SHARE, help="checks that copy a shared picture")
    parser.add_argument(
        "--shares-after-verdict", action="store_true", help="put the shares once a first check is answered"
    )
    parser.add_argument("--function-timeout", type=int, default=FUNCTION_TIMEOUT, help="Lambda deadline, seconds")
    parser.add_argument("--retry-seconds", type=int, default=RETRY_SECONDS, help="delay before a failed record's retry")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for every answer")
    parser.add_argument("--verbose", action="store_true", help="the functions' and the stack's logs too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(
        args.checks,
        args.shares,
        args.seed,
        args.fault_rate,
        args.kill_rate,
        args.timeout,
        args.verbose,
        kills=args.kills,
        function_timeout=args.function_timeout,
        retry_seconds=args.retry_seconds,
        kill_after=args.kill_after,
        forget_answers=args.forget_answers,
        copy_share=args.copy_share,
        shares_after_verdict=args.shares_after_verdict,
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
