"""An announcement end to end: published by ops, fanned out by a real Celery worker (Redis
broker, PostgreSQL shared with the test) and delivered by it to a real SMTP server on loopback.
Each inbox receives it exactly once, also when ops try to publish it again."""

import pytest

from accounts.models import Membership
from changelog import services
from changelog.services import AnnouncementError
from tests.changelog.conftest import admin_of
from tests.support.worker import wait_for
from tokens.actors import Actor

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# An entry of the real changelog file: the worker process reads the file the settings name.
ENTRY = "changelog"


def _announced(smtp, title: str) -> list:
    """The announcement's messages (the tokens' "created" notices arrive too)."""
    return [m for m in smtp.inbox.messages if title in " ".join(m["Subject"].split())]


def _recipients(smtp, title: str) -> list[str]:
    return sorted(message["To"] for message in _announced(smtp, title))


def test_an_announcement_reaches_each_inbox_exactly_once(
    mail_worker, smtp, org, other_org, owner, member, org_admin, ops_user, issue_token
):
    # owner holds tokens in two organisations (one email, not two); member holds one token;
    # org_admin holds none but administers; the other org's admin holds none either.
    issue_token(owner, org, "crane feed")
    issue_token(owner, org, "nightly sync")
    Membership.objects.create(user=owner, organization=other_org)
    issue_token(owner, other_org, "antwerp mirror")
    issue_token(member, org, "member script")
    sofia = admin_of(other_org, "sofia@other.example")
    expected = sorted([owner.email, member.email, org_admin.email, sofia.email])

    announcement = services.draft_announcement(entry_id=ENTRY)
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user), note="e2e")

    title = announcement.title
    assert wait_for(lambda: len(_announced(smtp, title)) >= len(expected), timeout=60), _recipients(
        smtp, title
    )
    with pytest.raises(AnnouncementError):
        services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    # Room for a duplicate to show up, from the fan-out or from the refused second publish.
    wait_for(lambda: len(_announced(smtp, title)) > len(expected), timeout=3)
    assert _recipients(smtp, title) == expected
