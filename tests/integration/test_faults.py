"""Every upload answered once while AWS calls fail and workers die (issue 13, item 4).

The runs are `benchmarks/bench_faults.py`, small, each in a process of its own: moto keeps one
state per process and the local stack sets the process's AWS environment, which the session's
e2e stack must keep. What is asserted is what the bench printed, which it counts from the
notifications the platforms' subscribed inbox queues received.

Two runs are controls, so the accounting is seen to fail when the product would: the same
scenario (a check answered `check.clean`, its worker killed right after publishing and before
marking it published, the picture shared before the retry) once with the product's kept answers
and once with a store that keeps nothing; only the second is answered twice, differently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hashmatch.bank.model import item_id_for
from hashmatch_tools.local.faults import FaultInjector, FaultKind, WorkerKiller
from hashmatch_tools.local.stack import LocalStack, WorkerKilled, client, inbox_queue_name
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_faults.py"
RUN_SECONDS = 900
LAST_LINE = re.compile(
    r"^faults: checks (?P<checks>\d+) verdicts (?P<verdicts>\d+) lost (?P<lost>\d+) duplicated (?P<duplicated>\d+) "
    r"contradictory (?P<contradictory>\d+) \| shares (?P<shares>\d+) complete (?P<complete>\d+) failed (?P<failed>\d+)$"
)
INJECTED = re.compile(r"^faults injected (\d+) of (\d+) requests \((.*)\)")
KILLED = re.compile(r"^workers killed (\d+) ")
# A check answered clean, killed after publishing, the picture shared before the retry.
CONTROL = [
    "--checks", "10", "--shares", "1", "--copy-share", "1", "--shares-after-verdict",
    "--fault-rate", "0", "--kill-rate", "0", "--kills", "1", "--kill-after", "sns.Publish",
    "--function-timeout", "10", "--retry-seconds", "20", "--timeout", "300",
]  # fmt: skip


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "hashmatch")}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, str(BENCH), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, list[str]]:
    try:
        stdout, stderr = process.communicate(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"bench_faults.py ran over {RUN_SECONDS} s")
    lines = stdout.splitlines()
    assert lines and LAST_LINE.match(lines[-1]), f"no accounting line; stdout {stdout[-2000:]} stderr {stderr[-2000:]}"
    return process.returncode, lines


def _counts(lines: list[str]) -> dict[str, int]:
    found = LAST_LINE.match(lines[-1])
    assert found is not None
    return {name: int(value) for name, value in found.groupdict().items()}


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """The three runs, started together (the controls mostly wait out their retry delay)."""
    started = {
        "faults": _start("--checks", "40", "--shares", "4", "--fault-rate", "0.2", "--kills", "1", "--timeout", "600"),
        "kept": _start(*CONTROL, "--seed", "7"),
        "forgotten": _start(*CONTROL, "--seed", "7", "--forget-answers"),
    }
    try:
        yield started
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


def test_every_check_answered_once_while_calls_fail_and_a_worker_dies(runs: dict[str, Any]) -> None:
    code, lines = _finish(runs["faults"])
    counts = _counts(lines)
    assert lines[-1].startswith("faults: checks 40 verdicts 40 lost 0 duplicated 0 contradictory 0 | shares 4 "), lines
    # Each share made, or (every try the queue allows having failed under the faults) answered
    # share.failed with nothing of it left shared; none half made. Most get through.
    assert counts["complete"] + counts["failed"] == 4, [line for line in lines if "share" in line]
    assert counts["complete"] >= 2, [line for line in lines if "share" in line]
    assert code == 0
    # The faults were really there: in each service, and at least one worker died mid-invocation.
    injected = next(INJECTED.match(line) for line in lines if INJECTED.match(line))
    assert injected is not None and int(injected.group(1)) > 0
    per_service = dict(re.findall(r"(\w+) (\d+)/\d+", injected.group(3)))
    assert {service: int(per_service.get(service, 0)) > 0 for service in ("dynamodb", "s3", "sns")} == {
        "dynamodb": True,
        "s3": True,
        "sns": True,
    }, injected.group(0)
    killed = next(KILLED.match(line) for line in lines if KILLED.match(line))
    assert killed is not None and int(killed.group(1)) >= 1


def test_a_retry_after_publishing_republishes_the_kept_answer(runs: dict[str, Any]) -> None:
    code, lines = _finish(runs["kept"])
    counts = _counts(lines)
    assert any(line.strip() == "killed 1x CheckFunction after sns.Publish" for line in lines), lines
    assert (counts["lost"], counts["duplicated"], counts["contradictory"]) == (0, 0, 0), lines[-1]
    assert counts["verdicts"] == counts["checks"] == 10
    assert code == 0


def test_without_kept_answers_the_same_retry_answers_twice(runs: dict[str, Any]) -> None:
    """The control: the accounting catches a second, different answer when the product would give one."""
    code, lines = _finish(runs["forgotten"])
    counts = _counts(lines)
    assert any(line.strip() == "killed 1x CheckFunction after sns.Publish" for line in lines), lines
    assert counts["duplicated"] >= 1 and counts["contradictory"] >= 1, lines[-1]
    assert code == 1


def _bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_faults", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_faults", module)
    spec.loader.exec_module(module)
    return module


def test_the_accounting_counts_lost_duplicated_and_contradictory_answers() -> None:
    bench = _bench_module()
    uploads = {
        "check/a/1": bench.Upload("check", "a", "1", b"", {}, "unrelated"),
        "check/a/2": bench.Upload("check", "a", "2", b"", {}, "unrelated"),
        "check/a/3": bench.Upload("check", "a", "3", b"", {}, "copy", 1),
        "check/a/4": bench.Upload("check", "a", "4", b"", {}, "copy", 1),
    }

    def notice(key: str, event_type: str, notification_id: str, **extra: Any) -> Any:
        body = {"object": {"key": key}, "event_type": event_type, "notification_id": notification_id, **extra}
        return bench.Received(body, 0.0)

    received = [
        notice("check/a/1", "check.clean", "n1"),
        notice("check/a/1", "check.clean", "n1"),  # the same answer delivered twice: one answer
        notice("check/a/3", "check.clean", "n3"),
        notice("check/a/3", "match.found", "n3b"),
        notice("check/a/4", "match.found", "n4"),
        notice("check/a/4", "match.found", "n4r", retroactive=True),  # a later notice, not a verdict
    ]
    result = bench.account(uploads, dict.fromkeys(uploads, 0.0), received, ["a"], {})
    assert (result.checks, result.verdicts, result.deliveries, result.retroactive) == (4, 4, 5, 1)
    assert (result.lost, result.duplicated, result.contradictory) == (["check/a/2"], ["check/a/3"], ["check/a/3"])
    assert not result.ok
    assert (
        result.last_line()
        == "faults: checks 4 verdicts 4 lost 1 duplicated 1 contradictory 1 | shares 0 complete 0 failed 0"
    )


def test_a_share_is_complete_when_every_other_member_was_told_of_its_items() -> None:
    bench = _bench_module()
    uploads = {
        "share/a/1": bench.Upload("share", "a", "1", b"", {}, "share"),
        "share/a/2": bench.Upload("share", "a", "2", b"", {}, "share"),
    }

    def accepted(key: str, item: str) -> Any:
        body = {"object": {"key": key}, "event_type": "share.accepted", "notification_id": f"acc-{item}"}
        return bench.Received({**body, "platform": "a", "items": [{"item_id": item}]}, 0.0)

    def alert(platform: str, item: str) -> Any:
        # As members receive it: no object key of the sharer's, only the items.
        body = {"event_type": "hash.shared", "notification_id": f"al-{item}-{platform}", "platform": platform}
        return bench.Received({**body, "items": [{"item_id": item}]}, 0.0)

    received = [accepted("share/a/1", "i1"), alert("b", "i1"), alert("c", "i1"), accepted("share/a/2", "i2")]
    received.append(alert("b", "i2"))  # c never told of i2
    result = bench.account(
        uploads, dict.fromkeys(uploads, 0.0), received, ["a", "b", "c"], {"i1": "active", "i2": "active"}
    )
    assert (result.shares, result.complete) == (2, 1)
    assert result.last_line().endswith("| shares 2 complete 1 failed 0")


def test_a_share_failed_cleanly_is_answered_and_left_nowhere() -> None:
    """share.failed counts as an answer only when nothing of the share is left: its item not
    active, and every member told of it told of its withdrawal."""
    bench = _bench_module()
    uploads = {
        f"share/a/{n}": bench.Upload("share", "a", str(n), f"picture {n}".encode(), {}, "share") for n in (1, 2, 3)
    }
    item = {key: bench.share_item_id(upload) for key, upload in uploads.items()}

    def told(platform: str, event_type: str, key: str) -> Any:
        body = {"event_type": event_type, "notification_id": f"{event_type}-{key}-{platform}", "platform": platform}
        if platform == "a":
            body["object"] = {"key": key}
        if event_type == "share.failed":
            body["failure"] = {"message": "processing failed on every try the queue allows"}
        return bench.Received({**body, "items": [{"item_id": item[key]}]}, 0.0)

    received = [
        # 1: an attempt stored the item and told b; the failure withdrew it and told everyone.
        told("b", "hash.shared", "share/a/1"),
        told("a", "share.failed", "share/a/1"),
        *(told(member, "hash.withdrawn", "share/a/1") for member in ("a", "b", "c")),
        # 2: told share.failed, but its item is still active in the bank: half made.
        told("a", "share.failed", "share/a/2"),
        # 3: told share.failed, but c, told of the item, was never told it was withdrawn.
        told("c", "hash.shared", "share/a/3"),
        told("a", "share.failed", "share/a/3"),
        told("b", "hash.withdrawn", "share/a/3"),
    ]
    bank = {item["share/a/1"]: "withdrawn", item["share/a/2"]: "active", item["share/a/3"]: "withdrawn"}
    result = bench.account(uploads, dict.fromkeys(uploads, 0.0), received, ["a", "b", "c"], bank)
    assert (result.complete, result.failed, result.incomplete) == (0, ["share/a/1"], ["share/a/2", "share/a/3"])
    assert ("not told", "c", "hash.withdrawn") in result.details["share/a/3"]
    assert ("bank", item["share/a/2"], "active") in result.details["share/a/2"]
    assert not result.ok
    assert result.last_line().endswith("| shares 3 complete 0 failed 1")


def _app(calls: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


def _request(service: str) -> dict[str, Any]:
    import io

    authorization = f"AWS4-HMAC-SHA256 Credential=local/20261204/us-east-1/{service}/aws4_request, Signature=x"
    return {
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem",
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/{service}",
        "CONTENT_LENGTH": "0",
        "wsgi.input": io.BytesIO(b""),
    }


def test_the_fault_injector_is_inert_at_rate_0_and_spares_other_services() -> None:
    calls: list[str] = []
    quiet = FaultInjector(0.0, seed=1).wrap(_app(calls))
    for _ in range(50):
        assert quiet(_request("dynamodb"), lambda *_args: None) == [b"ok"]
    assert sum(quiet.counts.values()) == 0 and len(calls) == 50

    calls.clear()
    every = FaultInjector(1.0, seed=1, sleep=lambda _seconds: None).wrap(_app(calls))
    for _ in range(50):
        assert every(_request("sqs"), lambda *_args: None) == [b"ok"]  # queues are never faulted
    statuses: list[str] = []
    for _ in range(200):
        try:
            every(_request("dynamodb"), lambda status, _headers: statuses.append(status))
        except ConnectionAbortedError:
            statuses.append("dropped")
    kinds = {kind for (_service, _operation, kind) in every.counts}
    assert sum(every.counts.values()) == 200 and kinds == set(FaultKind)
    assert every.operations == {("dynamodb", "GetItem"): 200}  # queues are not counted either
    assert every.busiest() == "requests by operation: dynamodb GetItem 200"
    assert any(status.startswith("400") for status in statuses) and any(status.startswith("5") for status in statuses)


def test_the_stack_refuses_a_retry_that_would_meet_a_dead_attempt_in_progress() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        LocalStack(function_timeout=10, retry_seconds=5)
    with pytest.raises(ValueError, match="moto_process"):
        LocalStack(moto_process=True, function_middleware=lambda app: app)


def test_a_second_stack_of_one_name_in_this_process_is_refused() -> None:
    # moto keeps its state per process: the second would meet the first one's tables, queues and
    # topics (even once the first is stopped).
    saved = dict(os.environ)  # a stack sets its functions' environment in this process
    first = LocalStack(stack_name="hashmatch-twice").start(poll=False)
    try:
        with pytest.raises(RuntimeError, match="was started in this process already"):
            LocalStack(stack_name="hashmatch-twice").start(poll=False)
    finally:
        first.stop()
        os.environ.clear()
        os.environ.update(saved)
    with pytest.raises(RuntimeError, match="was started in this process already"):
        LocalStack(stack_name="hashmatch-twice").start(poll=False)


# -- the two races of issue 13 that the bench saw, each driven step by step -------------------------


@contextmanager
def _stepped_stack(name: str, killers: dict[str, WorkerKiller], **options: Any) -> Iterator[LocalStack]:
    """A local stack whose functions run only when a test delivers to them; `killers`: by the
    function's logical id, the worker killer around its invocations. The process's environment,
    which a stack sets for its functions, is put back after."""
    saved = dict(os.environ)

    @contextmanager
    def around(function: Any, messages: list[dict[str, Any]]) -> Iterator[None]:
        killer = killers.get(function.logical_id)
        if killer is None:
            yield
            return
        with killer.invocation(function, messages):
            yield

    for killer in killers.values():
        killer.install()
    stack = LocalStack(stack_name=name, around_invoke=around, **options).start(poll=False)
    try:
        yield stack
    finally:
        stack.stop()
        for killer in killers.values():
            killer.uninstall()
        os.environ.clear()
        os.environ.update(saved)


def _killer(function: str, after: str, deaths: int = 1) -> WorkerKiller:
    """`function`'s first `deaths` invocations die right after their first call to `after`."""
    return WorkerKiller(0.0, seed=1, functions=frozenset({function}), at_least=deaths, after=after)


def _deliver(stack: LocalStack, queue_output: str, timeout: float = 60) -> bool:
    """One invocation of the function on the queue, on a thread of its own (a new instance, cold),
    once a message is there; whether its worker was killed."""
    function = next(f for f in stack.functions if f.queue_url == stack.outputs[queue_output])
    sqs = client("sqs", stack.endpoint)
    outcome: dict[str, Any] = {}

    def invoke() -> None:
        deadline = time.monotonic() + timeout
        try:
            while not stack.deliver(function, sqs):
                if time.monotonic() > deadline:
                    outcome["error"] = AssertionError(f"nothing came on {queue_output} in {timeout} s")
                    return
                time.sleep(0.2)
        except WorkerKilled:
            outcome["killed"] = True
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=invoke, name=f"{function.logical_id}-stepped")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return bool(outcome.get("killed"))


def _inbox(stack: LocalStack, platform: str) -> list[dict[str, Any]]:
    sqs = client("sqs", stack.endpoint)
    url = sqs.get_queue_url(QueueName=inbox_queue_name(stack.stack_name, platform))["QueueUrl"]
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _answers(stack: LocalStack, platform: str, key: str) -> list[str]:
    """The final answers `platform` was told about `key`, one per notification id."""
    found = {
        body["notification_id"]: body["event_type"]
        for body in _inbox(stack, platform)
        if body.get("object", {}).get("key") == key
    }
    return sorted(found.values())


def test_a_retry_of_the_hashing_function_that_finds_its_own_deletion_never_answers_expired() -> None:
    """The hashing function hands a check on, deletes the picture and dies; the check function's
    first attempt at the real submission dies too. The hashing retry finds the picture gone and
    sends `gone`, which the check function meets before the real submission's own retry: the
    platform must get the real verdict, not `check.expired` (upload again)."""
    killers = {
        "HashFunction": _killer("HashFunction", after="s3.DeleteObject"),
        "CheckFunction": _killer("CheckFunction", after="dynamodb.PutItem"),  # its claim on the check, live
    }
    # The retry leaves the hashing retry ~7 s to hand `gone` over before the real submission shows
    # again: at 8 s (~3 s), a machine running the rest of the suite beside it once missed it.
    function_timeout, retry = 3, 16
    with _stepped_stack(
        "hashmatch-gone-race", killers, function_timeout=function_timeout, retry_seconds=retry
    ) as stack:
        key = "check/facebook/held.jpg"
        client("s3", stack.endpoint).put_object(
            Bucket=stack.outputs["IngestBucketName"],
            Key=key,
            Body=jpeg_bytes(scene(4401)),
            Metadata={"content-id": "held"},
        )
        assert _deliver(stack, "HashQueueUrl"), "the hashing function was to die after deleting the picture"
        time.sleep(retry / 2)  # the real submission's retry comes well after the hashing retry
        assert _deliver(stack, "CheckQueueUrl"), "the check function was to die on the real submission"
        check_died = time.monotonic()
        assert not _deliver(stack, "HashQueueUrl", timeout=2 * retry)  # the retry: the picture is gone
        # The `gone` is met once the dead attempt's claim lapsed, before the real
        # submission is shown again.
        time.sleep(max(0.0, check_died + function_timeout + 0.5 - time.monotonic()))
        # `gone` is there already; a loaded machine may take a few seconds to hand it over.
        assert not _deliver(stack, "CheckQueueUrl", timeout=max(1.0, check_died + retry - 1.0 - time.monotonic()))
        assert time.monotonic() < check_died + retry, "too slow to meet `gone` first; the test proves nothing"
        assert not _deliver(stack, "CheckQueueUrl", timeout=2 * retry)  # the real submission's retry

        assert dict(killers["HashFunction"].kills) == {"HashFunction after s3.DeleteObject": 1}
        assert dict(killers["CheckFunction"].kills) == {"CheckFunction after dynamodb.PutItem": 1}
        assert _answers(stack, "facebook", key) == ["check.clean"]


def test_a_share_that_keeps_failing_after_storing_its_item_leaves_nothing_matching() -> None:
    """The share function stores the item and dies, on every try the queue allows; its dead letter
    is answered `share.failed`, and the item it stored must not stay active for rivals to match."""
    attempts = 5  # the share queue's maxReceiveCount
    killers = {"ShareFunction": _killer("ShareFunction", after="dynamodb.BatchWriteItem", deaths=attempts)}
    with _stepped_stack("hashmatch-failed-share", killers, function_timeout=2, retry_seconds=3) as stack:
        key = "share/tiktok/flagged.jpg"
        body = jpeg_bytes(scene(4402))
        client("s3", stack.endpoint).put_object(
            Bucket=stack.outputs["IngestBucketName"], Key=key, Body=body, Metadata={"labels": "graphic-violence"}
        )
        assert not _deliver(stack, "HashQueueUrl")
        for _attempt in range(attempts):
            _deliver(stack, "ShareQueueUrl", timeout=30)
        assert sum(killers["ShareFunction"].kills.values()) >= 1, "no attempt stored the item and died"
        # The record received once too often: SQS moves it to the dead-letter queue instead.
        moved = client("sqs", stack.endpoint).receive_message(
            QueueUrl=stack.outputs["ShareQueueUrl"], WaitTimeSeconds=5
        )
        assert "Messages" not in moved
        assert not _deliver(stack, "ShareDeadLetterQueueUrl", timeout=30)

        item_id = item_id_for("tiktok", "sha256", hashlib.sha256(body).hexdigest())
        record = client("dynamodb", stack.endpoint).get_item(
            TableName=stack.outputs["BankTableName"],
            Key={"pk": {"S": f"ITEM#{item_id}"}, "sk": {"S": "META"}},
            ConsistentRead=True,
        )["Item"]
        assert record["status"]["S"] == "withdrawn"
        told = {b["event_type"]: b for b in _inbox(stack, "tiktok") if b.get("object", {}).get("key") == key}
        assert set(told) == {"share.failed", "hash.withdrawn"}
        assert "withdrawn" in told["share.failed"]["failure"]["message"]
        rival = [b for b in _inbox(stack, "facebook") if b["event_type"] == "hash.withdrawn"]
        assert [item["item_id"] for b in rival for item in b["items"]] == [item_id]
