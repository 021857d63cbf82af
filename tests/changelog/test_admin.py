"""Ops draft and publish announcements in /admin/: a confirmation page first, one publish,
a clear refusal the second time, read-only once published."""

import pytest
from django.urls import reverse

from changelog.models import Announcement
from notifications.models import Notification
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:changelog_announcement_changelist")
ADD = reverse("admin:changelog_announcement_add")


def publish_post(announcement, *, confirm=False) -> dict:
    data = {"action": "publish", "_selected_action": [announcement.pk], "index": 0}
    return data | ({"_confirm": "yes", "reason": ""} if confirm else {})


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def readers(owner, member, org_admin, issue_token, org):
    issue_token(owner, org, "crane feed")
    issue_token(member, org, "member script")


def test_ops_draft_an_announcement_from_an_entry_and_its_text_is_the_default(
    ops_client, changelog_file
):
    form = ops_client.get(ADD)
    assert b"retire-maintenance-list" in form.content

    response = ops_client.post(ADD, {"entry_id": "more-telemetry", "title": "", "body": ""})

    assert response.status_code == 302
    made = Announcement.objects.get()
    assert made.title == "More telemetry metrics" and made.body == "Two more metrics."
    assert made.created_by.email == "ops@quaygate.example"
    assert b"more-telemetry" not in ops_client.get(ADD).content  # one announcement per entry


def test_publishing_asks_first_saying_how_many_people_are_emailed(ops_client, draft, readers):
    announcement = draft()

    response = ops_client.post(CHANGELIST, publish_post(announcement))

    assert response.status_code == 200
    assert b"Publish and email 3 people" in response.content
    announcement.refresh_from_db()
    assert not announcement.is_published
    assert not Notification.objects.filter(dedup_key__startswith="announcement:").exists()


def test_ops_publish_once_and_a_second_publish_is_refused(
    ops_client, ops, draft, readers, django_capture_on_commit_callbacks
):
    announcement = draft()
    with django_capture_on_commit_callbacks(execute=True):
        done = ops_client.post(CHANGELIST, publish_post(announcement, confirm=True), follow=True)

    assert any("Published" in text for text in messages_of(done))
    announcement.refresh_from_db()
    assert announcement.published_by == ops and announcement.recipients == 3
    sent = Notification.objects.filter(dedup_key__startswith="announcement:").count()
    assert sent == 3

    with django_capture_on_commit_callbacks(execute=True):
        again = ops_client.post(CHANGELIST, publish_post(announcement, confirm=True), follow=True)

    [refusal] = [text for text in messages_of(again) if "already published" in text]
    assert "nothing was sent again" in refusal and ops.email in refusal
    assert Notification.objects.filter(dedup_key__startswith="announcement:").count() == sent
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ANNOUNCEMENT_PUBLISHED).count() == 1


def test_a_published_announcement_is_read_only_and_cannot_be_deleted(
    ops_client, draft, ops, readers
):
    announcement = draft()
    ops_client.post(CHANGELIST, publish_post(announcement, confirm=True))
    url = reverse("admin:changelog_announcement_change", args=[announcement.pk])

    page = ops_client.get(url)
    ops_client.post(url, {"title": "Changed afterwards", "body": "x"})

    assert page.status_code == 200 and b'name="title"' not in page.content
    announcement.refresh_from_db()
    assert announcement.title != "Changed afterwards"
    delete = reverse("admin:changelog_announcement_delete", args=[announcement.pk])
    assert ops_client.post(delete, {"post": "yes"}).status_code == 403


def test_one_at_a_time(ops_client, draft):
    first, second = draft(), draft("more-telemetry")
    data = publish_post(first) | {"_selected_action": [first.pk, second.pk]}

    response = ops_client.post(CHANGELIST, data, follow=True)

    assert "Publish one announcement at a time." in messages_of(response)
    assert not Announcement.objects.filter(published_at__isnull=False).exists()


def test_the_list_costs_the_same_queries_for_2_or_12_announcements(
    ops_client, changelog_file, django_assert_num_queries
):
    from changelog import entries, services

    ids = [entry.id for entry in entries.entries()]
    for entry_id in ids[:2]:
        services.draft_announcement(entry_id=entry_id)
    ops_client.get(CHANGELIST)
    with django_assert_num_queries(7) as two:
        ops_client.get(CHANGELIST)
    for entry_id in ids[2:12]:
        services.draft_announcement(entry_id=entry_id)
    with django_assert_num_queries(len(two.captured_queries)):
        assert ops_client.get(CHANGELIST).status_code == 200
