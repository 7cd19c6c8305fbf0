"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, started and stopped by the project.

The jars come from Maven Central through the small pom beside this file and are cached per
Kafka version; the broker runs on the machine's JDK. Its state (config, data, logs, pid)
lives in one data directory, so several brokers (the demo's, the tests') can run side by side.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from dashboard.adapters.kafka import broker_answers
from dashboard.adapters.processes import process_alive
from dashboard.devtools.broker.secured import SecuredListener

KAFKA_VERSION = "4.1.1"
DEFAULT_PORT = 9092
DEFAULT_DATA_DIR = Path(".dlq/kafka")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
_MAIN_CLASS = "kafka.Kafka"


class BrokerError(Exception):
    """The broker could not be fetched, started or stopped; the message says why."""


@dataclass(frozen=True)
class BrokerState:
    pid: int
    port: int
    controller_port: int
    data_dir: str
    kafka_version: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class StartResult:
    state: BrokerState
    already_running: bool


# Where a long step says what it is doing (the CLI prints it; tests stay quiet).
Progress = Callable[[str], None]


def _silent(_: str) -> None:
    pass


def jar_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlq-dashboard" / f"kafka-{KAFKA_VERSION}" / "lib"


def ensure_jars(cache: Path | None = None, progress: Progress = _silent) -> Path:
    """The directory of the broker's jars, fetched with Maven on first use."""
    lib = cache or jar_cache_dir()
    if (lib / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is not on PATH: it fetches the Kafka jars once")
    progress(
        f"fetching the Kafka {KAFKA_VERSION} jars from Maven Central into {lib} "
        "(first start only; a few minutes)"
    )
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = lib.with_name(lib.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with resources.as_file(resources.files("dashboard.devtools.broker").joinpath("pom.xml")) as pom:
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BrokerError(f"fetching the Kafka jars from Maven Central failed:\n{tail}")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)  # only a complete set of jars ever sits at `lib`
    return lib


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise BrokerError("no Java runtime: install JDK 17 or newer, or set JAVA_HOME")
    return found


def read_state(data_dir: Path) -> BrokerState | None:
    """The broker recorded in `data_dir`, if its process is still alive."""
    state_file = data_dir / "broker.json"
    try:
        state = BrokerState(**json.loads(state_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if _is_our_broker(state.pid, data_dir) else None


def start(
    data_dir: Path = DEFAULT_DATA_DIR,
    port: int = DEFAULT_PORT,
    *,
    tie_to_parent: bool = False,
    progress: Progress = _silent,
    secured: SecuredListener | None = None,
) -> StartResult:
    """Start the broker (or find it running) and return once it answers.

    `tie_to_parent` (Linux): the broker gets SIGTERM when the starting process dies, so a test
    session that crashes leaves no broker behind. `dlq broker start` leaves it off: there the
    broker must outlive the command. `secured`: the broker listens with SASL_SSL and ACLs
    instead of the plain listener (tests of secured clusters).
    """
    data_dir = data_dir.resolve()
    running = read_state(data_dir)
    if running is not None:
        return StartResult(running, already_running=True)
    if not _port_free(port):
        raise BrokerError(f"port {port} on 127.0.0.1 is already in use; choose another with --port")
    controller_port = _free_port(exclude={port})
    lib = ensure_jars(progress=progress)
    java = java_executable()

    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    config = data_dir / "server.properties"
    listener = (
        _plain_listener(port, controller_port)
        if secured is None
        else secured.server_properties(port, controller_port)
    )
    config.write_text(_server_properties(data_dir, controller_port, listener))
    config.chmod(0o600)  # a secured listener's passwords are in it
    log4j = data_dir / "log4j2.properties"
    log4j.write_text(
        resources.files("dashboard.devtools.broker").joinpath("log4j2.properties").read_text()
    )
    classpath = f"{lib}/*"
    if not (data_dir / "kraft" / "meta.properties").exists():
        progress(f"formatting the broker's storage in {data_dir}")
        _format_storage(java, classpath, config, logs)
    progress(f"starting Kafka {KAFKA_VERSION} on 127.0.0.1:{port} and waiting until it answers")

    command = [
        java,
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={logs}",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
        _MAIN_CLASS,
        str(config),
    ]
    with (logs / "stdout.log").open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the CLI; stopped by PID with `dlq broker stop`
            preexec_fn=_die_with_parent if tie_to_parent else None,
        )
    state = BrokerState(process.pid, port, controller_port, str(data_dir), KAFKA_VERSION)
    (data_dir / "broker.json").write_text(json.dumps(asdict(state)))
    try:
        _wait_until_answering(state, process, logs, secured)
    except BaseException:
        _terminate(process.pid)
        (data_dir / "broker.json").unlink(missing_ok=True)
        raise
    return StartResult(state, already_running=False)


def stop(data_dir: Path = DEFAULT_DATA_DIR) -> BrokerState | None:
    """Stop the broker recorded in `data_dir`; None when none was running."""
    data_dir = data_dir.resolve()
    state = read_state(data_dir)
    if state is None:
        (data_dir / "broker.json").unlink(missing_ok=True)
        return None
    _terminate(state.pid)
    (data_dir / "broker.json").unlink(missing_ok=True)
    return state


def _die_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent dies."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _alive(pid):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    return process_alive(pid)


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    """True only for a live kafka.Kafka process started with this data dir's config, so a
    PID reused by an unrelated process is never signalled."""
    if not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no /proc (macOS): trust the PID
        return True
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    config = str(data_dir / "server.properties").encode()
    return _MAIN_CLASS.encode() in args and config in args


def _format_storage(java: str, classpath: str, config: Path, logs: Path) -> None:
    # Kafka's own form of a random cluster id, but never one starting with "-": the storage
    # tool's argument parser would take it for an option.
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    done = subprocess.run(
        [
            java,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    (logs / "format.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BrokerError(f"formatting the broker's storage failed: {done.stderr.strip()[-500:]}")


def _wait_until_answering(
    state: BrokerState,
    process: subprocess.Popen[bytes],
    logs: Path,
    secured: SecuredListener | None,
) -> None:
    client = secured.admin_config() if secured is not None else {}
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _tail(logs / "stdout.log") or _tail(logs / "server.log")
            raise BrokerError(f"the broker exited with code {process.returncode}:\n{tail}")
        if broker_answers(state.bootstrap, timeout=1.0, config=client):
            return
        time.sleep(0.2)
    raise BrokerError(
        f"the broker did not answer on {state.bootstrap} within {START_TIMEOUT:.0f}s; "
        f"see {logs / 'server.log'}"
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _plain_listener(port: int, controller_port: int) -> str:
    return f"""listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""


def _server_properties(data_dir: Path, controller_port: int, listener: str) -> str:
    return f"""# Written by `dlq broker start`: a single-node KRaft broker (demo and tests).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
{listener}log.dirs={data_dir / "kraft"}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Demo records carry timestamps from the past two weeks; time-based retention would delete
# them. Retention is exercised explicitly (delete-records) where it is tested.
log.retention.ms=-1
"""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(exclude: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (for test brokers)."""
    return _free_port(set())
