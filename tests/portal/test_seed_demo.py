"""seed_demo: the data `make run` shows, created once through the real services."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Organization, User
from fleet.models import Spreader, Terminal
from portal.demo import DEMO_PASSWORD
from telemetry import partitions
from telemetry.models import Anomaly, UsageHourly, UsageRecord
from tokens.models import AuditEvent, PersonalAccessToken


@pytest.mark.django_db(transaction=True)
def test_seed_demo_makes_a_whole_demo_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (
        Organization.objects.count(),
        Terminal.objects.count(),
        Spreader.objects.count(),
        PersonalAccessToken.objects.count(),
        UsageRecord.objects.count(),
    )
    assert counts[0] == 2 and counts[1] >= 4 and counts[2] >= 20 and counts[3] >= 6
    assert counts[4] > 1000
    if partitions.is_partitioned():  # PostgreSQL: the month of history has its own days
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT}")  # noqa: S608
            assert cursor.fetchone()[0] == 0
    assert UsageHourly.objects.exists()  # the portal's charts have data
    assert Anomaly.objects.filter(token__name="Dashboard prototype").exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_CREATED).count() == counts[3]
    assert PersonalAccessToken.objects.revoked().count() == 1
    for email in ("ada@rotterdam.example", "ops@quaygate.example"):
        assert email in out.getvalue()
        assert User.objects.get(email=email).check_password(DEMO_PASSWORD)

    call_command("seed_demo", stdout=StringIO())

    assert (
        Organization.objects.count(),
        Terminal.objects.count(),
        Spreader.objects.count(),
        PersonalAccessToken.objects.count(),
        UsageRecord.objects.count(),
    ) == counts
