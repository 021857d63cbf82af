"""The periodic detection pass: incremental, idempotent, one worker at a time.

Each pass reads the usage log from a watermark (the last id it processed) and moves it forward
in the same transaction as its results, so a crash replays the batch and a second run finds
nothing new. Workers take the watermark row with SELECT … FOR UPDATE SKIP LOCKED: a second
worker skips the pass instead of queueing behind the first.

Ids are not committed in order: a drain transaction may take id 100, another take 101 and
commit first. Reading "everything above the watermark" at that moment and moving the watermark
to 101 would lose row 100 forever. So a pass only reads up to the newest row *inserted* at
least USAGE_COMMIT_LAG_SECONDS ago (UsageRecord.inserted_at, not the request time: the drain
may be behind). A row can then be missed only if the transaction that allocated its id stayed
open longer than the lag after a later id committed; inserts are bulk statements that commit
in milliseconds, and the lag is minutes.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from telemetry.batch import Batch
from telemetry.conf import setting
from telemetry.models import Anomaly, DetectionWatermark, TokenSighting, UsageRecord
from telemetry.rollups import roll_up_hours
from telemetry.rules import USAGE_RULES, audit_findings
from telemetry.services import report_findings
from telemetry.sightings import remember_sightings
from tokens.models import AuditEvent

logger = logging.getLogger(__name__)

USAGE_WATERMARK = "usage"
AUDIT_WATERMARK = "audit"


@dataclass
class DetectionResult:
    busy: bool = False
    batches: int = 0
    rows_to_id: int = 0
    findings: int = 0
    created: list[Anomaly] = field(default_factory=list)
    revoked: int = 0


def _lock(name: str) -> DetectionWatermark | None:
    DetectionWatermark.objects.get_or_create(name=name)
    return DetectionWatermark.objects.select_for_update(skip_locked=True).filter(name=name).first()


def _settled_upper_bound(model, lo_id: int, *, field_name: str, cutoff: datetime, span: int):
    return (
        model.objects.filter(id__gt=lo_id, id__lte=lo_id + span, **{f"{field_name}__lte": cutoff})
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def _usage_batch(result: DetectionResult, *, now: datetime, cutoff: datetime) -> bool:
    """One batch under the lock. True when there may be more to do."""
    with transaction.atomic():
        watermark = _lock(USAGE_WATERMARK)
        if watermark is None:
            result.busy = True
            return False
        span = setting("DETECTION_MAX_BATCH")
        hi_id = _settled_upper_bound(
            UsageRecord, watermark.last_id, field_name="inserted_at", cutoff=cutoff, span=span
        )
        if hi_id is None:
            return False
        if connection.vendor == "postgresql":
            # For this transaction only: PostgreSQL expects about one group per row in the
            # batch's aggregates (it cannot know traffic repeats itself), so room to hash them
            # without spilling to disk; and no JIT, whose compile (~0.3 s a statement) costs
            # more than it saves on a second of work.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true)"
                )
        batch = Batch.between(watermark.last_id, hi_id, now=now)
        if not batch.empty:
            roll_up_hours(batch)
            findings = [finding for rule in USAGE_RULES for finding in rule(batch)]
            remember_sightings(batch)
            _report(result, findings)
        watermark.last_id = hi_id
        watermark.save(update_fields=["last_id", "updated_at"])
        result.batches += 1
        result.rows_to_id = hi_id
        return hi_id - batch.lo_id >= span


def _audit_batch(result: DetectionResult, *, now: datetime, cutoff: datetime) -> None:
    with transaction.atomic():
        watermark = _lock(AUDIT_WATERMARK)
        if watermark is None:
            result.busy = True
            return
        hi_id = _settled_upper_bound(
            AuditEvent, watermark.last_id, field_name="created_at", cutoff=cutoff, span=10**9
        )
        if hi_id is None:
            return
        _report(result, audit_findings(watermark.last_id, hi_id, now=now))
        watermark.last_id = hi_id
        watermark.save(update_fields=["last_id", "updated_at"])


def _report(result: DetectionResult, findings) -> None:
    report = report_findings(findings)
    result.findings += len(findings)
    result.created += report.created
    result.revoked += report.revoked


def run_detection(
    *, now: datetime | None = None, lag_seconds: float | None = None, max_batches: int = 100
) -> DetectionResult:
    """Process everything settled since the watermarks. Safe to call from several workers."""
    now = now or timezone.now()
    lag = setting("USAGE_COMMIT_LAG_SECONDS") if lag_seconds is None else lag_seconds
    cutoff = now - timedelta(seconds=lag)
    result = DetectionResult()
    for _ in range(max_batches):
        if not _usage_batch(result, now=now, cutoff=cutoff):
            break
    _audit_batch(result, now=now, cutoff=cutoff)
    if result.created:
        logger.info("Anomaly detection: %d new findings", len(result.created))
    return result


def reset_detection(*, forget_sightings: bool = False) -> None:
    """Rewind the watermarks: the next pass re-reads the whole log (e.g. for the benchmark).

    Roll-ups are recomputed (upserts) and findings deduplicated, so a re-scan is harmless.
    With `forget_sightings`, what tokens were seen from is learned again from scratch.
    """
    DetectionWatermark.objects.filter(name__in=[USAGE_WATERMARK, AUDIT_WATERMARK]).update(last_id=0)
    if forget_sightings:
        TokenSighting.objects.all().delete()
