"""The changelog's one source file: it parses, follows the rules, and names real operations."""

import os
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from changelog import entries
from changelog.entries import ChangelogError, parse
from changelog.operations import operations

REAL = Path(settings.BASE_DIR) / "changelog" / "changelog.toml"


def schema_operations() -> dict[str, dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        operation["operationId"]: operation
        for item in schema["paths"].values()
        for operation in item.values()
    }


def test_the_real_changelog_parses_newest_first():
    releases = parse(REAL.read_text())

    assert releases[-1].version == "1.0.0"
    assert releases[-1].entries[0].id == "v1-launch"
    versions = [tuple(map(int, r.version.split("."))) for r in releases]
    assert versions == sorted(versions, reverse=True)


def test_every_operation_it_names_exists_in_the_schema():
    known = schema_operations()
    named = {op for entry in entries.entries() for op in entry.operations}

    assert named, "the changelog names operations"
    assert named <= set(known), named - set(known)
    assert set(operations()) == set(known)


def test_every_operation_of_the_schema_is_in_some_entry():
    """A new operation comes with its changelog entry."""
    named = {op for entry in entries.entries() for op in entry.operations}

    assert set(schema_operations()) <= named


def test_a_deprecation_in_force_is_deprecated_in_the_schema_and_sends_its_headers():
    known = schema_operations()
    views = {op.operation_id: op for op in operations().values()}
    for entry in entries.entries():
        if entry.kind != "deprecated" or entry.date > date.today():
            continue
        for operation in entry.operations:
            assert known[operation].get("deprecated") is True, operation
            assert views[operation].deprecated


def test_the_seeded_history_names_the_milestones():
    ids = {entry.id for entry in entries.entries()}

    assert {
        "v1-launch",
        "idempotency-key",
        "leak-report",
        "secret-scanning-github",
        "deprecation-headers",
        "api-access-levels",
        "code-samples",
        "changelog",
    } <= ids


def test_every_route_it_maps_is_the_route_django_resolves():
    from django.urls import resolve

    for operation in operations().values():
        concrete = operation.path.replace("{serial}", "EMX-001").replace("{alarm_id}", "7")
        assert resolve(concrete).route == operation.route, operation


RELEASE = """
[[release]]
version = "{version}"
date = {date}

[[release.change]]
id = "{id}"
kind = "{kind}"
title = "A change"
description = "What changed."
{extra}
"""


def release(version="1.1.0", when="2026-12-01", id="a-change", kind="added", extra=None):
    extra = 'operations = ["token_retrieve"]' if extra is None else extra
    return RELEASE.format(version=version, date=when, id=id, kind=kind, extra=extra)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (release(kind="improved"), "kind must be one of"),
        (release(version="2.0.0"), "1.x.y"),
        (release(version="1.1"), "MAJOR.MINOR.PATCH"),
        (release(id="Not An Id"), "lowercase"),
        (release(extra=""), "either operations or all_operations"),
        (
            release(extra='operations = ["token_retrieve"]\nall_operations = true'),
            "either operations",
        ),
        (release(kind="deprecated"), "needs its sunset"),
        (
            release(
                kind="deprecated", extra='operations = ["token_retrieve"]\nsunset = 2027-03-01'
            ),
            "at least six months",
        ),
        (
            release(extra='operations = ["token_retrieve"]\nsunset = 2027-12-01'),
            "only a deprecation",
        ),
        (release(kind="removed"), "before a deprecation of it has reached its sunset"),
        (release(version="1.2.0") + release(version="1.3.0", id="b"), "out of order"),
        (release(version="1.3.0", when="2026-11-01") + release(id="b"), "dated before"),
        (release(version="1.2.0") + release(), "used twice"),
        (release(extra='operations = ["token_retrieve"]\nhidden = true'), "unknown field"),
        ("[[release", "Not valid TOML"),
    ],
)
def test_a_broken_rule_is_refused_saying_which(text, says):
    with pytest.raises(ChangelogError, match=says):
        parse(text)


def test_a_removal_after_the_sunset_is_allowed():
    deprecated = release(
        version="1.1.0",
        when="2026-01-01",
        id="retire",
        kind="deprecated",
        extra='operations = ["token_retrieve"]\nsunset = 2026-07-15',
    )
    removed = release(version="1.2.0", when="2026-07-15", id="gone", kind="removed")

    [newest, _] = parse(removed + deprecated)

    assert newest.entries[0].kind == "removed"


def test_the_file_is_read_again_when_it_changes(settings, tmp_path):
    path = tmp_path / "changelog.toml"
    path.write_text(release())
    settings.API_CHANGELOG_FILE = path
    assert [entry.id for entry in entries.entries()] == ["a-change"]

    path.write_text(release(version="1.2.0", id="newer") + release())
    os.utime(path, ns=(1, 10**18))

    assert [entry.id for entry in entries.entries()] == ["newer", "a-change"]
