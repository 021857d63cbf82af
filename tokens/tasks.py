"""Celery tasks for tokens: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from tokens import expiry, services
from tokens.services import chain as audit_chains


@shared_task(name="tokens.expire_due_tokens", ignore_result=True)
def expire_due_tokens_task() -> int:
    return services.expire_due_tokens()


@shared_task(name="tokens.expire_pending_requests", ignore_result=True)
def expire_pending_requests_task() -> int:
    """Issue 17: token requests nobody decided on within 7 days are revoked."""
    from tokens.actors import Actor

    return services.expire_pending_requests(actor=Actor.system())


@shared_task(name="tokens.revoke_unused_tokens", ignore_result=True)
def revoke_unused_tokens_task() -> int:
    return services.revoke_unused_tokens()


@shared_task(name="tokens.send_expiry_notices", ignore_result=True)
def send_expiry_notices_task() -> int:
    return expiry.send_expiry_notices()


@shared_task(name="tokens.check_audit_chains", ignore_result=True)
def check_audit_chains_task() -> int:
    """Issue 18: the daily walk of every audit chain; ops hear of a broken one."""
    return len(audit_chains.check_audit_chains())
