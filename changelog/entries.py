"""The API's changelog, read from its one source file (changelog/changelog.toml, tomllib).

Pure reading and checking: no database. The file is parsed once per change of its modification
time, so every page view and JSON request after the first costs no parsing and no query. A file
that breaks a rule (an unknown kind, a duplicate id, versions out of order, a deprecation with
less than the six months' notice the policy promises) raises ChangelogError: the test suite
loads the real file, so a bad entry fails CI, never a request.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from django.conf import settings

KINDS = ("added", "changed", "deprecated", "removed")
# The policy: a deprecated operation keeps working for at least six months.
MIN_NOTICE = timedelta(days=183)
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_OPERATION = re.compile(r"^[a-z][a-z0-9_]*$")


class ChangelogError(ValueError):
    """The source file breaks a rule; the message says which entry and how."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One change of one release: what `GET /api/v1/changelog` lists, what ops announce."""

    id: str
    version: str
    date: date
    kind: str
    title: str
    description: str
    operations: tuple[str, ...]
    all_operations: bool
    sunset: date | None

    @property
    def paragraphs(self) -> list[str]:
        return [part.strip() for part in self.description.split("\n\n") if part.strip()]

    @property
    def retires_operations(self) -> bool:
        """A deprecation or removal: its operations' callers get a targeted email."""
        return self.kind in ("deprecated", "removed") and bool(self.operations)


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    date: date
    entries: tuple[Entry, ...]


def source_path() -> Path:
    return Path(settings.API_CHANGELOG_FILE)


_lock = threading.Lock()
_cache: dict[str, Any] = {}


def releases() -> tuple[Release, ...]:
    """Every release, newest first (re-read when the file changes)."""
    path = source_path()
    stamp = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if _cache.get("stamp") != stamp:
            _cache["releases"] = parse(path.read_text(encoding="utf-8"))
            _cache["stamp"] = stamp
        return _cache["releases"]


def entries() -> tuple[Entry, ...]:
    """Every change, newest release first, in the file's order within a release."""
    return tuple(entry for release in releases() for entry in release.entries)


def entry(entry_id: str) -> Entry | None:
    return next((item for item in entries() if item.id == entry_id), None)


# --- parsing and the rules --------------------------------------------------------------------


def parse(text: str) -> tuple[Release, ...]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ChangelogError(f"Not valid TOML: {error}") from None
    result = tuple(_release(raw) for raw in document.get("release", []))
    _check_order(result)
    _check_entries(result)
    return result


def _release(raw: dict[str, Any]) -> Release:
    version, when = raw.get("version"), raw.get("date")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ChangelogError(f"Release {version!r}: the version must be MAJOR.MINOR.PATCH")
    if int(version.split(".")[0]) != 1:
        raise ChangelogError(f"Release {version}: this is API v1, so its versions are 1.x.y")
    if not isinstance(when, date):
        raise ChangelogError(f"Release {version}: date must be a TOML date (2026-12-03)")
    changes = raw.get("change", [])
    if not changes:
        raise ChangelogError(f"Release {version}: it lists no change")
    return Release(version, when, tuple(_entry(item, version, when) for item in changes))


def _entry(raw: dict[str, Any], version: str, when: date) -> Entry:
    where = f"Release {version}, change {raw.get('id')!r}"
    unknown = (
        set(raw)
        - {"id", "kind", "title", "description", "operations"}
        - {
            "all_operations",
            "sunset",
        }
    )
    if unknown:
        raise ChangelogError(f"{where}: unknown field(s) {sorted(unknown)}")
    if not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
        raise ChangelogError(f"{where}: id must be lowercase words joined by '-'")
    if raw.get("kind") not in KINDS:
        raise ChangelogError(f"{where}: kind must be one of {', '.join(KINDS)}")
    for name in ("title", "description"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise ChangelogError(f"{where}: {name} is required")
    operations = raw.get("operations", [])
    all_operations = raw.get("all_operations", False)
    if not isinstance(operations, list) or not all(
        isinstance(op, str) and _OPERATION.match(op) for op in operations
    ):
        raise ChangelogError(f"{where}: operations must be a list of operationIds")
    if bool(operations) == bool(all_operations):
        raise ChangelogError(f"{where}: give either operations or all_operations = true")
    sunset = raw.get("sunset")
    _check_sunset(where, raw["kind"], when, sunset, operations)
    return Entry(
        id=raw["id"],
        version=version,
        date=when,
        kind=raw["kind"],
        title=raw["title"].strip(),
        description=raw["description"].strip(),
        operations=tuple(operations),
        all_operations=bool(all_operations),
        sunset=sunset,
    )


def _check_sunset(where: str, kind: str, when: date, sunset: Any, operations: list) -> None:
    if kind != "deprecated":
        if sunset is not None:
            raise ChangelogError(f"{where}: only a deprecation has a sunset date")
        return
    if not operations:
        raise ChangelogError(f"{where}: a deprecation names the operations it deprecates")
    if not isinstance(sunset, date):
        raise ChangelogError(f"{where}: a deprecation needs its sunset date")
    if sunset - when < MIN_NOTICE:
        raise ChangelogError(
            f"{where}: the sunset must be at least six months ({MIN_NOTICE.days} days) "
            "after the deprecation"
        )


def _check_order(result: tuple[Release, ...]) -> None:
    for newer, older in pairwise(result):
        if _key(newer.version) <= _key(older.version):
            raise ChangelogError(f"Releases out of order: {newer.version} before {older.version}")
        if newer.date < older.date:
            raise ChangelogError(f"Release {newer.version} is dated before {older.version}")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _check_entries(result: tuple[Release, ...]) -> None:
    """Ids are unique; an operation is removed only after its deprecation's sunset."""
    seen: set[str] = set()
    sunsets: dict[str, date] = {}
    for release in reversed(result):  # oldest first
        for item in release.entries:
            if item.id in seen:
                raise ChangelogError(f"Change id {item.id!r} is used twice")
            seen.add(item.id)
            if item.kind == "deprecated":
                sunsets.update(dict.fromkeys(item.operations, item.sunset))
            if item.kind == "removed":
                for operation in item.operations:
                    if operation not in sunsets or sunsets[operation] > item.date:
                        raise ChangelogError(
                            f"Change {item.id!r} removes {operation} before a deprecation of "
                            "it has reached its sunset date"
                        )
