"""The local stack: moto server on 127.0.0.1, the template's resources, and Lambda stand-ins.

`LocalStack.start()` creates the ingest bucket, queues (with their dead-letter redrive),
table and platform topics exactly as template.yaml defines them, wires bucket -> queues,
subscribes one inbox queue per platform topic, and polls each function's queue, calling the
very handler the Lambda runs (`CodeUri` + `Handler` from the template) with an SQS event.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import boto3

from hashmatch_tools.local.template import Stack

logger = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "hashmatch-local"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
RETRY_BACKOFF_SECONDS = 1
EMULATED_TYPES = ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic")
# The local HTTP API stands in for the template's LookupApi: functions and clients are pointed at it.
LOOKUP_API_VARIABLE = "LOOKUP_API_URL"
LOOKUP_API_OUTPUT = "LookupApiUrl"
# Where clients of the local stack find its HTTP API: an SSM parameter on the local endpoint.
LOOKUP_API_PARAMETER = "/hashmatch-local/lookup-api-url"
# Where the functions' Lambda clients send `Invoke` (boto3 reads the service's own endpoint here).
LAMBDA_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_LAMBDA"
# Who signed a request to the local HTTP API is read from the access key id in its SigV4
# Authorization header (nothing is verified): a member platform signs with its own key,
# `member_access_key(platform)`, and is then a session of its role, as a member in an account of
# its own is in AWS; any other key (the local credentials' "local" among them) is a user of the
# local account of that name, as the operators' principals are.
MEMBER_ACCESS_KEY_PREFIX = "local-member-"
_SIGNING_KEY = re.compile(r"Credential=([^/,\s]+)/")

# A WSGI application, and what wraps one: `LocalStack(function_middleware=...)` puts such a wrapper
# (hashmatch_tools.local.faults) between the functions and the AWS emulation.
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
WsgiMiddleware = Callable[[WsgiApp], WsgiApp]


class WorkerKilled(BaseException):
    """A function instance dying mid-invocation (out of memory, a crash, a timeout). A BaseException,
    so the handler's own error handling lets it through, as it would let a dead process be: raised
    inside a handler, nothing of its batch is acknowledged and SQS delivers the batch again."""


def project_root() -> Path:
    """The checkout holding template.yaml: the working directory or the one this package lives in."""
    for candidate in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[4]):
        if (candidate / "template.yaml").is_file():
            return candidate
    raise FileNotFoundError("template.yaml not found: run from the hashmatch checkout or pass --template")


def route_pattern(route: str) -> re.Pattern[str]:
    """The paths an HTTP API route (``/v1/items/{item_id}``) answers: each ``{name}`` one
    non-empty path segment, as API Gateway matches them."""
    parts = re.split(r"\{(\w+)\}", route)
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)))


def member_access_key(platform: str) -> str:
    """The access key id `platform` signs requests to the local HTTP API with (any secret will do)."""
    return f"{MEMBER_ACCESS_KEY_PREFIX}{platform}"


def caller_identity(authorization: str, stack: Stack) -> dict[str, Any]:
    """``requestContext.authorizer.iam`` as API Gateway would give it for the key that signed
    `authorization`: a member's key is a session of its role (``<stack>-<platform>``, the template's
    ``MemberRole<platform>`` name, in the local account), any other key a user of that name."""
    found = _SIGNING_KEY.search(authorization)
    key = found.group(1) if found else ""
    account = stack.account_id
    if key.startswith(MEMBER_ACCESS_KEY_PREFIX):
        platform = key.removeprefix(MEMBER_ACCESS_KEY_PREFIX)
        caller = f"AROALOCAL{platform.upper()}:local"
        role = stack.resources.get(f"MemberRole{platform}", {}).get("Properties", {}).get("RoleName")
        role_name = stack.resolve(role) if role is not None else f"{stack.name}-{platform}"
        arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/local"
    else:
        caller, arn = f"AIDALOCAL{key.upper()}", f"arn:aws:iam::{account}:user/{key}"
    return {
        "accessKey": key,
        "accountId": account,
        "callerId": caller,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": arn,
        "userId": caller,
    }


def inbox_queue_name(stack_name: str, platform: str) -> str:
    return f"{stack_name}-inbox-{platform}"


def client(service: str, endpoint: str) -> Any:
    return boto3.session.Session(region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"]).client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def topic_arn(stack: Stack, platform: str) -> str:
    """The platform's topic ARN as the template's TOPIC_ARN_TEMPLATE convention names it."""
    return str(stack.resolve({"Fn::Sub": "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-" + platform}))


def provision(stack: Stack, make_client: Callable[[str], Any]) -> None:
    """Create the template's tables, topics, queues and buckets (with their notifications)."""
    dynamodb, sqs, sns, s3 = (make_client(name) for name in ("dynamodb", "sqs", "sns", "s3"))
    for logical, spec in stack.of_type("AWS::DynamoDB::Table").items():
        _create_table(dynamodb, stack.physical_names(logical)["ref"], stack.resolve(spec.get("Properties", {})))
    for logical in stack.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=stack.physical_names(logical)["TopicName"])
    queues = stack.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: a redrive policy names its target by ARN.
    for logical in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {})):
        properties = stack.resolve(queues[logical].get("Properties", {}))
        attributes = {
            key: json.dumps(value) if isinstance(value, dict) else str(value)
            for key, value in properties.items()
            if key in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "DelaySeconds")
        }
        name = stack.physical_names(logical)["QueueName"]
        stack.physical[logical]["ref"] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    for logical, spec in stack.of_type("AWS::S3::Bucket").items():
        properties = stack.resolve(spec.get("Properties", {}))
        bucket = stack.physical_names(logical)["ref"]
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=bool(properties.get("ObjectLockEnabled")))
        lock = properties.get("ObjectLockConfiguration")
        if lock:  # a parameter resolves to text; the API wants whole days
            retention = lock["Rule"]["DefaultRetention"]
            retention["Days"] = int(retention["Days"])
            s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)
        queue_configurations = [
            {
                "QueueArn": entry["Queue"],
                "Events": [entry["Event"]],
                "Filter": {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}},
            }
            for entry in properties.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        ]
        if queue_configurations:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configurations}
            )
    skipped = sorted({spec["Type"] for spec in stack.resources.values()} - set(EMULATED_TYPES))
    logger.info("resources not emulated locally: %s", ", ".join(skipped))


def _create_table(dynamodb: Any, name: str, properties: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    wanted = ("IndexName", "KeySchema", "Projection")
    indexes = [
        {k: v for k, v in index.items() if k in wanted} for index in properties.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    dynamodb.create_table(**request)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


class _LambdaContext:
    """What handlers and Powertools read from Lambda's context object."""

    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class QueueFunction:
    """A function and the queue whose event source mapping feeds it."""

    logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    timeout: int
    memory: int
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]


# What `LocalStack(around_invoke=...)` takes: a context around one invocation of a function with a batch.
InvocationHook = Callable[[QueueFunction, list[dict[str, Any]]], contextlib.AbstractContextManager[Any]]


def _load_handler(root: Path, code_uri: str, handler: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    module_name, function_name = handler.rsplit(".", 1)
    path = root / code_uri / f"{module_name.replace('.', '/')}.py"
    module_id = f"hashmatch_function_{code_uri.strip('/').replace('/', '_')}"
    spec = importlib.util.spec_from_file_location(module_id, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"handler module {path} not found")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler_function: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(module, function_name)
    return handler_function


class _MotoProcess:
    """moto server in a process of its own on 127.0.0.1, with `ThreadedMotoServer`'s interface:
    its work then runs beside the functions' instead of taking turns with them for one
    interpreter lock. Its state is not this process's: nothing here may reach moto's backends
    directly (no `function_middleware`)."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, wait_seconds: float = 30.0) -> None:
        if not self._port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self._port = probe.getsockname()[1]
        command = [sys.executable, "-m", "hashmatch_tools.local.moto_server", "-H", "127.0.0.1", "-p", str(self._port)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited ({self._process.returncode}) on 127.0.0.1:{self._port}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self._port), timeout=1):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not listen on 127.0.0.1:{self._port} within {wait_seconds} s")

    def get_host_and_port(self) -> tuple[str, int]:
        return "127.0.0.1", self._port

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


class LocalStack:
    """The whole system against an AWS emulation on 127.0.0.1; `start()` then `stop()`."""

    # moto keeps its state per process, for as long as the process lives: a second stack of one
    # name on an in-process moto server would meet the first one's tables, queues and topics.
    # The names of the stacks started on one here.
    _started_in_process: ClassVar[set[str]] = set()

    def __init__(
        self,
        root: Path | None = None,
        port: int = 0,
        stack_name: str = DEFAULT_STACK_NAME,
        parameters: dict[str, str] | None = None,
        retroactive: bool = True,
        function_middleware: WsgiMiddleware | None = None,
        around_invoke: InvocationHook | None = None,
        function_timeout: int | None = None,
        retry_seconds: int = RETRY_BACKOFF_SECONDS,
        instances: int = 1,
        moto_process: bool = False,
    ) -> None:
        """`function_middleware`: wraps the AWS emulation the functions call (their
        `AWS_ENDPOINT_URL`), served on a port of its own; clients of the stack keep `endpoint`,
        which it does not wrap. `around_invoke`: a context entered on the poller's thread around
        each invocation, given the function and the batch's messages (e.g. one that may raise
        `WorkerKilled` inside the handler).

        `function_timeout` (seconds; default the template's `Timeout`) is the deadline the Lambda
        context reports, which bounds how long a submission's claim lasts; a record
        that failed, or whose worker died, is shown again after `retry_seconds` (Lambda: the
        queue's visibility timeout, 1800 s). In AWS the retry always comes after the deadline
        passed; runs that compress time and expect claims left live (faults, killed
        workers) must keep `retry_seconds` above `function_timeout`, or every retry meets the
        dead attempt's live claim and the record is dead-lettered.

        `instances`: pollers per queue, each one warm instance of its function with its own
        runtime (Lambda scales out to the mapping's concurrency; one is the default here).
        `moto_process`: moto server in a child process rather than a thread of this one, for
        load that would otherwise share one interpreter lock with the functions."""
        if moto_process and function_middleware is not None:
            raise ValueError("function_middleware wraps moto in this process: it cannot take moto_process")
        if function_timeout is not None and retry_seconds <= function_timeout:
            raise ValueError(f"retry_seconds ({retry_seconds}) must exceed function_timeout ({function_timeout})")
        self.root = root or project_root()
        # Every member opts in to retroactive matching here, so it can be tried at once.
        self.parameters = {"RetroactivePlatforms": "*" if retroactive else "", **(parameters or {})}
        self.port = port
        self.stack_name = stack_name
        self.endpoint = ""
        # What the functions' AWS clients call: `endpoint`, or the middleware in front of it.
        self.function_endpoint = ""
        self._function_middleware = function_middleware
        self._function_server: Any = None
        self._around_invoke = around_invoke
        self._function_timeout = function_timeout
        self._retry_seconds = retry_seconds
        self._instances = instances
        self._moto_process = moto_process
        self.stack: Stack | None = None
        self._server: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.functions: list[QueueFunction] = []
        # (method, path as the template writes it, `{name}` parameters included) -> handler
        self.routes: dict[tuple[str, str], Callable[[dict[str, Any], Any], dict[str, Any]]] = {}
        # Functions other functions invoke (no event source): name -> (handler, timeout, memory)
        self.invocable: dict[str, tuple[Callable[[dict[str, Any], Any], dict[str, Any]], int, int]] = {}
        self._invocations: http.server.HTTPServer | None = None
        # Invocations served per function name (what a test can check the fan-out went through).
        self.invoked: collections.Counter[str] = collections.Counter()
        self.api_endpoint = ""
        self._api: http.server.HTTPServer | None = None

    def start(self, poll: bool = True) -> LocalStack:
        from moto.server import ThreadedMotoServer

        from hashmatch_tools.local.moto_server import partition_queries

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self._moto_process:
            self._server = _MotoProcess(self.port)
        else:
            if self.stack_name in LocalStack._started_in_process:
                raise RuntimeError(
                    f"a local stack named {self.stack_name!r} was started in this process already, and moto keeps "
                    "its state per process: give this one another stack_name, or moto_process=True"
                )
            LocalStack._started_in_process.add(self.stack_name)
            partition_queries()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self.function_endpoint = self._serve_function_endpoint()
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.function_endpoint
        # CloudWatch metrics are JSON lines on stdout in Lambda; here they would bury the console.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self.stack = Stack.from_file(
            self.root / "template.yaml", self.stack_name, endpoint=self.endpoint, overrides=self.parameters
        )
        self._create_resources()
        self._configure_functions()
        self._serve_api()
        self._serve_invocations()
        if poll:
            for function in self.functions:
                for _instance in range(self._instances):
                    self._start_poller(function)
        return self

    def _start_poller(self, function: QueueFunction) -> None:
        thread = threading.Thread(target=self._poll, args=(function,), daemon=True, name=function.logical_id)
        thread.start()
        self._threads.append(thread)

    def _serve_function_endpoint(self) -> str:
        """The endpoint the functions call: moto's own, or `function_middleware` wrapping moto's
        application on a second port of 127.0.0.1 (the same backends: moto keeps one state per process)."""
        if self._function_middleware is None:
            return self.endpoint
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = self._function_middleware(DomainDispatcherApplication(create_backend_app))
        self._function_server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        thread = threading.Thread(target=self._function_server.serve_forever, daemon=True, name="FunctionEndpoint")
        thread.start()
        self._threads.append(thread)
        return f"http://127.0.0.1:{self._function_server.server_address[1]}"

    def stop(self) -> None:
        self._stop.set()
        for server in (self._api, self._invocations):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self._function_server is not None:
            self._function_server.shutdown()
            self._function_server.server_close()
        for thread in list(self._threads):
            thread.join(timeout=10)
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def outputs(self) -> dict[str, Any]:
        assert self.stack is not None
        outputs = self.stack.outputs()
        if self.api_endpoint:
            outputs[LOOKUP_API_OUTPUT] = self.api_endpoint
        return outputs

    @property
    def platforms(self) -> list[str]:
        assert self.stack is not None
        platforms: list[str] = self.stack.parameters["Platforms"]
        return platforms

    def _create_resources(self) -> None:
        assert self.stack is not None
        provision(self.stack, lambda service: client(service, self.endpoint))
        sqs, sns = client("sqs", self.endpoint), client("sns", self.endpoint)
        for platform in self.platforms:
            url = sqs.create_queue(QueueName=inbox_queue_name(self.stack_name, platform))["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            sns.subscribe(TopicArn=topic_arn(self.stack, platform), Protocol="sqs", Endpoint=attributes["QueueArn"])

    def _configure_functions(self) -> None:
        stack = self.stack
        assert stack is not None
        function_globals = stack.template.get("Globals", {}).get("Function", {})
        for logical, spec in stack.of_type("AWS::Serverless::Function").items():
            properties = {**function_globals, **spec.get("Properties", {})}
            os.environ.update(stack.function_environment(logical))
            if not properties.get("Events"):
                self.invocable[stack.physical_names(logical)["ref"]] = (
                    _load_handler(self.root, properties["CodeUri"], properties["Handler"]),
                    int(stack.resolve(properties.get("Timeout", 3))),
                    int(stack.resolve(properties.get("MemorySize", 128))),
                )
            for event in properties.get("Events", {}).values():
                if event.get("Type") == "HttpApi":
                    route = (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
                    self.routes[route] = _load_handler(self.root, properties["CodeUri"], properties["Handler"])
                if event.get("Type") != "SQS":
                    continue
                queue_arn = stack.resolve(event["Properties"]["Queue"])
                queue_logical = next(
                    name for name in stack.of_type("AWS::SQS::Queue") if stack.physical_names(name)["Arn"] == queue_arn
                )
                self.functions.append(
                    QueueFunction(
                        logical_id=logical,
                        queue_url=stack.physical_names(queue_logical)["ref"],
                        queue_arn=queue_arn,
                        batch_size=int(event["Properties"].get("BatchSize", 10)),
                        timeout=self._function_timeout or int(stack.resolve(properties.get("Timeout", 3))),
                        memory=int(stack.resolve(properties.get("MemorySize", 128))),
                        handler=_load_handler(self.root, properties["CodeUri"], properties["Handler"]),
                    )
                )

    def _serve_api(self) -> None:
        """The template's HTTP API routes on 127.0.0.1, each calling its function's handler with an
        API Gateway (payload 2.0) event. One request at a time, on one thread, as one warm function.

        IAM auth stand-in: a request must carry a SigV4 Authorization header (the local credentials
        sign it); signatures are not verified here, where every credential is a placeholder. The
        caller is named in the event as API Gateway names it, from the signing key (`caller_identity`)."""
        if not self.routes:
            return
        assert self.stack is not None
        stack: Stack = self.stack
        routes = [(method, route, route_pattern(route), handler) for (method, route), handler in self.routes.items()]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(self.command)

            def __getattr__(self, name: str) -> Any:
                # Every method (POST, PUT, QUERY, ...) reaches the routing: a method no route
                # takes is API Gateway's 404, not http.server's 501.
                if name.startswith("do_"):
                    return self.do_GET
                raise AttributeError(name)

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                path, _, query = self.path.partition("?")
                found = [
                    (route, match, handler)
                    for route_method, route, pattern, handler in routes
                    if route_method == method and (match := pattern.fullmatch(path))
                ]
                authorization = str(self.headers.get("authorization", ""))
                if not authorization.startswith("AWS4-HMAC-SHA256 "):
                    result: dict[str, Any] = {"statusCode": 403, "body": json.dumps({"message": "Forbidden"})}
                elif not found:
                    result = {"statusCode": 404, "body": json.dumps({"message": "Not Found"})}
                else:
                    # A literal route wins over a parameterised one, as in API Gateway.
                    route, match, handler = min(found, key=lambda f: f[0].count("{"))
                    event = {
                        "version": "2.0",
                        "routeKey": f"{method} {route}",
                        "rawPath": path,
                        "rawQueryString": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "isBase64Encoded": False,
                        "requestContext": {
                            "accountId": stack.account_id,
                            "http": {"method": method, "path": path},
                            "routeKey": f"{method} {route}",
                            "authorizer": {"iam": caller_identity(authorization, stack)},
                        },
                    }
                    if match.groupdict():
                        event["pathParameters"] = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                    result = handler(event, _LambdaContext("LookupFunction", 29, 2048))
                payload = str(result.get("body", "")).encode()
                self.send_response(int(result.get("statusCode", 200)))
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("api: " + format, *args)

        self._api = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        port = self._api.server_address[1]
        self.api_endpoint = f"http://127.0.0.1:{port}"
        os.environ[LOOKUP_API_VARIABLE] = self.api_endpoint
        client("ssm", self.endpoint).put_parameter(
            Name=LOOKUP_API_PARAMETER, Value=self.api_endpoint, Type="String", Overwrite=True
        )
        thread = threading.Thread(target=self._api.serve_forever, daemon=True, name="LookupApi")
        thread.start()
        self._threads.append(thread)

    def _serve_invocations(self) -> None:
        """Lambda's synchronous `Invoke` for the functions other functions invoke, on 127.0.0.1:
        ``POST /2015-03-31/functions/<name>/invocations``, the handler's JSON answer, or Lambda's
        error payload with ``X-Amz-Function-Error: Unhandled``. Requests run side by side, as
        Lambda runs concurrent invocations in instances of their own."""
        if not self.invocable:
            return
        functions, invoked = self.invocable, self.invoked

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", self.path.partition("?")[0])
                name = urllib.parse.unquote(match.group(1)) if match else ""
                length = int(self.headers.get("content-length") or 0)
                request = self.rfile.read(length)
                error = ""
                if name not in functions:
                    status, payload = 404, {"Type": "User", "Message": f"Function not found: {name}"}
                else:
                    handler, timeout, memory = functions[name]
                    invoked[name] += 1
                    status = 200
                    try:
                        payload = handler(json.loads(request or b"{}"), _LambdaContext(name, timeout, memory))
                    except Exception as failure:  # Lambda answers an unhandled error, it does not fail the call
                        logger.warning("%s failed an invocation", name, exc_info=True)
                        error = "Unhandled"
                        payload = {"errorMessage": str(failure), "errorType": type(failure).__name__}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                if error:
                    self.send_header("X-Amz-Function-Error", error)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("lambda: " + format, *args)

        self._invocations = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        os.environ[LAMBDA_ENDPOINT_VARIABLE] = f"http://127.0.0.1:{self._invocations.server_address[1]}"
        thread = threading.Thread(target=self._invocations.serve_forever, daemon=True, name="LambdaInvoke")
        thread.start()
        self._threads.append(thread)

    def _poll(self, function: QueueFunction) -> None:
        sqs = client("sqs", self.endpoint)
        while not self._stop.is_set():
            try:
                self.deliver(function, sqs, wait_seconds=1)
            except WorkerKilled as death:
                # A new instance takes over, cold: a new thread starts with no runtime built.
                logger.warning("%s died mid-invocation (%s); a new instance takes over", function.logical_id, death)
                if not self._stop.is_set():
                    self._start_poller(function)
                return
            except Exception:
                logger.exception("poller for %s failed; retrying", function.logical_id)
                time.sleep(RETRY_BACKOFF_SECONDS)

    def deliver(self, function: QueueFunction, sqs: Any, wait_seconds: int = 0) -> int:
        """One event source mapping step: receive a batch, invoke, delete what succeeded."""
        response = sqs.receive_message(
            QueueUrl=function.queue_url,
            MaxNumberOfMessages=min(function.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": function.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        context = _LambdaContext(function.logical_id, function.timeout, function.memory)
        around = self._around_invoke(function, messages) if self._around_invoke else contextlib.nullcontext()
        try:
            with around:
                result = function.handler(event, context)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except WorkerKilled:
            # Nothing of the batch is deleted: SQS shows it again once its visibility timeout
            # passes, here after `retry_seconds` as for a failed record.
            for message in messages:
                sqs.change_message_visibility(
                    QueueUrl=function.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_seconds,
                )
            raise
        except Exception as error:
            # Powertools raises when every record of the batch failed: Lambda retries them all.
            # The handler has logged each record's error already.
            logger.warning("%s failed its whole batch: %s", function.logical_id, str(error).splitlines()[0])
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=function.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_seconds,
                )
            else:
                sqs.delete_message(QueueUrl=function.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)
