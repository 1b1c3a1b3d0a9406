"""Faults for the local stack: AWS calls that fail the ways they fail in AWS, and workers that die.

`FaultInjector` is WSGI middleware in front of moto's application. The local stack serves it on a
port of its own for the functions' AWS clients only (`LocalStack(function_middleware=
injector.wrap)`), so
a benchmark's or test's own calls (putting objects, reading inboxes) and the pollers standing in
for Lambda's event source mappings never meet a fault. Of the requests to DynamoDB, S3 and SNS, a
seeded random share `rate` fails in one of these ways (`KIND_WEIGHTS`):

- ``throttle``: the service's own throttling error, as it sends it (DynamoDB
  ``ProvisionedThroughputExceededException``, S3 ``SlowDown`` 503, SNS ``Throttling``);
- ``server_error``: a 500 or 503 with the service's error code;
- ``stall``: the reply comes, late (0.2-1.5 s);
- ``drop``: the connection is reset before the request reaches the service;
- ``lost_reply``: the service carries the request out, then, after a stall, the connection drops
  before the reply: the caller cannot know it happened, and its retry repeats it.

``drop`` and ``lost_reply`` are the timeouts: what a caller whose call timed out knows is that no
reply came, whether or not the service acted. They end in a reset connection rather than in
botocore's own read timeout (60 s by default, set in the product's clients, not here), which
botocore retries the same way (both are connection errors in its standard retry mode); a 60 s
wait per fault would not fit a bounded run.

Nothing else is changed: botocore's own retries then act as they would in AWS (its default
"standard" mode: 3 attempts, 4 for DynamoDB, within a retry quota per client), and what they
cannot absorb reaches the function's own error handling.

`WorkerKiller` kills function instances mid-invocation: the local stack's poller enters
`killer.invocation(...)` around each invocation (`LocalStack(around_invoke=killer.invocation)`),
and for a seeded share `rate` of invocations it raises `WorkerKilled` right after the k-th AWS
call the handler completes (k drawn from 1-`MAX_CALLS_BEFORE_DEATH`), e.g. just after a verdict
was published and before it was marked published; any later call of the dead invocation raises
too. The calls are seen through botocore event hooks that `install()` adds (to the sessions
created after it) and that act only on a thread inside an invocation drawn to die.
"""

from __future__ import annotations

import io
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from typing import Any, NoReturn
from urllib.parse import parse_qs

from botocore import handlers

from hashmatch_tools.local.stack import QueueFunction, WorkerKilled, WsgiApp

__all__ = [
    "FAULTED_SERVICES",
    "KIND_WEIGHTS",
    "MAX_CALLS_BEFORE_DEATH",
    "FaultInjector",
    "FaultKind",
    "WorkerKiller",
]

FAULTED_SERVICES = frozenset({"dynamodb", "s3", "sns"})


class FaultKind(StrEnum):
    THROTTLE = "throttle"
    SERVER_ERROR = "server_error"
    STALL = "stall"
    DROP = "drop"
    LOST_REPLY = "lost_reply"


# How a faulted request fails, by share of the faulted requests.
KIND_WEIGHTS: dict[FaultKind, float] = {
    FaultKind.THROTTLE: 0.35,
    FaultKind.SERVER_ERROR: 0.25,
    FaultKind.STALL: 0.15,
    FaultKind.DROP: 0.15,
    FaultKind.LOST_REPLY: 0.10,
}
# A stalled reply, or a lost one, comes (or is given up) after this many seconds: long enough to
# reorder work between the pollers, short of botocore's 60 s read timeout.
STALL_SECONDS = (0.2, 1.5)
MAX_CALLS_BEFORE_DEATH = 16

# (HTTP status, error code, message) per service: throttling, then the server errors.
_THROTTLING = {
    "dynamodb": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
    "sns": (400, "Throttling", "Rate exceeded"),
}
_SERVER_ERRORS = {
    "dynamodb": ((500, "InternalServerError", "Internal server error"), (503, "ServiceUnavailable", "Unavailable")),
    "s3": (
        (500, "InternalError", "We encountered an internal error. Please try again."),
        (503, "ServiceUnavailable", "Service is unable to handle request."),
    ),
    "sns": ((500, "InternalError", "Internal error"), (503, "ServiceUnavailable", "Service unavailable")),
}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/aws4_request")


def service_of(environ: dict[str, Any]) -> str:
    """The AWS service a request is for, from its SigV4 credential scope ("" when unsigned)."""
    found = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return found.group(1) if found else ""


def operation_of(service: str, environ: dict[str, Any]) -> str:
    """The API operation a request calls, as far as its headers and (small, form) body say."""
    if service == "dynamodb":
        return str(environ.get("HTTP_X_AMZ_TARGET", ".?")).rsplit(".", 1)[-1]
    if service == "sns":
        stream = environ["wsgi.input"]
        body = bytes(stream.getvalue()) if isinstance(stream, io.BytesIO) else b""
        return parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    method = str(environ.get("REQUEST_METHOD", "?"))
    has_key = "/" in str(environ.get("PATH_INFO", "")).strip("/")
    return f"{method} {'object' if has_key else 'bucket'}"


class FaultInjector:
    """WSGI middleware: the application it wraps (moto's, through `wrap`), with `rate` of the
    DynamoDB, S3 and SNS requests failing as `KIND_WEIGHTS` says. `counts` holds what was
    injected, by (service, operation, kind); `requests` every request seen, by service, and
    `operations` by (service, operation). Thread-safe."""

    def __init__(
        self,
        rate: float,
        seed: int,
        services: frozenset[str] = FAULTED_SERVICES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"a fault rate is a share of requests, 0 to 1, not {rate}")
        self._app: WsgiApp | None = None
        self._rate = rate
        self._services = services
        self._sleep = sleep
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str, FaultKind]] = Counter()
        self.requests: Counter[str] = Counter()
        self.operations: Counter[tuple[str, str]] = Counter()

    def wrap(self, app: WsgiApp) -> FaultInjector:
        """This injector in front of `app`: what `LocalStack(function_middleware=...)` takes."""
        self._app = app
        return self

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self._app
        if app is None:
            raise RuntimeError("FaultInjector.wrap(app) first")
        service = service_of(environ)
        if service not in self._services:
            return app(environ, start_response)
        # Read whole before anything else: a dropped connection must leave no unread body behind,
        # which the server would take for the next request on the connection.
        _buffer_body(environ)
        operation = operation_of(service, environ)
        with self._lock:
            self.requests[service] += 1
            self.operations[(service, operation)] += 1
            kind = self._draw() if self._random.random() < self._rate else None
            delay = self._random.uniform(*STALL_SECONDS)
            server_error = self._random.choice(_SERVER_ERRORS[service])
            if kind is not None:
                self.counts[(service, operation, kind)] += 1
        if kind is None:
            return app(environ, start_response)
        if kind is FaultKind.THROTTLE:
            return _error(environ, start_response, service, *_THROTTLING[service])
        if kind is FaultKind.SERVER_ERROR:
            return _error(environ, start_response, service, *server_error)
        if kind is FaultKind.STALL:
            self._sleep(delay)
            return app(environ, start_response)
        if kind is FaultKind.LOST_REPLY:
            reply = app(environ, lambda *_args, **_kwargs: lambda _data: None)
            try:
                for _chunk in reply:
                    pass
            finally:
                close = getattr(reply, "close", None)
                if close is not None:
                    close()
            self._sleep(delay)
        return _drop(environ)

    def _draw(self) -> FaultKind:
        pick, total = self._random.random(), 0.0
        for kind, weight in KIND_WEIGHTS.items():
            total += weight
            if pick < total:
                return kind
        return FaultKind.THROTTLE

    def busiest(self, count: int = 5) -> str:
        """One line: the `count` operations requested most, with how many requests each."""
        with self._lock:
            top = self.operations.most_common(count)
        return "requests by operation: " + ", ".join(f"{service} {operation} {n}" for (service, operation), n in top)

    def summary(self) -> str:
        """One line: requests seen and faults injected, per service and kind."""
        with self._lock:
            by_service: Counter[str] = Counter()
            by_kind: Counter[str] = Counter()
            for (service, _operation, kind), count in self.counts.items():
                by_service[service] += count
                by_kind[kind.value] += count
            seen = sum(self.requests.values())
        services = ", ".join(f"{s} {by_service[s]}/{self.requests[s]}" for s in sorted(self.requests))
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items()))
        return f"faults injected {sum(by_service.values())} of {seen} requests ({services}): {kinds}"


def _error(
    environ: dict[str, Any], start_response: Callable[..., Any], service: str, status: int, code: str, message: str
) -> list[bytes]:
    """The error reply `service` would send, in its own protocol's format."""
    request_id = uuid.uuid4().hex
    if service == "dynamodb":
        content_type = "application/x-amz-json-1.0"
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    elif service == "s3":
        content_type = "application/xml"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()
    else:
        content_type = "text/xml"
        side = "Sender" if status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<Error><Type>{side}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    reasons = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}
    start_response(
        f"{status} {reasons.get(status, 'Error')}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
            ("x-amz-request-id", request_id),
        ],
    )
    return [body]


def _buffer_body(environ: dict[str, Any]) -> None:
    """The request's body read to its end (without waiting on the client) and put back in memory."""
    stream = environ["wsgi.input"]
    if str(environ.pop("HTTP_TRANSFER_ENCODING", "")).lower() == "chunked":
        body = bytes(stream.read())  # werkzeug de-chunks it and stops at the last chunk
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = bytes(stream.read(length)) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _drop(environ: dict[str, Any]) -> NoReturn:
    """Reset the request's connection: the client reads no reply at all."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    # The server takes a ConnectionError for a client gone and writes nothing more.
    raise ConnectionAbortedError("fault injected: connection dropped")


class WorkerKiller:
    """Function instances that die mid-invocation, for a seeded share `rate` of invocations.

    `install()` (or `with`) before the stack's functions build their AWS clients; pass
    `invocation` as the stack's `around_invoke`. `kills` counts deaths by function and the call
    they followed, `armed` the invocations drawn to die (some finish in fewer calls than drawn and
    survive)."""

    def __init__(
        self,
        rate: float,
        seed: int,
        functions: frozenset[str] | None = None,
        at_least: int = 0,
        after: str | None = None,
    ) -> None:
        """`functions`: the logical ids whose instances may die (all when None); `at_least`: every
        invocation of them is drawn to die until that many have died, whatever `rate` says; those
        die right after their first call to `after` ("service.Operation", e.g. "sns.Publish")
        when it is given, after a random one of their first calls otherwise."""
        if not 0 <= rate <= 1:
            raise ValueError(f"a kill rate is a share of invocations, 0 to 1, not {rate}")
        self._rate = rate
        self._at_least = at_least
        self._after = f"after-call.{after}" if after else None
        self._functions = functions
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._hooks = [("before-call", self._before_call), ("after-call", self._after_call)]
        self.kills: Counter[str] = Counter()
        self.armed = 0

    def install(self) -> WorkerKiller:
        for hook in self._hooks:
            handlers.BUILTIN_HANDLERS.append(hook)
        return self

    def uninstall(self) -> None:
        for hook in self._hooks:
            with suppress(ValueError):
                handlers.BUILTIN_HANDLERS.remove(hook)

    def __enter__(self) -> WorkerKiller:
        return self.install()

    def __exit__(self, *_exc: object) -> None:
        self.uninstall()

    @contextmanager
    def invocation(self, function: QueueFunction, _messages: list[dict[str, Any]]) -> Iterator[None]:
        """One invocation on this thread: drawn to die (after which call) or not. Only calls made
        inside it count, so the poller's own receive and delete calls never die."""
        chosen = self._functions is None or function.logical_id in self._functions
        with self._lock:
            drawn = self._random.random() < self._rate
            forced = not drawn and sum(self.kills.values()) < self._at_least
            dies = chosen and (drawn or forced)
            calls = self._random.randint(1, MAX_CALLS_BEFORE_DEATH)
            self.armed += dies
        self._local.function = function.logical_id
        self._local.calls_left = calls if dies and not (forced and self._after) else None
        self._local.after = self._after if chosen and forced else None
        self._local.dead = False
        try:
            yield
        finally:
            self._local.calls_left = None
            self._local.after = None
            self._local.dead = False

    def _before_call(self, event_name: str = "", **_kwargs: Any) -> None:
        if getattr(self._local, "dead", False):
            raise WorkerKilled(f"{self._local.function} is dead; no more calls ({event_name})")

    def _after_call(self, event_name: str = "", **_kwargs: Any) -> None:
        left = getattr(self._local, "calls_left", None)
        after = getattr(self._local, "after", None)
        if after is not None:
            if event_name != after:
                return
            self._local.after = None
        elif left is None:
            return
        else:
            self._local.calls_left = left - 1
            if left > 1:
                return
            self._local.calls_left = None
        self._local.dead = True
        call = event_name.removeprefix("after-call.")
        with self._lock:
            self.kills[f"{self._local.function} after {call}"] += 1
        raise WorkerKilled(f"{self._local.function} killed after {call}")

    def summary(self) -> str:
        with self._lock:
            total = sum(self.kills.values())
            by_function: Counter[str] = Counter()
            for where, count in self.kills.items():
                by_function[where.split(" ", 1)[0]] += count
        functions = ", ".join(f"{f} {n}" for f, n in sorted(by_function.items()))
        return f"workers killed {total} ({functions}) of {self.armed} invocations drawn to die"
