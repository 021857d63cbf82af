"""Ops console: API announcements. Draft one for a changelog entry (title and body start as the
entry's), then Publish it: a confirmation page says how many people will be emailed, and the
service publishes once (audit event, then the emails through the outbox, one per inbox).
A published announcement is read-only; publishing it again is refused with a message."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from changelog import entries, services
from changelog.audience import readers
from changelog.models import Announcement
from core.admin_utils import ask_reason
from portal.admin.revoking import BOTH_LOCATIONS
from tokens.actors import Actor


def _entry_choices() -> list[tuple[str, str]]:
    taken = set(Announcement.objects.values_list("entry_id", flat=True))
    return [
        (item.id, f"{item.version} ({item.date:%Y-%m-%d}) {item.kind}: {item.title}")
        for item in entries.entries()
        if item.id not in taken
    ]


class AnnouncementForm(forms.ModelForm):
    entry_id = forms.ChoiceField(label="Changelog entry")
    title = forms.CharField(
        max_length=200, required=False, help_text="Leave empty for the entry's title."
    )
    body = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text="Leave empty for the entry's description. Paragraphs are separated by a "
        "blank line. Never paste a secret here.",
    )

    class Meta:
        model = Announcement
        fields = ["entry_id", "title", "body"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["entry_id"] = forms.CharField(disabled=True, label="Changelog entry")
        else:
            self.fields["entry_id"].choices = _entry_choices()

    def clean(self):
        cleaned = super().clean()
        entry = entries.entry(cleaned.get("entry_id") or self.instance.entry_id or "")
        if entry is not None:
            cleaned["title"] = cleaned.get("title", "").strip() or entry.title
            cleaned["body"] = cleaned.get("body", "").strip() or entry.description
        return cleaned


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    form = AnnouncementForm
    list_display = ["title", "entry_id", "state", "published_at", "recipients", "targeted"]
    list_select_related = ["published_by"]
    readonly_fields = ["state", "published_at", "published_by", "recipients", "targeted"]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return ["entry_id", "title", "body", *self.readonly_fields, "sent_at"]
        return self.readonly_fields

    @admin.display(description="State")
    def state(self, obj: Announcement) -> str:
        if obj.sent_at:
            return "Sent"
        return "Published, sending" if obj.is_published else "Draft"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["title", "body"])
            return
        made = services.draft_announcement(
            entry_id=form.cleaned_data["entry_id"],
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            by=request.user,
        )
        obj.pk, obj.created_at = made.pk, made.created_at

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False  # the record of what was sent, to whom it went (the outbox), stays
        return super().has_delete_permission(request, obj)

    def has_publish_permission(self, request, obj=None):
        return request.user.has_perm("changelog.change_announcement")

    @admin.action(
        description="Publish and email this announcement…",
        description_plural="Publish and email the selected announcement…",
        permissions=["publish"],
        location=BOTH_LOCATIONS,
    )
    def publish(self, request: HttpRequest, queryset: QuerySet[Announcement]):
        return publish_one(self, request, queryset)


def publish_one(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Announcement]
) -> TemplateResponse | None:
    chosen = list(queryset.select_related("published_by")[:2])
    if len(chosen) != 1:
        model_admin.message_user(request, "Publish one announcement at a time.", messages.ERROR)
        return None
    [announcement] = chosen
    if announcement.is_published:
        model_admin.message_user(
            request, services.already_published_message(announcement), messages.ERROR
        )
        return None
    audience = readers().count()
    note = ask_reason(
        model_admin,
        request,
        objects=[announcement],
        title=f"Publish “{announcement.title}”",
        button=f"Publish and email {audience} {'person' if audience == 1 else 'people'}",
        label="Note",
        help_text="Optional, for the audit log. Every owner of an active token and every "
        "admin of an organisation with API access gets one email; owners of tokens that "
        "called a retiring operation in the last 30 days get the list of those calls instead. "
        "This cannot be undone.",
        required=False,
    )
    if not isinstance(note, str):
        return note
    try:
        services.publish_announcement(
            announcement, actor=Actor.from_request(request, ops=True), note=note
        )
    except services.AnnouncementError as error:
        model_admin.message_user(request, error.message, messages.ERROR)
        return None
    model_admin.message_user(
        request,
        f"Published “{announcement.title}”: the emails are being queued, one per inbox.",
        messages.SUCCESS,
    )
    return None
