"""The lists ops use during an incident stay fast on big tables: a bounded number of queries,
and never a COUNT(*) over the whole table (only over a LIMITed subquery)."""

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from telemetry.models import UsageRecord
from tests.conftest import make_org, make_user
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db

ROWS = 100_000
BATCH = 5_000
# Session, user, permissions, the capped count, the page of rows, the organisation filter's
# choices, and a little slack for a savepoint: the number does not grow with the table.
MAX_QUERIES = 10


def full_counts(queries: list[dict]) -> list[str]:
    """COUNT queries that are not bounded by a LIMIT (a scan of everything that matches)."""
    return [
        query["sql"]
        for query in queries
        if re.search(r"COUNT\(", query["sql"], re.IGNORECASE)
        and not re.search(r"\bLIMIT\b", query["sql"], re.IGNORECASE)
    ]


def unbounded_reads(queries: list[dict], table: str) -> list[str]:
    """Queries that read `table` with no LIMIT anywhere: a full count, a DISTINCT for a filter's
    choices, a "select all"... each one a scan of a table that grows without bound."""
    return [
        query["sql"]
        for query in queries
        if f'"{table}"' in query["sql"] and not re.search(r"\bLIMIT\b", query["sql"], re.I)
    ]


def get_list(client, url: str, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return response, captured.captured_queries


@pytest.fixture(scope="module")
def big_tables(django_db_setup, django_db_blocker) -> Iterator[None]:
    """100,000 tokens, audit events and usage records, made once for the module.

    Inside a transaction that is rolled back when the module is done: each test's own
    transaction nests in it as a savepoint, so tests still start from this data and leave none.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        org = make_org("Port of Big Data")
        owner = make_user("bulk@bigdata.example", org)
        _tokens(owner, org)
        _events(owner, org)
        _requests(org)
        # Fire PostgreSQL's deferred foreign-key checks now, in this transaction: left pending,
        # every test's savepoint would check all 300,000 rows again and roll that back.
        connection.check_constraints()
        yield
        transaction.set_rollback(True)


def _tokens(owner, org) -> None:
    now = timezone.now()
    like = PersonalAccessToken(owner=owner, organization=org, scopes=["fleet:read"])
    _insert(
        like,
        lambda n: PersonalAccessToken(
            owner=owner,
            organization=org,
            name=f"token {n}",
            display_prefix=f"qgp_{n % 9999:04d}",
            scopes=["fleet:read"],
            expires_at=now + timedelta(days=n % 120),
            last_used_at=now - timedelta(days=n % 60) if n % 3 else None,
            revoked_at=now if n % 10 == 0 else None,
        ),
        {
            "name": "'token ' || g",
            "display_prefix": "'qgp_' || lpad((g %% 9999)::text, 4, '0')",
            "expires_at": "%(now)s::timestamptz + (g %% 120) * interval '1 day'",
            "last_used_at": "CASE WHEN g %% 3 <> 0 "
            "THEN %(now)s::timestamptz - (g %% 60) * interval '1 day' END",
            "revoked_at": "CASE WHEN g %% 10 = 0 THEN %(now)s::timestamptz END",
        },
        now=now,
    )


def _events(owner, org) -> None:
    # Through the ORM: every insert joins the organisation's hash chain (tokens.audit_chain),
    # which an INSERT … SELECT would not.
    now = timezone.now()
    actions = AuditEvent.Action.values
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                created_at=now - timedelta(seconds=n),
                actor_kind=AuditEvent.ActorKind.USER,
                actor_user=owner,
                actor_label=owner.email,
                action=actions[n % len(actions)],
                organization=org,
                token_prefix=f"qgp_{n % 9999:04d}",
                ip=f"192.0.2.{n % 250}",
                details={"n": n},
            )
            for n in range(ROWS)
        ),
        batch_size=BATCH,
    )


def _requests(org) -> None:
    now = timezone.now()
    fields = {
        "organization": org,
        "method": "GET",
        "route": "api/v1/spreaders/",
        "path": "/api/v1/spreaders/",
        "latency_ms": 3.0,
    }
    _insert(
        UsageRecord(**fields, request_id=uuid.uuid4(), status=200),
        lambda n: UsageRecord(
            **fields,
            request_id=uuid.uuid4(),
            created_at=now - timedelta(seconds=n),
            token_prefix=f"qgp_{n % 9999:04d}",
            status=200 if n % 7 else 401,
            ip=f"198.51.100.{n % 250}",
            auth_failure="" if n % 7 else "invalid_token",
        ),
        {
            "request_id": "gen_random_uuid()",
            "created_at": "%(now)s::timestamptz - g * interval '1 second'",
            "token_prefix": "'qgp_' || lpad((g %% 9999)::text, 4, '0')",
            "status": "CASE WHEN g %% 7 <> 0 THEN 200 ELSE 401 END",
            "ip": "('198.51.100.' || (g %% 250))::inet",
            "auth_failure": "CASE WHEN g %% 7 <> 0 THEN '' ELSE 'invalid_token' END",
        },
        now=now,
    )


def _insert(like, row, varying: dict[str, str], **params) -> None:
    """ROWS rows: on PostgreSQL one INSERT … SELECT over generate_series (row n's values as
    SQL of g = n, every other column as `like` has it, so model defaults hold); elsewhere
    `row(n)` through bulk_create. The ORM's 100,000 objects a table were most of this module's
    minute of setup."""
    model = type(like)
    if connection.vendor != "postgresql":
        model.objects.bulk_create((row(n) for n in range(ROWS)), batch_size=BATCH)
        return
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in varying:
            values.append(varying.pop(field.column))
        else:
            params[field.column] = field.get_db_prep_save(
                field.pre_save(like, add=True), connection
            )
            values.append(f"%({field.column})s")
    assert not varying, f"no such columns: {sorted(varying)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM generate_series(0, {ROWS - 1}) g",
            params,
        )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"p": "3"},
        {"state": "active"},
        {"unused": "30d"},
        {"expiring": "7d"},
        {"anomalies": "open"},
        {"q": "qgp_0042"},
        {"q": "bulk@bigdata"},
    ],
)
def test_the_token_list_is_bounded_with_100k_tokens(ops_client, big_tables, params):
    _, queries = get_list(
        ops_client, reverse("admin:tokens_personalaccesstoken_changelist"), **params
    )
    assert len(queries) <= MAX_QUERIES, [q["sql"] for q in queries]
    assert full_counts(queries) == []
    assert unbounded_reads(queries, "tokens_personalaccesstoken") == []


def test_the_token_list_says_it_stopped_counting(ops_client, big_tables):
    response, _ = get_list(ops_client, reverse("admin:tokens_personalaccesstoken_changelist"))
    assert b"10000+ personal access tokens" in response.content
    assert len(response.context["cl"].result_list) == 100


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"p": "50"},
        {"action__exact": "token.revoked"},
        {"actor_kind__exact": "user"},
        {
            "created_at__gte": "2000-01-01 00:00:00+00:00",
            "created_at__lt": "2100-01-01 00:00:00+00:00",
        },
        {"q": "qgp_0042"},
        {"q": "bulk@bigdata.example"},
        {"q": "192.0.2.17"},
        {"o": "1"},
    ],
)
def test_the_audit_log_is_bounded_with_100k_events(ops_client, big_tables, params):
    _, queries = get_list(ops_client, reverse("admin:tokens_auditevent_changelist"), **params)
    assert len(queries) <= MAX_QUERIES, [q["sql"] for q in queries]
    assert full_counts(queries) == []
    assert unbounded_reads(queries, "tokens_auditevent") == []


def test_the_audit_log_lists_newest_first_and_says_it_stopped_counting(ops_client, big_tables):
    response, _ = get_list(ops_client, reverse("admin:tokens_auditevent_changelist"))
    assert b"10000+ audit events" in response.content
    rows = response.context["cl"].result_list
    assert [event.details["n"] for event in rows[:3]] == [0, 1, 2]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"p": "20"},
        {"status_class": "4"},
        {"auth": "failed"},
        {"method": "GET"},
        {"q": "qgp_0042"},
        {"q": "198.51.100.9"},
    ],
)
def test_the_usage_log_is_bounded_with_100k_requests(ops_client, big_tables, params):
    _, queries = get_list(ops_client, reverse("admin:telemetry_usagerecord_changelist"), **params)
    assert len(queries) <= MAX_QUERIES, [q["sql"] for q in queries]
    assert full_counts(queries) == []
    assert unbounded_reads(queries, "telemetry_usagerecord") == []


def test_a_full_count_would_be_caught(ops_client, big_tables):
    """The detector itself: Django's default paginator counts everything, and is flagged."""
    from django.contrib import admin
    from django.core.paginator import Paginator

    usage_admin = admin.site.get_model_admin(UsageRecord)
    usage_admin.paginator = Paginator
    try:
        _, queries = get_list(ops_client, reverse("admin:telemetry_usagerecord_changelist"))
    finally:
        del usage_admin.paginator
    assert full_counts(queries) != []
    assert unbounded_reads(queries, "telemetry_usagerecord") != []
