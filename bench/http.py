"""The HTTP part of the benchmark: gunicorn on loopback, wrk against it, interleaved rounds."""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    # Which server answers it, when the run has more than one (interleaved's `base` mapping).
    server: str = "main"
    # A list endpoint: measured only when its page holds at least this many results.
    page_of: int | None = None


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    # CPU time the server's worker processes spent during the run (user + system).
    server_cpu_seconds: float | None = None

    @property
    def server_cpu_us_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1_000_000


@dataclass
class TargetResult:
    target: Target
    runs: list[WrkRun] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return statistics.median(run.requests_per_second for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def failures(self) -> int:
        return sum(run.non_2xx + run.socket_errors for run in self.runs)


# Each running server's gunicorn master process, by its base URL.
_masters: dict[str, int] = {}


def server_cpu_seconds(base: str) -> float | None:
    """User + system CPU of the gunicorn workers behind `base` so far (Linux /proc): what a
    request costs the server itself, which other processes on the machine barely move."""
    master = _masters.get(base)
    if master is None:
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # a process that just ended
        if int(fields[1]) == master:  # ppid
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(
    *, port: int, workers: int = 2, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """gunicorn with the bench settings on 127.0.0.1:port; stopped (and reaped) on exit."""
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "0"} | (env or {})
    args = [
        str(Path(sys.executable).with_name("gunicorn")),
        "portal.wsgi",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603 (our own fixed command line)
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    _masters[base] = process.pid
    try:
        _wait_until_up(base + "/healthz", process)
        yield base
    finally:
        _masters.pop(base, None)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}: see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wrk_binary() -> str:
    found = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkRun:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    if not (rps and total and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"Unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkRun(
        requests_per_second=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        # Read errors are how wrk counts a server closing a connection after a response
        # (gunicorn's sync workers do: no keep-alive), not failed requests.
        socket_errors=sum(int(n) for i, n in enumerate(errors.groups()) if i != 1) if errors else 0,
    )


def wrk(base: str, target: Target, *, seconds: float, connections: int, threads: int = 1) -> WrkRun:
    args = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in target.headers.items():
        args += ["-H", f"{name}: {value}"]
    args.append(base + target.path)
    completed = subprocess.run(args, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(completed.stdout)


def interleaved(
    base: str | dict[str, str],
    targets: list[Target],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    progress=None,
) -> list[TargetResult]:
    """A B C D, D C B A, A B C D, …: each target runs as often first as last, so drift in the
    machine (caches warming, another process waking up) is spread over all of them.
    `base` is the server's address, or one per `Target.server`."""
    bases = base if isinstance(base, dict) else {"main": base}
    results = {target.key: TargetResult(target) for target in targets}
    for target in targets:  # warm-up: connections, caches, code paths; not counted
        wrk(bases[target.server], target, seconds=1, connections=connections)
    for number in range(rounds):
        order = targets if number % 2 == 0 else list(reversed(targets))
        for target in order:
            cpu_before = server_cpu_seconds(bases[target.server])
            run = wrk(bases[target.server], target, seconds=seconds, connections=connections)
            cpu_after = server_cpu_seconds(bases[target.server])
            if cpu_before is not None and cpu_after is not None:
                run = replace(run, server_cpu_seconds=cpu_after - cpu_before)
            results[target.key].runs.append(run)
            if progress:
                progress(
                    f"  round {number + 1}/{rounds} {target.key:<10} "
                    f"{run.requests_per_second:8.0f} req/s  p50 {run.p50_ms:.2f} ms  "
                    f"p99 {run.p99_ms:.2f} ms"
                    + (
                        f"  server CPU {run.server_cpu_us_per_request:.0f} µs/request"
                        if run.server_cpu_us_per_request is not None
                        else ""
                    )
                )
    return [results[target.key] for target in targets]
