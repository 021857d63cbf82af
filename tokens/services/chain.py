"""Checking the audit chains (tokens.audit_chain): `manage.py verify_audit_chain` and the
daily beat task. A broken chain is recorded (AuditChainBreak, in the admin) and every ops
person (staff) is emailed through the outbox, once per chain a day."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from notifications.outbox import queue_notification
from tokens import audit_chain
from tokens.audit_chain import ChainReport
from tokens.models import AuditChainBreak, AuditChainHead, AuditEvent


def chain_head_for(organization: Organization | None) -> AuditChainHead | None:
    key = audit_chain.chain_key(organization.id if organization is not None else None)
    return AuditChainHead.objects.filter(key=key).first()


def verify_chain(head: AuditChainHead) -> ChainReport:
    """Walk one chain from its first event, in pages (constant memory)."""
    fields = ("id", *_STORED, "chain_seq", "prev_hash", "hash")
    rows = AuditEvent.objects.filter(chain=head).only(*fields)
    return audit_chain.walk(head.key, head, audit_chain.iterate(rows))


# The model fields canonical_document reads (its "seq" is chain_seq).
_STORED = (
    "action",
    "actor_kind",
    "actor_label",
    "actor_token_id",
    "actor_user_id",
    "created_at",
    "details",
    "ip",
    "organization_id",
    "token_id",
    "token_prefix",
    "user_agent",
)


def verify_chains(*, organization: Organization | None = None) -> Iterator[ChainReport]:
    """Every chain (or one organisation's), one report each."""
    heads = AuditChainHead.objects.order_by("key")
    if organization is not None:
        heads = heads.filter(key=audit_chain.chain_key(organization.id))
    for head in heads.iterator():
        yield verify_chain(head)


def check_audit_chains() -> list[ChainReport]:
    """The daily check: record and tell ops about each broken chain. Returns the broken ones."""
    broken = [report for report in verify_chains() if not report.ok]
    for report in broken:
        _report_break(report)
    return broken


def _report_break(report: ChainReport) -> None:
    head = AuditChainHead.objects.get(key=report.key)
    today = timezone.now().date().isoformat()
    with transaction.atomic():
        AuditChainBreak.objects.create(
            chain=head,
            event_id=report.broken_event_id,
            seq=report.broken_seq,
            problem=report.problem[:200],
            events_checked=report.events,
        )
        for ops in User.objects.filter(is_staff=True, is_active=True).order_by("id"):
            queue_notification(
                kind="audit_chain_broken",
                user=ops,
                context={
                    "chain": report.key,
                    "event_id": report.broken_event_id,
                    "seq": report.broken_seq,
                    "problem": report.problem,
                    "events_checked": report.events,
                    "admin_url": "/admin/tokens/auditchainbreak/",
                },
                dedup_key=f"audit-chain-broken:{report.key}:{today}:{ops.id}",
            )
