"""Amazon's DynamoDB Local (the jar npm's amplify-dynamodb-simulator bundles), for integration tests.

DynamoDB Local listens on every interface and cannot be told otherwise, so `DynamoDBLocal.start()`
refuses to run unless this process is in a private network namespace whose only interface is the
loopback, as in `unshare --net bash -c 'ip link set lo up && make test'`. Install the jar with
`.ci/dynamodb-local.sh`.

Run `python tests/integration/dynamodb_local.py` to see whether it can start here and, if not, why.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES_ENV = "HASHMATCH_DYNAMODB_LOCAL_NODE_MODULES"
DEFAULT_NODE_MODULES = REPO_ROOT / ".cache" / "dynamodb-local" / "node_modules"
JAR_PATH = Path("amplify-dynamodb-simulator") / "emulator" / "DynamoDBLocal.jar"
NATIVE_LIBS_DIR = "DynamoDBLocal_lib"
INSTALL_HINT = "install it with .ci/dynamodb-local.sh"
ISOLATE_HINT = "run the tests inside `unshare --net bash -c 'ip link set lo up && ...'`"
# Start-up dominates a test session (the JVM loads ~60 jars); C1 only and the serial collector
# roughly halve it, and the emulator never runs long enough for C2 to pay off.
DEFAULT_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx1g")
STARTUP_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
_SQLITE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "aarch64", "arm64": "aarch64", "i686": "i386"}


class DynamoDBLocalUnavailable(RuntimeError):
    """DynamoDB Local cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class Installation:
    """Where the DynamoDB Local jar and its native SQLite libraries are."""

    jar: Path
    native_libs: Path


def find_installation(node_modules: Path | None = None) -> Installation:
    """The jar under `node_modules` (default: $HASHMATCH_DYNAMODB_LOCAL_NODE_MODULES or .cache/...).

    Raises DynamoDBLocalUnavailable when the package or the native library for this machine is missing.
    """
    if node_modules is None:
        node_modules = Path(os.environ.get(NODE_MODULES_ENV) or DEFAULT_NODE_MODULES)
    jar = node_modules / JAR_PATH
    if not jar.is_file():
        found = sorted(node_modules.glob(f"**/{JAR_PATH.name}")) if node_modules.is_dir() else []
        if not found:
            raise DynamoDBLocalUnavailable(f"DynamoDB Local jar not found under {node_modules}: {INSTALL_HINT}")
        jar = found[0]
    native_libs = jar.parent / NATIVE_LIBS_DIR
    arch = _SQLITE_ARCH.get(platform.machine().lower(), platform.machine().lower())
    if sys.platform.startswith("linux") and not (native_libs / f"libsqlite4java-linux-{arch}.so").is_file():
        raise DynamoDBLocalUnavailable(f"no libsqlite4java for linux-{arch} in {native_libs}")
    return Installation(jar=jar, native_libs=native_libs)


def network_interfaces() -> list[str]:
    """The interfaces of this process's network namespace (not /sys/class/net: that shows the
    namespace sysfs was mounted in, which `unshare --net` does not change)."""
    return sorted(name for _, name in socket.if_nameindex())


def isolation_problem() -> str | None:
    """Why it is unsafe to start DynamoDB Local here, or None when only a working loopback exists."""
    others = [name for name in network_interfaces() if name != "lo"]
    if others:
        return (
            f"refusing to start DynamoDB Local: it listens on every interface and this network namespace "
            f"has {', '.join(others)} besides lo; {ISOLATE_HINT}"
        )
    try:
        _loopback_round_trip()
    except OSError as error:
        return f"the loopback interface is not usable ({error}): run `ip link set lo up` in the namespace first"
    return None


def _loopback_round_trip() -> None:
    # Binding 127.0.0.1 succeeds even while lo is down; only a connection shows it is up.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=2):
            pass


def free_port() -> int:
    """A TCP port free on 127.0.0.1 (raises OSError when the loopback is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DynamoDBLocal:
    """One in-memory DynamoDB Local process on 127.0.0.1; `start()` then `stop()`, or `with`."""

    def __init__(
        self,
        installation: Installation | None = None,
        port: int = 0,
        java: str = "java",
        jvm_options: tuple[str, ...] = DEFAULT_JVM_OPTIONS,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.installation = installation
        self.port = port
        self.java = java
        self.jvm_options = jvm_options
        self.startup_timeout = startup_timeout
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoDBLocal:
        """Starts the process and returns once it answers HTTP.

        Raises DynamoDBLocalUnavailable when not isolated, when the jar or Java is missing, or when
        it exits or stays silent past the start-up timeout (the message ends with its output).
        """
        problem = isolation_problem()
        if problem:
            raise DynamoDBLocalUnavailable(problem)
        installation = self.installation or find_installation()
        java = shutil.which(self.java)
        if java is None:
            raise DynamoDBLocalUnavailable(f"{self.java!r} not found on PATH: DynamoDB Local needs Java 17+")
        self.port = self.port or free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (open while the process runs; closed by stop())
        command = [
            java,
            *self.jvm_options,
            f"-Djava.library.path={installation.native_libs}",
            "-jar",
            str(installation.jar),
            "-inMemory",
            "-port",
            str(self.port),
        ]
        self._process = subprocess.Popen(
            command, cwd=installation.jar.parent, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self._process.pid
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        # No proxy: a proxy from the environment cannot reach this namespace's loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise DynamoDBLocalUnavailable(
                    f"DynamoDB Local exited with status {self._process.returncode}:\n{self.output()}"
                )
            try:
                opener.open(self.endpoint, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answered (DynamoDB Local says 400 to a bare GET)
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise DynamoDBLocalUnavailable(
                    f"DynamoDB Local did not answer on {self.endpoint} within {self.startup_timeout:.0f} s:\n"
                    f"{self.output()}"
                )
            time.sleep(0.1)

    def output(self) -> str:
        """What the process printed so far (its last 4 KB)."""
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 4096))
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Stops the process by its PID (SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def main() -> int:
    """Starts DynamoDB Local and prints its endpoint until interrupted; or prints why it cannot."""
    try:
        with DynamoDBLocal() as server:
            print(f"DynamoDB Local {server.endpoint} (pid {server.pid}); Ctrl-C stops it", flush=True)
            while True:
                time.sleep(3600)
    except DynamoDBLocalUnavailable as error:
        print(f"DynamoDB Local unavailable: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
