"""Announcing a changelog entry: who hears of it (once each), who is told which token called
what, publishing exactly once, the audit event, and a fixed number of queries however many
people are emailed."""

import pytest

from accounts.models import Membership, Organization, User
from changelog import services
from changelog.audience import deprecated_calls, readers
from changelog.entries import entry
from changelog.operations import operations
from notifications.models import Notification
from tests.changelog.conftest import admin_of, record_call
from tests.conftest import make_org, make_user
from tokens import services as token_services
from tokens.actors import Actor
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, other_org, owner, member, org_admin, issue_token, no_access_org):
    """owner: two tokens in org and one in other_org; member: one token (calls nothing
    retiring); org_admin: admin, no token; an admin of an org without API access; a person
    whose only token is revoked; a deactivated owner."""
    owner.org_tokens = [
        issue_token(owner, org, "crane feed"),
        issue_token(owner, org, "nightly sync"),
    ]
    Membership.objects.create(user=owner, organization=other_org)
    owner.other_token = issue_token(owner, other_org, "antwerp mirror")
    member.token = issue_token(member, org, "member script")
    admin_of(other_org, "sofia@other.example")
    admin_of(no_access_org, "nobody@noaccess.example")
    gone = make_user("gone@rotterdam.example", org)
    revoked = issue_token(gone, org, "old")
    token_services.revoke_token(revoked, actor=Actor.system("tests"), reason="done")
    asleep = make_user("asleep@rotterdam.example", org, is_active=False)
    issue_token(asleep, org, "sleeping")
    return {"owner": owner, "member": member, "org_admin": org_admin}


def emails(kind=None) -> list[str]:
    rows = Notification.objects.filter(dedup_key__startswith="announcement:")
    if kind:
        rows = rows.filter(kind=kind)
    return sorted(rows.values_list("to_email", flat=True))


READERS = [
    "admin@rotterdam.example",
    "member@rotterdam.example",
    "owner@rotterdam.example",
    "sofia@other.example",
]


def test_readers_are_token_owners_and_admins_with_api_access_each_once(world):
    assert sorted(readers().values_list("email", flat=True)) == READERS


def test_the_deprecated_calls_are_counted_per_token_and_operation_in_sql(
    world, changelog_file, django_assert_num_queries
):
    crane, nightly = world["owner"].org_tokens
    for _ in range(3):
        record_call(crane, "GET", "/api/v1/maintenance")
    record_call(crane, "GET", "/api/v1/alarms", days_ago=2)
    record_call(nightly, "GET", "/api/v1/maintenance", days_ago=29)
    record_call(nightly, "GET", "/api/v1/maintenance", days_ago=31)  # outside the window
    record_call(nightly, "GET", "/api/v1/spreaders")  # not retiring
    record_call(world["owner"].other_token, "GET", "/api/v1/terminals")
    operations()  # the schema is made once per process

    with django_assert_num_queries(1):
        calls = deprecated_calls(entry("retire-maintenance-list"))

    pairs = {(c.token_name, c.operation.operation_id, c.calls) for c in calls}
    assert pairs == {
        ("crane feed", "maintenance_list", 3),
        ("crane feed", "alarms_list", 1),
        ("nightly sync", "maintenance_list", 1),
    }
    assert {c.owner_id for c in calls} == {world["owner"].id}


def test_a_revoked_tokens_calls_do_not_count(world, changelog_file):
    crane, _ = world["owner"].org_tokens
    record_call(crane, "GET", "/api/v1/maintenance")
    token_services.revoke_token(crane, actor=Actor.system("tests"), reason="done")

    assert deprecated_calls(entry("retire-maintenance-list")) == []


def test_publishing_writes_the_audit_event_and_emails_each_inbox_once(
    world, draft, ops_user, django_capture_on_commit_callbacks
):
    crane, _ = world["owner"].org_tokens
    record_call(crane, "GET", "/api/v1/maintenance")
    announcement = draft()

    with django_capture_on_commit_callbacks(execute=True):
        services.publish_announcement(announcement, actor=Actor.for_ops(ops_user), note="Q1")

    assert emails() == READERS
    assert emails(Notification.Kind.API_DEPRECATION) == ["owner@rotterdam.example"]
    announcement.refresh_from_db()
    assert (announcement.recipients, announcement.targeted) == (4, 1)
    assert announcement.sent_at is not None and announcement.published_by == ops_user
    event = AuditEvent.objects.get(action=AuditEvent.Action.ANNOUNCEMENT_PUBLISHED)
    assert event.actor_user == ops_user and event.actor_kind == "ops"
    assert event.details["entry_id"] == "retire-maintenance-list"
    assert event.details["note"] == "Q1" and event.details["version"] == "1.7.0"


def test_the_targeted_email_lists_which_token_called_what(world, draft, ops_user, settings):
    settings.SITE_URL = "https://quaygate.example"
    crane, nightly = world["owner"].org_tokens
    record_call(crane, "GET", "/api/v1/maintenance")
    record_call(crane, "GET", "/api/v1/maintenance")
    record_call(nightly, "GET", "/api/v1/alarms")
    announcement = draft()
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    services.send_announcement(announcement)

    mail = Notification.objects.get(kind=Notification.Kind.API_DEPRECATION)
    text = mail.body_text
    assert mail.to_email == "owner@rotterdam.example"
    assert "Action needed" in mail.subject
    assert f"crane feed ({crane.display_prefix}…)" in text
    assert "maintenance_list (GET /api/v1/maintenance): 2 calls" in text
    assert f"nightly sync ({nightly.display_prefix}…)" in text
    assert "alarms_list (GET /api/v1/alarms): 1 call," in text
    assert f"https://quaygate.example/tokens/{crane.id}/" in text
    assert "2027-06-30" in text
    assert "antwerp mirror" not in text and "member script" not in text
    assert "Read each spreader's maintenance instead." in text
    plain = Notification.objects.get(
        to_email="member@rotterdam.example", dedup_key__startswith="announcement:"
    )
    assert plain.kind == Notification.Kind.API_ANNOUNCEMENT
    assert "crane feed" not in plain.body_text
    assert "https://quaygate.example/api/changelog/#retire-maintenance-list" in plain.body_text


def test_an_addition_sends_no_targeted_email(world, draft, ops_user):
    record_call(world["owner"].org_tokens[0], "GET", "/api/v1/spreaders/EMX-001/telemetry")
    announcement = draft("more-telemetry")
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    services.send_announcement(announcement)

    assert emails() == READERS
    assert emails(Notification.Kind.API_DEPRECATION) == []


def test_publishing_twice_is_refused_and_sends_nothing_more(
    world, draft, ops_user, django_capture_on_commit_callbacks
):
    announcement = draft()
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    stale = type(announcement).objects.get(pk=announcement.pk)
    stale.published_at = None  # another tab's copy, from before the first publish

    with (
        pytest.raises(services.AnnouncementError, match="already published") as refused,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.publish_announcement(stale, actor=Actor.for_ops(ops_user))

    assert refused.value.code == "already_published"
    assert "nothing was sent again" in refused.value.message
    assert len(emails()) == 4
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ANNOUNCEMENT_PUBLISHED).count() == 1


def test_sending_again_writes_no_second_email(world, draft, ops_user):
    announcement = draft()
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    services.send_announcement(announcement)
    services.send_announcement(announcement)  # a retried task

    assert len(emails()) == 4


def test_two_accounts_on_one_inbox_get_one_email(world, draft, ops_user, org, issue_token):
    shouting = User.objects.create(email="OWNER@rotterdam.example")
    Membership.objects.create(user=shouting, organization=org)
    issue_token(shouting, org, "shouting")
    announcement = draft()
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    services.send_announcement(announcement)

    assert [e.lower() for e in emails()] == READERS


def test_an_unpublished_or_unknown_announcement_is_refused(world, draft):
    with pytest.raises(services.AnnouncementError, match="Publish the announcement first"):
        services.send_announcement(draft())
    with pytest.raises(services.AnnouncementError, match="no entry"):
        services.draft_announcement(entry_id="no-such-entry")
    with pytest.raises(services.AnnouncementError, match="already has an announcement"):
        services.draft_announcement(entry_id="retire-maintenance-list")


@pytest.mark.parametrize("count", [3, 30])
def test_the_fan_out_costs_the_same_queries_for_3_or_30_readers(
    count, issue_token, draft, ops_user, django_assert_num_queries
):
    org = make_org(f"Port {count}", api_access=Organization.ApiAccess.PRODUCTION)
    for number in range(count):
        person = make_user(f"reader{number}@port.example", org)
        make_user(f"admin{number}@port.example", org, role="admin")
        token = issue_token(person, org, f"reader token {number}")
        if number % 2:
            record_call(token, "GET", "/api/v1/maintenance")
    announcement = draft()
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))
    operations()  # the schema is made once per process

    # 1 aggregate of the calls, 1 owners; targeted outbox batch: 1 existing keys, savepoint,
    # insert, ids, release; readers batch 1 + the same 5; the empty last batch 1; the counts 2.
    with django_assert_num_queries(16):
        services.send_announcement(announcement)

    assert Notification.objects.filter(dedup_key__startswith="announcement:").count() == 2 * count


def test_the_fan_out_goes_in_batches(draft, ops_user, monkeypatch, org):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    for number in range(5):
        make_user(f"admin{number}@port.example", org, role="admin")
    announcement = draft("more-telemetry")
    services.publish_announcement(announcement, actor=Actor.for_ops(ops_user))

    services.send_announcement(announcement)

    assert len(emails()) == 5
