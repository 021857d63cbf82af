"""issue_token and the organisation's policy, enforced by the service whoever calls it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import InvalidInput, PermissionDenied, PolicyViolation
from tokens.models import AuditEvent, PersonalAccessToken, TokenSecret

A = AuditEvent.Action


def test_the_secret_is_returned_once_and_only_its_keyed_hash_is_stored(issued):
    token = issued.token
    [secret] = TokenSecret.objects.filter(token=token)
    assert secret.secret_hash == services.hash_secret(issued.secret) != issued.secret
    assert token.display_prefix == issued.secret[:8]
    stored = str(PersonalAccessToken.objects.filter(pk=token.pk).values().get())
    assert issued.secret not in stored
    assert issued.secret not in repr(issued)


def test_issuing_writes_an_audit_event_and_tells_the_owner(issued, owner):
    event = AuditEvent.objects.get(action=A.TOKEN_CREATED)
    assert (event.token_id, event.actor_user_id, event.actor_kind) == (
        issued.token.id,
        owner.id,
        "user",
    )
    assert event.details["scopes"] == ["fleet:read", "alarms:write"]
    assert str(event.ip) == "192.0.2.1" and event.user_agent == "pytest"
    notice = Notification.objects.get(kind=Notification.Kind.TOKEN_CREATED)
    assert notice.user == owner and issued.secret not in notice.body_text


def test_the_default_expiry_is_the_policy_maximum(issue, owner):
    token = issue(owner).token
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


def test_an_expiry_past_the_policy_maximum_is_refused(issue, owner):
    with pytest.raises(PolicyViolation) as refused:
        issue(owner, expires_at=timezone.now() + timedelta(days=91))
    assert (refused.value.code, refused.value.field) == ("policy_max_lifetime", "expires_at")


def test_no_expiry_needs_the_policy_to_allow_it(issue, owner, org):
    with pytest.raises(PolicyViolation) as refused:
        issue(owner, expires_at=None)
    assert refused.value.code == "no_expiry_not_allowed"
    services.update_token_policy(org, actor=Actor.cli(), allow_no_expiry=True)
    assert issue(owner, expires_at=None).token.expires_at is None


def test_an_expiry_in_the_past_is_refused(issue, owner):
    with pytest.raises(InvalidInput):
        issue(owner, expires_at=timezone.now() - timedelta(minutes=1))


def test_members_grant_only_the_scopes_the_policy_allows(issue, owner, org_admin, org):
    services.update_token_policy(
        org, actor=Actor.for_user(org_admin), member_scopes=["fleet:read", "alarms:read"]
    )
    with pytest.raises(PolicyViolation) as refused:
        issue(owner, scopes=["fleet:read", "maintenance:write"])
    assert refused.value.field == "scopes" and "maintenance:write" in refused.value.message
    assert issue(org_admin, scopes=["maintenance:write"]).token.scopes == ["maintenance:write"]


def test_unknown_and_empty_scopes_are_refused(issue, owner):
    with pytest.raises(InvalidInput, match="Unknown scope"):
        issue(owner, scopes=["fleet:read", "admin:all"])
    with pytest.raises(InvalidInput):
        issue(owner, scopes=[])


def test_an_ip_allow_list_is_normalised_and_checked(issue, owner):
    token = issue(owner, allowed_ips=["203.0.113.7/24", " 2001:db8::1 ", "203.0.113.0/24"]).token
    assert token.allowed_ips == ["203.0.113.0/24", "2001:db8::1/128"]
    with pytest.raises(InvalidInput) as refused:
        issue(owner, name="bad", allowed_ips=["10.0.0.300"])
    assert refused.value.code == "invalid_ip"


def test_the_policy_can_require_an_allow_list(issue, owner, org):
    services.update_token_policy(org, actor=Actor.cli(), require_ip_allowlist=True)
    with pytest.raises(PolicyViolation, match="allow-list"):
        issue(owner)
    assert issue(owner, allowed_ips=["192.0.2.0/24"]).token.allowed_ips == ["192.0.2.0/24"]


def test_selected_terminals_must_belong_to_the_organisation(issue, owner, terminals):
    token = issue(owner, terminal_access="selected", terminals=[terminals["EMX"]]).token
    assert list(token.terminals.all()) == [terminals["EMX"]]
    with pytest.raises(InvalidInput) as refused:
        issue(owner, name="x", terminal_access="selected", terminals=[terminals["ANT"]])
    assert refused.value.field == "terminals"
    with pytest.raises(InvalidInput):
        issue(owner, name="y", terminal_access="selected", terminals=[])


def test_names_are_unique_among_the_owners_live_tokens(issue, owner, member):
    first = issue(owner, name="sync")
    with pytest.raises(InvalidInput) as refused:
        issue(owner, name=" sync ")
    assert refused.value.code == "name_taken"
    assert issue(member, name="sync").token.name == "sync"  # another person's name space
    services.revoke_token(first.token, actor=Actor.for_user(owner))
    assert issue(owner, name="sync").token.name == "sync"


def test_a_member_may_not_raise_the_rate_limit_but_an_admin_may(issue, owner, org_admin):
    with pytest.raises(PolicyViolation):
        issue(owner, rate_limit_per_hour=10_000)
    assert issue(owner, rate_limit_per_hour=100).token.rate_limit_per_hour == 100
    assert issue(org_admin, rate_limit_per_hour=10_000).token.rate_limit_per_hour == 10_000


def test_only_members_get_tokens_and_only_for_themselves(issue, outsider, owner, member, org):
    with pytest.raises(PermissionDenied):
        issue(outsider)
    with pytest.raises(PermissionDenied):
        services.issue_token(
            owner=owner,
            organization=org,
            name="x",
            scopes=["fleet:read"],
            actor=Actor.for_user(member),
        )


def test_a_policy_change_is_audited_with_before_and_after(org, org_admin):
    services.update_token_policy(org, actor=Actor.for_user(org_admin), max_lifetime_days=30)
    event = AuditEvent.objects.get(action=A.POLICY_CHANGED)
    assert event.details == {"max_lifetime_days": {"from": 90, "to": 30}}
    assert event.organization_id == org.id and event.actor_user_id == org_admin.id


def test_a_policy_change_that_changes_nothing_writes_nothing(org, org_admin):
    services.update_token_policy(org, actor=Actor.for_user(org_admin), max_lifetime_days=90)
    assert not AuditEvent.objects.filter(action=A.POLICY_CHANGED).exists()


def test_members_cannot_change_the_policy(org, member, outsider):
    for person in (member, outsider):
        with pytest.raises(PermissionDenied):
            services.update_token_policy(org, actor=Actor.for_user(person), max_lifetime_days=7)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_lifetime_days", 0),
        ("max_lifetime_days", "ninety"),
        ("default_rate_limit_per_hour", -1),
        ("member_scopes", ["root"]),
        ("revoke_unused_after_days", 0),
    ],
)
def test_bad_policy_values_are_refused_naming_the_field(org, org_admin, field, value):
    with pytest.raises(InvalidInput) as refused:
        services.update_token_policy(org, actor=Actor.for_user(org_admin), **{field: value})
    assert refused.value.field == field


def test_tightening_the_policy_extends_nothing(issue, owner, org, org_admin):
    token = issue(owner).token
    before = token.expires_at
    services.update_token_policy(org, actor=Actor.for_user(org_admin), max_lifetime_days=7)
    token.refresh_from_db()
    assert token.expires_at == before
    # …and the next regeneration applies the new maximum.
    regenerated = services.regenerate_token(token, actor=Actor.for_user(owner)).token
    assert regenerated.expires_at <= timezone.now() + timedelta(days=7, minutes=1)
