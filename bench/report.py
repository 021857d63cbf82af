"""The one table `make bench` prints and writes to var/bench/latest.md."""

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.db import connection


@dataclass(frozen=True)
class Row:
    what: str
    target: str
    measured: str
    passed: bool | None  # None: a reference figure, nothing to pass

    @property
    def result(self) -> str:
        return {True: "pass", False: "FAIL", None: "—"}[self.passed]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 (git from PATH)
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(root: Path, redis_version: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · commit {_commit(root)} · {_cpu()}, "
        f"{os.cpu_count()} cores, {_memory_gb()} · PostgreSQL {postgres} · Redis {redis_version}"
        f" · Python {platform.python_version()}"
    )


def render(rows: list[Row], *, header: str, notes: list[str]) -> str:
    table = [("what", "target", "measured", "result")] + [
        (row.what, row.target, row.measured, row.result) for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(4)]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [f"`make bench` — {header}", "", line(table[0])]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [line(cells) for cells in table[1:]]
    if notes:
        out.append("")
        out += [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"
