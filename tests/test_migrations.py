"""The restructuring keeps data: a database as it was before the fleet app existed (commit
43ea669) migrates to today with every row, id and permission where it was, and back again.

The fleet models moved from api to fleet by state only (fleet/0001, api/0006, tokens/0007):
their api_* tables, rows and ids stay, and the content types are renamed, not re-created, so
the permissions that name them (and the people and groups holding those) keep working.

Only the migrations written since 43ea669 are reversed (those that moved the fleet models, and
any app born since): the older ones stay applied, so nothing here needs to get past the audit
log's append-only trigger (tokens/0002) on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as current_apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The leaf migration of every app as of commit 43ea669, the last commit before the fleet app.
OLD_LEAVES = [
    ("portal", "0002_ops_group"),
    ("api", "0005_idempotency_record"),
    ("tokens", "0006_password_changed"),
    ("telemetry", "0005_usage_id_brin"),
    ("notifications", "0003_password_changed"),
]
OLD_APPS = {app for app, _ in OLD_LEAVES}
WHEN = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)


def old_targets(executor: MigrationExecutor) -> list[tuple[str, str | None]]:
    """OLD_LEAVES, and every app of ours born since (fleet, …) with none of its migrations."""
    born_since = sorted(
        label
        for label in executor.loader.migrated_apps
        if label not in OLD_APPS
        # Ours: a package at the top of the project (not Django's or a library's).
        and Path(current_apps.get_app_config(label).path).parent == Path(settings.BASE_DIR)
    )
    assert "fleet" in born_since
    return [*OLD_LEAVES, *((label, None) for label in born_since)]


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    """Migrate to `targets` with a fresh executor (it reads what is applied from the database)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    ContentType.objects.clear_cache()  # ids are cached by (app_label, model)
    return executor


def latest(executor: MigrationExecutor) -> list[tuple[str, str]]:
    return executor.loader.graph.leaf_nodes()


def stored(model, pk: int) -> dict:
    return model.objects.filter(pk=pk).values().get()


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    if ("fleet", "0001_initial") not in executor.loader.graph.nodes:
        pytest.skip("migrations are disabled (--nomigrations)")
    try:
        yield executor
    finally:
        # Whatever failed, the tests after this one get today's schema (pytest-django then
        # flushes the rows this test wrote).
        migrate(latest(MigrationExecutor(connection)))


def make_old_rows(old_apps) -> dict[str, tuple[str, int]]:
    """One row of everything the move touches, through the models as they were at 43ea669.
    Returns {name: (model label as of today, pk)}."""

    def model(label: str):
        return old_apps.get_model(*label.split("."))

    org = model("portal.Organization").objects.create(
        name="Port of Rotterdam", slug="rotterdam", created_at=WHEN
    )
    user = model("portal.User").objects.create(
        email="owner@rotterdam.example", password="!", full_name="Owen Owner", date_joined=WHEN
    )
    membership = model("portal.Membership").objects.create(
        user=user, organization=org, role="admin", created_at=WHEN
    )
    terminal = model("api.Terminal").objects.create(
        organization=org, code="RTM-EMX", name="Euromax", country="NL", time_zone="Europe/Amsterdam"
    )
    spreader = model("api.Spreader").objects.create(
        terminal=terminal,
        serial_number="SPR-00042",
        model="Bromma STS45",
        commissioned_at=dt.date(2019, 5, 1),
        status="maintenance",
    )
    reading = model("api.TelemetryReading").objects.create(
        spreader=spreader,
        recorded_at=WHEN,
        twistlock_cycles=1234,
        lifts=617,
        load_tonnes=41.5,
        hydraulic_pressure_bar=212.25,
        oil_temperature_c=61.125,
        operating_hours=18034.5,
    )
    token = model("tokens.PersonalAccessToken").objects.create(
        owner=user,
        organization=org,
        name="ci deploy",
        description="Nightly export",
        display_prefix="qgp_AbCd",
        scopes=["fleet:read", "telemetry:read"],
        terminal_access="selected",
        allowed_ips=["192.0.2.0/24"],
        rate_limit_per_hour=600,
        expires_at=WHEN + dt.timedelta(days=90),
        created_at=WHEN,
        created_from_ip="192.0.2.7",
    )
    token.terminals.add(terminal)
    secret = model("tokens.TokenSecret").objects.create(
        token=token, secret_hash="a" * 64, display_prefix="qgp_AbCd", created_at=WHEN
    )
    alarm = model("api.Alarm").objects.create(
        spreader=spreader,
        code="HYD-LOW",
        severity="warning",
        message="Hydraulic pressure low",
        raised_at=WHEN,
        acknowledged_at=WHEN + dt.timedelta(minutes=5),
        acknowledged_by_token=token,
    )
    maintenance = model("api.MaintenanceRecord").objects.create(
        spreader=spreader,
        performed_at=WHEN,
        kind="repair",
        description="Replaced twistlock pin",
        operating_hours=18000.0,
        created_at=WHEN,
        created_by_user=user,
        created_by_token=token,
    )
    event = model("tokens.AuditEvent").objects.create(
        created_at=WHEN,
        actor_kind="user",
        actor_user=user,
        actor_label=user.email,
        action="token.created",
        organization=org,
        token=token,
        token_prefix="qgp_AbCd",
        ip="192.0.2.7",
        user_agent="pytest",
        details={"scopes": ["fleet:read", "telemetry:read"], "terminals": [terminal.pk]},
    )
    return {
        "organization": ("portal.Organization", org.pk),
        "user": ("portal.User", user.pk),
        "membership": ("portal.Membership", membership.pk),
        "terminal": ("fleet.Terminal", terminal.pk),
        "spreader": ("fleet.Spreader", spreader.pk),
        "reading": ("fleet.TelemetryReading", reading.pk),
        "alarm": ("fleet.Alarm", alarm.pk),
        "maintenance": ("fleet.MaintenanceRecord", maintenance.pk),
        "token": ("tokens.PersonalAccessToken", token.pk),
        "secret": ("tokens.TokenSecret", secret.pk),
        "event": ("tokens.AuditEvent", event.pk),
    }


OLD_LABELS = {  # where each model lived at 43ea669
    "fleet.Terminal": "api.Terminal",
    "fleet.Spreader": "api.Spreader",
    "fleet.TelemetryReading": "api.TelemetryReading",
    "fleet.Alarm": "api.Alarm",
    "fleet.MaintenanceRecord": "api.MaintenanceRecord",
}


def make_old_permissions(old_apps, *, user_id: int) -> dict[str, int]:
    """A permission on api.terminal held by a person and by the Ops group, as an ops database
    would have. Returns the ids that must survive."""
    old_ct = old_apps.get_model("contenttypes", "ContentType")
    old_permission = old_apps.get_model("auth", "Permission")
    content_type, _ = old_ct.objects.get_or_create(app_label="api", model="terminal")
    view, _ = old_permission.objects.get_or_create(
        content_type=content_type,
        codename="view_terminal",
        defaults={"name": "Can view terminal"},
    )
    export = old_permission.objects.create(
        content_type=content_type, codename="export_terminal", name="Can export terminal"
    )
    old_apps.get_model("portal", "User").objects.get(pk=user_id).user_permissions.add(export)
    # Made by portal/0002, but an earlier test's flush may have emptied the table.
    ops, _ = old_apps.get_model("auth", "Group").objects.get_or_create(name="Ops")
    ops.permissions.add(view)
    return {"content_type": content_type.pk, "view": view.pk, "export": export.pk}


@pytest.mark.django_db
def test_models_and_migrations_agree():
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    except SystemExit as exit:
        pytest.fail(f"makemigrations --check found model changes without a migration ({exit})")


@pytest.mark.xfail(
    connection.vendor == "sqlite",
    reason="a known bug on SQLite: migrating back past tokens 0009_token_kind leaves its NOT NULL "
    "column in the table (the migration is recorded as unapplied), so the old rows cannot be "
    "written; PostgreSQL, where CI runs this, drops it",
    strict=True,
)
@pytest.mark.django_db(transaction=True)
def test_the_fleet_move_keeps_every_row_id_and_permission_and_is_reversible(executor):
    targets = old_targets(executor)
    executor = migrate(targets)
    assert not executor.loader.applied_migrations.keys() & {("fleet", "0001_initial")}
    old_apps = executor.loader.project_state(OLD_LEAVES).apps
    with pytest.raises(LookupError):
        old_apps.get_model("fleet", "Terminal")

    rows = make_old_rows(old_apps)
    permissions = make_old_permissions(old_apps, user_id=rows["user"][1])

    def old_model(label: str):
        return old_apps.get_model(*OLD_LABELS.get(label, label).split("."))

    before = {name: stored(old_model(label), pk) for name, (label, pk) in rows.items()}
    old_token = old_model("tokens.PersonalAccessToken")
    selection = list(old_token.terminals.through.objects.values())
    assert len(selection) == 1

    executor = migrate(latest(executor))
    assert_rows_kept(rows, before, selection, permissions)

    # Back to 43ea669 and forward again: the move reverses cleanly and loses nothing either way.
    executor = migrate(targets)
    old_apps = executor.loader.project_state(OLD_LEAVES).apps
    assert {
        name: stored(old_apps.get_model(*OLD_LABELS.get(label, label).split(".")), pk)
        for name, (label, pk) in rows.items()
    } == before
    old_ct = old_apps.get_model("contenttypes", "ContentType").objects.get(
        pk=permissions["content_type"]
    )
    assert (old_ct.app_label, old_ct.model) == ("api", "terminal")

    executor = migrate(latest(executor))
    assert set(executor.loader.applied_migrations) >= set(latest(executor))
    assert_rows_kept(rows, before, selection, permissions)


def assert_rows_kept(rows, before, selection, permissions) -> None:
    """Read with today's models: every row with its id and values, the token's terminal
    selection, and the content type renamed to fleet with its id and permissions."""
    from accounts.models import User
    from fleet.models import Alarm, MaintenanceRecord, Terminal
    from tokens.models import PersonalAccessToken

    for name, (label, pk) in rows.items():
        after = stored(current_apps.get_model(label), pk)
        assert {field: after[field] for field in before[name]} == before[name], name

    token = PersonalAccessToken.objects.get(pk=rows["token"][1])
    terminal = Terminal.objects.get(pk=rows["terminal"][1])
    assert list(token.terminals.all()) == [terminal]
    assert list(PersonalAccessToken.terminals.through.objects.values()) == selection
    assert Alarm.objects.get(pk=rows["alarm"][1]).acknowledged_by_token == token
    assert MaintenanceRecord.objects.get(pk=rows["maintenance"][1]).created_by_token == token
    assert terminal.spreaders.get().readings.count() == 1

    content_type = ContentType.objects.get(pk=permissions["content_type"])
    assert (content_type.app_label, content_type.model) == ("fleet", "terminal")
    assert ContentType.objects.get_for_model(Terminal).pk == permissions["content_type"]
    assert not ContentType.objects.filter(app_label="api", model="terminal").exists()
    for key in ("view", "export"):
        assert Permission.objects.get(pk=permissions[key]).content_type_id == content_type.pk
    user = User.objects.get(pk=rows["user"][1])
    assert user.has_perm("fleet.export_terminal")
    assert Permission.objects.filter(
        pk=permissions["view"], group__name="Ops", codename="view_terminal"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_the_audit_chain_migration_links_existing_events_in_order_per_chain(executor):
    """tokens/0013: events written before the chain existed get seq, prev_hash and hash in
    id order per organisation (and one platform chain); the append-only trigger is back on."""
    from django.db import DatabaseError, transaction

    from tokens import audit_chain
    from tokens.models import AuditChainHead, AuditEvent
    from tokens.services import chain as chain_services

    before_chain = [("tokens", "0011_audit_actions_of_approval_and_access")]
    executor = migrate(before_chain)
    old_apps = executor.loader.project_state(
        [*before_chain, ("portal", "0003_organization_api_access")]
    ).apps
    old_org = old_apps.get_model("portal", "Organization")
    old_event = old_apps.get_model("tokens", "AuditEvent")
    orgs = [
        old_org.objects.create(name=f"Port {n}", slug=f"port-{n}", api_access="production")
        for n in range(2)
    ]
    ids = []
    for n, organization in enumerate([orgs[0], orgs[1], None, orgs[0], None, orgs[0]]):
        event = old_event.objects.create(
            created_at=WHEN - dt.timedelta(minutes=n),  # out of time order: id order wins
            actor_kind="system",
            actor_label="before the chain",
            action="policy.changed",
            organization=organization,
            ip="2001:db8::7" if n == 1 else None,
            details={"n": n, "ü": [1.5, None]},
        )
        ids.append(event.pk)

    migrate(latest(MigrationExecutor(connection)))
    first = AuditChainHead.objects.get(key=f"org:{orgs[0].pk}")
    assert list(
        AuditEvent.objects.filter(chain=first).order_by("chain_seq").values_list("id", "chain_seq")
    ) == [(ids[0], 1), (ids[3], 2), (ids[5], 3)]
    assert AuditChainHead.objects.get(key="platform").seq == 2
    assert AuditChainHead.objects.get(key=f"org:{orgs[1].pk}").seq == 1
    reports = list(chain_services.verify_chains())
    assert len(reports) == 3 and all(report.ok for report in reports), reports
    assert AuditEvent.objects.get(pk=ids[0]).prev_hash == audit_chain.GENESIS

    # New events carry on from the backfilled head.
    from tokens import services
    from tokens.actors import Actor

    later = services.record_audit_event(
        action="policy.changed", actor=Actor.system(), organization_id=orgs[0].pk
    )
    assert (later.chain_seq, later.prev_hash) == (4, first.hash)
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE tokens_auditevent SET action = 'x' WHERE id = %s", [ids[0]])
