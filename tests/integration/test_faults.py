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

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hashmatch_tools.local.faults import FaultInjector, FaultKind
from hashmatch_tools.local.stack import LocalStack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_faults.py"
RUN_SECONDS = 900
LAST_LINE = re.compile(
    r"^faults: checks (?P<checks>\d+) verdicts (?P<verdicts>\d+) lost (?P<lost>\d+) duplicated (?P<duplicated>\d+) "
    r"contradictory (?P<contradictory>\d+) \| shares (?P<shares>\d+) complete (?P<complete>\d+)$"
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
    assert lines[-1] == "faults: checks 40 verdicts 40 lost 0 duplicated 0 contradictory 0 | shares 4 complete 4"
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
    assert result.last_line() == "faults: checks 4 verdicts 4 lost 1 duplicated 1 contradictory 1 | shares 0 complete 0"


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
    assert result.last_line().endswith("| shares 2 complete 1")


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
