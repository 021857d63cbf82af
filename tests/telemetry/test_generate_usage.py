from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from telemetry.models import UsageRecord


def generate(*args) -> str:
    out = StringIO()
    call_command("generate_usage", *args, stdout=out)
    return out.getvalue()


def test_it_inserts_the_requested_number_of_rows_over_existing_tokens(token):
    assert "Inserted 500" in generate("--rows", "500", "--seed", "3")

    assert UsageRecord.objects.count() == 500
    statuses = set(UsageRecord.objects.values_list("status", flat=True))
    assert 200 in statuses
    assert set(UsageRecord.objects.exclude(token=None).values_list("token_id", flat=True)) == {
        token.id
    }
    # Failed authentications carry no token, like the real thing.
    assert not UsageRecord.objects.filter(status=401).exclude(token=None).exists()


def test_the_same_seed_gives_the_same_traffic(token):
    generate("--rows", "200", "--seed", "5", "--end", "2026-11-24T12:00:00+00:00")
    first = list(UsageRecord.objects.order_by("id").values_list("request_id", "status"))
    UsageRecord.objects.all().delete()

    generate("--rows", "200", "--seed", "5", "--end", "2026-11-24T12:00:00+00:00")

    assert list(UsageRecord.objects.order_by("id").values_list("request_id", "status")) == first


def test_it_explains_when_there_are_no_tokens(db):
    with pytest.raises(CommandError, match="seed_demo"):
        generate("--rows", "10")
