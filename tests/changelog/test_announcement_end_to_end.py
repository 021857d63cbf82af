"""An announcement end to end: ops publish in /admin/, a real Celery worker (Redis broker,
PostgreSQL shared with the test) writes the outbox and sends through a real SMTP server on
loopback (aiosmtpd), with the shared fixtures of tests/support/smtp.py. Each inbox gets
exactly one email; the owner of the token that called the deprecated operation gets the one
that says which token called what; publishing again sends nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from tests.changelog.conftest import admin_of, record_call
from tests.support.ops import ops_group
from tests.support.worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHANGELIST = reverse("admin:changelog_announcement_changelist")
SUBJECT = "Quaygate API 1.7.0: GET /maintenance is deprecated: use each spreader's records"


@pytest.fixture
def worker_reads_the_changelog(changelog_file, monkeypatch):
    """Before the worker starts: it reads the same changelog file as the test."""
    monkeypatch.setenv("API_CHANGELOG_FILE", str(changelog_file))


def announcement_mail(smtp) -> dict[str, object]:
    """To -> message, for the announcement's emails (not the "token created" ones)."""
    found = {}
    for message in list(smtp.inbox.messages):
        subject = " ".join(message["Subject"].split())
        if subject.startswith(("Quaygate API", "Action needed")):
            assert message["To"] not in found, f"a second email to {message['To']}"
            found[message["To"]] = message
    return found


def text_of(message) -> str:
    return message.get_payload(0).get_payload(decode=True).decode()


def test_ops_publish_and_each_inbox_gets_exactly_one_email(
    worker_reads_the_changelog,
    worker,
    smtp,
    org,
    other_org,
    owner,
    member,
    org_admin,
    ops_user,
    issue_token,
    draft,
):
    # A flushed database (this is a transactional test) has no Ops group: give it back what
    # publishing needs.
    ops_user.groups.add(ops_group("view_announcement", "change_announcement"))
    crane = issue_token(owner, org, "crane feed")
    issue_token(owner, org, "nightly sync")
    Membership.objects.create(user=owner, organization=other_org)
    issue_token(owner, other_org, "antwerp mirror")
    issue_token(member, org, "member script")
    admin_of(other_org, "sofia@other.example")
    record_call(crane, "GET", "/api/v1/maintenance")
    record_call(crane, "GET", "/api/v1/maintenance")
    announcement = draft()
    ops = Client()
    ops.force_login(ops_user)
    data = {"action": "publish", "_selected_action": [announcement.pk], "index": 0}

    done = ops.post(CHANGELIST, data | {"_confirm": "yes", "reason": ""})

    assert done.status_code == 302
    inboxes = {owner.email, member.email, org_admin.email, "sofia@other.example"}
    assert wait_for(lambda: set(announcement_mail(smtp)) == inboxes, timeout=40), announcement_mail(
        smtp
    )
    again = ops.post(CHANGELIST, data | {"_confirm": "yes", "reason": ""}, follow=True)
    assert "already published" in again.content.decode()
    wait_for(lambda: len(announcement_mail(smtp)) > 4, timeout=2)  # time for a duplicate
    mail = announcement_mail(smtp)
    assert len(mail) == 4
    targeted = text_of(mail[owner.email])
    assert "Action needed" in mail[owner.email]["Subject"]
    assert f"crane feed ({crane.display_prefix}…)" in targeted
    assert "maintenance_list (GET /api/v1/maintenance): 2 calls" in targeted
    assert "nightly sync" not in targeted and "antwerp mirror" not in targeted
    for address in inboxes - {owner.email}:
        assert " ".join(mail[address]["Subject"].split()) == SUBJECT
        assert "crane feed" not in text_of(mail[address])
    announcement.refresh_from_db()
    assert (announcement.recipients, announcement.targeted) == (4, 1)
