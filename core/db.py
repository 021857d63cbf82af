"""Small database helpers shared by the apps."""

from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet, *, batch_size: int) -> int:
    """Delete what `queryset` selects, `batch_size` rows at a time: each DELETE is short (short
    locks, small WAL), so retention on a large table never stalls the writers. Returns how many
    rows went. The model must have no cascades or delete signals that matter per row."""
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch_size:
            return deleted
