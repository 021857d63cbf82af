"""The audit log is append-only: the model refuses changes, and PostgreSQL refuses them too."""

import pytest
from django.db import DatabaseError, connection, transaction

from tokens.models import AuditEvent


@pytest.fixture
def event(issued) -> AuditEvent:
    return AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_CREATED)


def test_an_event_cannot_be_saved_again(event):
    event.details = {"forged": True}
    with pytest.raises(PermissionError):
        event.save()


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(PermissionError):
        event.delete()


def test_the_queryset_refuses_bulk_update_and_delete(event):
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="token.revoked")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditEvent.Action.TOKEN_CREATED


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tokens_auditevent SET action = 'token.revoked' WHERE id = %s",
        "DELETE FROM tokens_auditevent WHERE id = %s",
    ],
)
def test_postgresql_refuses_changes_that_bypass_the_orm(event, sql):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == AuditEvent.Action.TOKEN_CREATED
