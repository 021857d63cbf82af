"""The usage log at scale (issue 22), run after the full anomaly pass has read the big log:
retention dropping a day of a million rows, and the portal's token page over the whole table.
"""

from __future__ import annotations

import io
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from bench.report import Row
from telemetry import partitions
from telemetry.models import UsageRecord
from tokens.models import PersonalAccessToken

DROP_TARGET_S = 1.0
PAGE_TARGET_MS = 50
DAY_ROWS = 1_000_000
# The day dropped: far behind the generated 30 days, so it is the only partition that old.
DAY_BACK = 200


def rows(*, say, seed: int) -> list[Row]:
    return [_drop_a_day(say=say, seed=seed), _token_page(say=say)]


def _drop_a_day(*, say, seed: int) -> Row:
    day = datetime.now(UTC).date() - timedelta(days=DAY_BACK)
    end = partitions.day_start(day + timedelta(days=1)) - timedelta(seconds=1)
    say(f"Generating a day of {DAY_ROWS:,} usage rows {DAY_BACK} days back")
    call_command(
        "generate_usage", rows=DAY_ROWS, seed=seed, days=0.999, end=end.isoformat(),
        stdout=io.StringIO(),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(partitions.name_for(day))}")
    say("Retention: dropping that day")
    started = time.perf_counter()
    dropped, removed = partitions.drop_before(partitions.day_start(day + timedelta(days=1)))
    elapsed = time.perf_counter() - started
    return Row(
        f"usage retention: drop a day of {DAY_ROWS:,} rows",
        f"< {DROP_TARGET_S:.0f} s",
        f"{elapsed * 1000:.0f} ms ({dropped} partition, {removed:,} rows)",
        elapsed < DROP_TARGET_S and removed == DAY_ROWS,
    )


def _token_page(*, say) -> Row:
    """The portal's token page (usage chart, totals, latest requests, sightings, findings) of a
    token in the generated log (one of 50 sharing it), its owner signed in."""
    total = UsageRecord.objects.count()
    # generate_usage spreads its rows over the first 50 tokens by id.
    token = PersonalAccessToken.objects.order_by("id").first()
    client = Client()
    client.force_login(token.owner)
    url = reverse("token_detail", args=[token.pk])
    say(f"Portal token page over {total:,} usage rows")
    first = client.get(url)  # warms the buffer cache, as a page someone reloads would be
    if first.status_code != 200:
        raise RuntimeError(f"the token page answered {first.status_code}")
    timings = []
    for _ in range(9):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    elapsed = statistics.median(timings)
    return Row(
        f"portal token page: {total:,} usage rows in the table",
        f"< {PAGE_TARGET_MS} ms",
        f"{elapsed:.1f} ms median of 9",
        elapsed < PAGE_TARGET_MS,
    )
