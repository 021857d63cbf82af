"""Issue 18: put the events written before the chain existed into it, in insertion (id)
order per chain, with the same canonical form new events use (tokens.audit_chain).

The append-only trigger (0002) refuses UPDATE, so on PostgreSQL it is disabled for this
migration's transaction only and enabled again before it commits: nobody else can write in
between (ALTER TABLE holds an exclusive lock on the table until then). Resumable: rows that
already have a chain are left alone and their chain's head carries on.
"""

from django.db import migrations

from tokens import audit_chain

TRIGGER = "tokens_auditevent_append_only"
BATCH = 1000


def backfill(apps, schema_editor) -> None:
    Event = apps.get_model("tokens", "AuditEvent")
    Head = apps.get_model("tokens", "AuditChainHead")
    postgres = schema_editor.connection.vendor == "postgresql"
    if not Event.objects.filter(chain__isnull=True).exists():
        return
    if postgres:
        # ALTER TABLE refuses to run while deferred FK checks are pending in this transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(f"ALTER TABLE tokens_auditevent DISABLE TRIGGER {TRIGGER}")
    heads = {head.key: head for head in Head.objects.all()}
    pending = []
    rows = Event.objects.filter(chain__isnull=True).order_by("id")
    for event in rows.iterator(chunk_size=BATCH):
        key = audit_chain.chain_key(event.organization_id)
        head = heads.get(key)
        if head is None:
            head = heads[key] = Head.objects.create(key=key, organization_id=event.organization_id)
        head.seq += 1
        event.chain_id, event.chain_seq, event.prev_hash = head.pk, head.seq, head.hash or audit_chain.GENESIS
        event.hash = head.hash = audit_chain.event_hash(event, seq=head.seq, prev_hash=event.prev_hash)
        pending.append(event)
        if len(pending) >= BATCH:
            Event.objects.bulk_update(pending, ["chain", "chain_seq", "prev_hash", "hash"])
            pending = []
    Event.objects.bulk_update(pending, ["chain", "chain_seq", "prev_hash", "hash"])
    for head in heads.values():
        head.save(update_fields=["seq", "hash"])
    if postgres:
        # The rows just updated have their FK checks pending too.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(f"ALTER TABLE tokens_auditevent ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("tokens", "0012_audit_chain")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
