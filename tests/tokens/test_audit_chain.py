"""The audit log's hash chain: every writer path links into its organisation's chain (or the
platform's), a row changed behind the application's back is named by verify_audit_chain,
and concurrent writers never fork a chain."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from notifications.models import Notification
from tokens import audit_chain
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditChainBreak, AuditChainHead, AuditEvent
from tokens.services import chain as chain_services

TRIGGER = "tokens_auditevent_append_only"


def record(org=None, **details):
    return token_services.record_audit_event(
        action=AuditEvent.Action.POLICY_CHANGED,
        actor=Actor.system("test"),
        organization=org,
        details=details,
    )


def tamper(sql: str, params: list) -> None:
    """What a database superuser could do: switch the trigger off, change a row, switch it on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE wants no pending checks
        cursor.execute(f"ALTER TABLE tokens_auditevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE tokens_auditevent ENABLE TRIGGER {TRIGGER}")


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("tampering past the trigger is a PostgreSQL test")


def test_events_link_into_their_organisations_chain(org, other_org):
    first, second = record(org, n=1), record(org, n=2)
    elsewhere, platform = record(other_org, n=3), record(None, n=4)
    assert (first.chain_seq, second.chain_seq) == (1, 2)
    assert first.prev_hash == audit_chain.GENESIS
    assert second.prev_hash == first.hash
    assert elsewhere.chain_seq == 1 and elsewhere.chain.key == f"org:{other_org.id}"
    assert platform.chain.key == "platform" and platform.chain_seq == 1
    head = AuditChainHead.objects.get(key=f"org:{org.id}")
    assert (head.seq, head.hash) == (2, second.hash)


def test_the_hash_is_sha256_of_the_documented_canonical_json(org):
    event = AuditEvent.objects.get(pk=record(org, note="Grüße", n=1).pk)
    document = {
        "action": "policy.changed",
        "actor_kind": "system",
        "actor_label": "test",
        "actor_token_id": None,
        "actor_user_id": None,
        "created_at": event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "details": {"n": 1, "note": "Grüße"},
        "ip": None,
        "organization_id": org.id,
        "prev_hash": "0" * 64,
        "seq": 1,
        "token_id": None,
        "token_prefix": "",
        "user_agent": "",
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == event.hash


def test_what_the_database_gives_back_hashes_the_same(org, owner):
    actor = Actor.for_user(owner, ip="2001:0DB8:0000::0001", user_agent="ua ✓")
    event = token_services.record_audit_event(
        action=AuditEvent.Action.USER_LOGIN,
        actor=actor,
        organization=org,
        details={"b": (1, 2), "a": {"z": 1.5, "y": None}, "unicode": "ü"},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.ip == "2001:db8::1"
    assert audit_chain.event_hash(stored, seq=stored.chain_seq, prev_hash=stored.prev_hash) == (
        stored.hash
    )
    assert chain_services.verify_chain(stored.chain).ok


def test_bulk_writes_and_direct_creates_join_the_chain_too(org, issue, owner):
    issue(owner, expires_at=timezone.now() + timedelta(days=1))
    AuditEvent.objects.create(
        action=AuditEvent.Action.USER_LOGIN, actor_kind="system", organization=org
    )
    assert token_services.expire_due_tokens(now=timezone.now() + timedelta(days=2)) == 1
    events = list(AuditEvent.objects.filter(organization=org).order_by("chain_seq"))
    assert [e.action for e in events] == ["token.created", "user.login", "token.expired"]
    assert [e.chain_seq for e in events] == [1, 2, 3]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert chain_services.verify_chain(events[0].chain).ok


def test_verify_audit_chain_says_ok_for_an_intact_log(org, other_org, capsys):
    record(org), record(org), record(other_org)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert f"org:{org.id}: OK, 2 events" in out
    assert f"org:{other_org.id}: OK, 1 events" in out
    call_command("verify_audit_chain", "--org", other_org.slug)
    assert f"org:{org.id}" not in capsys.readouterr().out


def test_verify_audit_chain_refuses_an_unknown_org(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("verify_audit_chain", "--org", "nope")


def test_a_row_changed_in_postgresql_is_named_by_verify_audit_chain(org, capsys):
    needs_postgresql()
    events = [record(org, n=n) for n in range(5)]
    victim = events[2]
    tamper("UPDATE tokens_auditevent SET details = %s WHERE id = %s", ['{"n": 99}', victim.pk])
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_chain", "--org", org.slug)
    assert failure.value.returncode == 1
    err = capsys.readouterr().err
    assert f"event id {victim.pk} (seq 3)" in err
    assert "hash does not match" in err and "2 events verified" in err


def test_a_row_deleted_or_cut_off_the_end_is_found(org, capsys):
    needs_postgresql()
    events = [record(org, n=n) for n in range(4)]
    tamper("DELETE FROM tokens_auditevent WHERE id = %s", [events[1].pk])
    report = chain_services.verify_chain(events[0].chain)
    assert (report.broken_event_id, report.problem) == (events[2].pk, "seq 3 where 2 was expected")
    other = [record(None, n=n) for n in range(2)]
    tamper("DELETE FROM tokens_auditevent WHERE id = %s", [other[1].pk])
    report = chain_services.verify_chain(other[0].chain)
    assert "ends at seq 1 but its head says 2" in report.problem


def test_a_forged_rehash_still_breaks_the_next_link(org):
    """Recomputing the edited row's own hash is not enough: the next row names the old one."""
    needs_postgresql()
    events = [record(org, n=n) for n in range(3)]
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.details = {"n": 42}
    new_hash = audit_chain.event_hash(forged, seq=2, prev_hash=forged.prev_hash)
    tamper(
        "UPDATE tokens_auditevent SET details = %s, hash = %s WHERE id = %s",
        ['{"n": 42}', new_hash, forged.pk],
    )
    report = chain_services.verify_chain(forged.chain)
    assert report.broken_event_id == events[2].pk
    assert report.problem == "prev_hash is not the previous event's hash"


def test_a_position_in_a_chain_cannot_be_taken_twice(org):
    first = record(org)
    clone = AuditEvent(action="user.login", actor_kind="system", organization=org)
    clone.chain, clone.chain_seq, clone.prev_hash, clone.hash = first.chain, 1, "0" * 64, "x"
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        # Past the model (which would link it): the constraint itself refuses a fork.
        super(AuditEvent, clone).save(force_insert=True)


def test_the_daily_check_records_a_break_and_emails_ops(org, ops_user):
    needs_postgresql()
    events = [record(org, n=n) for n in range(3)]
    record(None)
    tamper("UPDATE tokens_auditevent SET actor_label = 'nobody' WHERE id = %s", [events[0].pk])
    from tokens.tasks import check_audit_chains_task

    assert check_audit_chains_task.delay().get() == 1
    found = AuditChainBreak.objects.get()
    assert (found.chain.key, found.event_id, found.seq) == (f"org:{org.id}", events[0].pk, 1)
    notice = Notification.objects.get(kind="audit_chain_broken")
    assert notice.to_email == ops_user.email
    assert f"org:{org.id}" in notice.subject and str(events[0].pk) in notice.body_text
    assert chain_services.check_audit_chains()  # again the same day: recorded, not re-emailed
    assert Notification.objects.filter(kind="audit_chain_broken").count() == 1
    assert AuditChainBreak.objects.count() == 2


def test_an_intact_log_tells_nobody(org, ops_user):
    record(org)
    assert chain_services.check_audit_chains() == []
    assert not AuditChainBreak.objects.exists()
    assert not Notification.objects.filter(kind="audit_chain_broken").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_a_chain():
    needs_postgresql()
    from tests.conftest import make_org

    org = make_org("Port of Hamburg")
    writers, per_writer = 6, 15
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    record(org, writer=n, i=i)
                    record(None, writer=n, i=i)  # two chains in one transaction
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    for key in (f"org:{org.id}", "platform"):
        head = AuditChainHead.objects.get(key=key)
        seqs = list(
            AuditEvent.objects.filter(chain=head)
            .order_by("chain_seq")
            .values_list("chain_seq", flat=True)
        )
        assert seqs == list(range(1, writers * per_writer + 1))
        report = chain_services.verify_chain(head)
        assert report.ok and report.events == writers * per_writer == head.seq
