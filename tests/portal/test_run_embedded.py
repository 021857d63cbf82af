"""`make run`'s script, as a new user meets it: scripts/run-embedded on a fresh var directory and
a free port, on the embedded default. It ends with the URL and the demo logins, once both the
web server and the worker are up, with one banner and no setup chatter; Ctrl-C, or the death
of the `make` that started it, stops every process it started, Celery's pool included."""

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from portal.demo import DEMO_PASSWORD

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run-embedded"
READY_LINE = "Quaygate is running at"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    """One fresh var directory for the module: the second start finds it migrated and seeded."""
    return tmp_path_factory.mktemp("var")


def processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every process on the machine."""
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,pgid="], capture_output=True, text=True, check=True
    ).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, pgid = (int(field) for field in line.split())
        table[pid] = (ppid, pgid)
    return table


def descendants(root: int) -> set[int]:
    table = processes()
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


class Run:
    def __init__(self, var_dir: Path, **env: str) -> None:
        self.port = _free_port()
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "SITE_URL", "QUAYGATE_ANNOUNCED"}
        }
        environment |= {"QUAYGATE_VAR_DIR": str(var_dir), "PORT": str(self.port), **env}
        self.process = subprocess.Popen(
            [str(SCRIPT)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal's foreground job: a group of its own
        )
        self.output = ""

    def read(self, timeout: float) -> str:
        """What the script printed within `timeout` seconds (stops early at its end)."""
        deadline = time.monotonic() + timeout
        stream = self.process.stdout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([stream], [], [], left)
            if not ready:
                break
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            self.output += chunk.decode()
        return self.output

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + 180
        while READY_LINE not in self.output:
            assert self.process.poll() is None, self.output
            assert time.monotonic() < deadline, self.output
            self.read(1)

    def stop_everything(self) -> None:
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def run(var_dir):
    runs: list[Run] = []

    def _start(**env: str) -> Run:
        runs.append(Run(var_dir, **env))
        return runs[-1]

    yield _start
    for started in runs:
        started.stop_everything()


def assert_all_gone(pids: set[int], groups: set[int]) -> None:
    deadline = time.monotonic() + 5
    while True:
        table = processes()
        left = {pid for pid in pids if pid in table}
        left |= {pid for pid, (_, pgid) in table.items() if pgid in groups}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"processes left: {sorted(left)}"


def test_it_ends_with_the_url_and_logins_and_ctrl_c_stops_every_process(run):
    started = run()

    started.wait_until_ready()
    started.read(2)  # nothing more may follow the last line while nobody uses it
    lines = started.output.rstrip().splitlines()
    children = descendants(started.process.pid)
    table = processes()
    groups = {table[pid][1] for pid in children if pid in table} | {started.process.pid}

    url = f"http://127.0.0.1:{started.port}/"
    assert lines[-1].strip() == f"{READY_LINE} {url}"
    assert DEMO_PASSWORD in "\n".join(lines[-8:])
    assert started.output.count("embedded default") == 1
    for chatter in ("Applying", "INFO", "celery@", "Performing system checks", "objects imported"):
        assert chatter not in started.output
    with urllib.request.urlopen(url + "healthz", timeout=5) as answer:  # noqa: S310 (loopback)
        assert answer.status == 200
    with urllib.request.urlopen(url + "api/schema/?format=json", timeout=30) as answer:  # noqa: S310
        assert f"{url}api/v1/terminals" in answer.read().decode()  # SITE_URL follows PORT
    pool = [pid for pid in children if "celery" in _command(pid)]
    assert len(pool) >= 2  # the worker's main process and its pool

    os.killpg(started.process.pid, signal.SIGINT)  # Ctrl-C: the terminal's foreground group

    assert started.process.wait(timeout=40) != 0
    assert_all_gone(children, groups)
    assert "Stopped." in started.read(1)


def test_the_death_of_make_stops_every_process(run, var_dir):
    make = subprocess.Popen(["sleep", "300"])  # stands in for `make`, which SIGTERM kills
    try:
        started = run(QUAYGATE_PARENT_PID=str(make.pid))
        started.wait_until_ready()
        children = descendants(started.process.pid)
        table = processes()
        groups = {table[pid][1] for pid in children if pid in table} | {started.process.pid}

        make.terminate()
        make.wait(timeout=5)

        assert started.process.wait(timeout=40) != 0
        assert_all_gone(children, groups)
    finally:
        make.kill()
    worker_log = (var_dir / "log" / "worker.log").read_text()
    assert "INFO" in worker_log and " ready." in worker_log  # the full log is kept


def _command(pid: int) -> str:
    out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    return out.stdout
