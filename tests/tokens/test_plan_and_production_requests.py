"""Issue 15, the entitlement's surfaces in the services: the plan (hourly ceilings carried in
the cached token state, the live-token cap), the admins' email on every level change, and the
production-access request: asked by an org admin, decided by ops."""

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import Membership, Organization
from notifications.models import Notification
from tests.conftest import make_org, make_user
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import PolicyViolation
from tokens.models import AuditEvent, PersonalAccessToken, ProductionAccessRequest
from tokens.state import TokenState

pytestmark = pytest.mark.django_db

DESCRIPTION = "Berth planning sync run by our IT team, about 200 requests an hour."


def ops_actor(user=None) -> Actor:
    return Actor.for_ops(user) if user is not None else Actor.cli("pytest ops")


def me(client, secret):
    return client.get("/api/v1/token", HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def sandbox_org(db) -> Organization:
    return make_org("Port of Gdansk", api_access=Organization.ApiAccess.SANDBOX)


@pytest.fixture
def gdansk_admin(sandbox_org):
    return make_user("ada@gdansk.example", sandbox_org, Membership.Role.ADMIN, full_name="Ada G")


@pytest.fixture
def gdansk_member(sandbox_org):
    return make_user("max@gdansk.example", sandbox_org, Membership.Role.MEMBER)


# --- the plan: hourly ceilings ----------------------------------------------------------------


def test_the_plan_ceiling_caps_a_higher_token_limit_in_the_rate_limit_header(
    issue, owner, org, org_admin, client, settings
):
    settings.QUAYGATE = {**settings.QUAYGATE, "PLAN_RATE_LIMIT_PER_HOUR": 300}
    # An admin's own token may ask for more than the plan? No: the service refuses it...
    with pytest.raises(PolicyViolation) as refused:
        issue(org_admin, rate_limit_per_hour=301)
    assert refused.value.code == "rate_limit_above_plan"
    # ...and a policy default above the plan is capped when the token is used.
    services.update_token_policy(org, actor=ops_actor(), default_rate_limit_per_hour=5000)
    issued = issue(owner)
    response = me(client, issued.secret)
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "300"


def test_sandbox_tokens_get_the_lower_sandbox_ceiling_by_default(
    sandbox_org, gdansk_admin, client, settings
):
    assert settings.QUAYGATE["PLAN_SANDBOX_RATE_LIMIT_PER_HOUR"] == 500
    assert settings.QUAYGATE["PLAN_RATE_LIMIT_PER_HOUR"] > 500
    issued = services.issue_token(
        owner=gdansk_admin,
        organization=sandbox_org,
        name="try",
        scopes=["fleet:read"],
        actor=Actor.for_user(gdansk_admin),
        kind="sandbox",
    )
    response = me(client, issued.secret)
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "500"


def test_a_plan_change_is_audited_and_seen_by_the_next_request(
    issue, owner, org, client, redis_cache
):
    issued = issue(owner)
    assert me(client, issued.secret)["X-RateLimit-Limit"] == "5000"  # cached now
    changed = services.set_plan(
        org,
        actor=ops_actor(),
        reason="Starter plan",
        plan_rate_limit_per_hour=120,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=3,
    )
    assert changed
    assert me(client, issued.secret)["X-RateLimit-Limit"] == "120"
    event = AuditEvent.objects.get(action=AuditEvent.Action.PLAN_CHANGED)
    assert event.organization == org
    assert event.details == {
        "changes": {
            "plan_rate_limit_per_hour": {"from": None, "to": 120},
            "plan_max_active_tokens": {"from": None, "to": 3},
        },
        "reason": "Starter plan",
    }
    # The same plan again changes nothing and writes nothing.
    assert not services.set_plan(
        org,
        actor=ops_actor(),
        reason="again",
        plan_rate_limit_per_hour=120,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=3,
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PLAN_CHANGED).count() == 1


@pytest.mark.parametrize("value", [0, -1, 2_000_000, "many"])
def test_a_plan_value_out_of_bounds_is_refused(org, value):
    with pytest.raises(services.InvalidApiAccess) as refused:
        services.set_plan(
            org,
            actor=ops_actor(),
            reason="typo",
            plan_rate_limit_per_hour=value,
            plan_sandbox_rate_limit_per_hour=None,
            plan_max_active_tokens=None,
        )
    assert refused.value.code == "invalid_plan"


def test_a_plan_change_needs_a_reason(org):
    with pytest.raises(services.InvalidApiAccess) as refused:
        services.set_plan(
            org,
            actor=ops_actor(),
            reason="  ",
            plan_rate_limit_per_hour=10,
            plan_sandbox_rate_limit_per_hour=None,
            plan_max_active_tokens=None,
        )
    assert refused.value.code == "reason_required"


def test_the_ceiling_is_carried_in_the_cached_state(issue, owner, org, client, redis_cache):
    """The plan lives on the organisation row the lookup already joins, and the capped limit
    is what the cache holds: a cached request reads no plan (tests/api/test_query_counts.py
    pins the queries of both paths)."""
    services.set_plan(
        org,
        actor=ops_actor(),
        reason="r",
        plan_rate_limit_per_hour=77,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=None,
    )
    issued = issue(owner)
    me(client, issued.secret)
    raw = redis_cache.get("qg:pat:" + services.hash_secret(issued.secret))
    assert TokenState.from_json(raw).rate_limit_per_hour == 77
    assert TokenState.from_json(raw).org_slug == org.slug


# --- the plan: live tokens --------------------------------------------------------------------


def test_the_live_token_cap_refuses_one_more_with_a_clear_error(issue, owner, org):
    services.set_plan(
        org,
        actor=ops_actor(),
        reason="trial",
        plan_rate_limit_per_hour=None,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=2,
    )
    first = issue(owner, name="one")
    issue(owner, name="two")
    with pytest.raises(PolicyViolation) as refused:
        issue(owner, name="three")
    assert refused.value.code == "token_limit_reached"
    assert "the most its plan allows (2)" in refused.value.message
    assert PersonalAccessToken.objects.filter(organization=org).count() == 2
    # A revoked token frees its place.
    services.revoke_token(first.token, actor=ops_actor(), reason="not needed")
    issue(owner, name="three")


def test_the_issue_token_command_says_why_the_cap_refuses(owner, org):
    services.set_plan(
        org,
        actor=ops_actor(),
        reason="trial",
        plan_rate_limit_per_hour=None,
        plan_sandbox_rate_limit_per_hour=None,
        plan_max_active_tokens=1,
    )
    call_command("issue_token", "--user", owner.email, "--name", "first", "--scope", "fleet:read")
    with pytest.raises(CommandError, match="the most its plan allows"):
        call_command(
            "issue_token", "--user", owner.email, "--name", "second", "--scope", "fleet:read"
        )


# --- kinds the level allows -------------------------------------------------------------------


def test_a_sandbox_org_can_issue_only_sandbox_tokens(sandbox_org, gdansk_admin):
    with pytest.raises(PolicyViolation) as refused:
        services.issue_token(
            owner=gdansk_admin,
            organization=sandbox_org,
            name="prod",
            scopes=["fleet:read"],
            actor=Actor.for_user(gdansk_admin),
            kind="production",
        )
    assert refused.value.code == "api_access_not_enabled"
    assert "sandbox access only" in refused.value.message
    assert refused.value.field == "kind"


def test_ops_may_prepare_a_token_the_level_does_not_cover_yet_and_it_gets_403(
    sandbox_org, gdansk_admin, client, capsys
):
    call_command(
        "issue_token", "--user", gdansk_admin.email, "--name", "ready", "--scope", "fleet:read"
    )
    out, err = capsys.readouterr()
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("qgp_")
    assert "gets 403 api_access_not_enabled until it is covered" in err
    response = me(client, secret)
    assert response.status_code == 403
    assert response.json()["code"] == "api_access_not_enabled"
    services.set_api_access(sandbox_org, level="production", actor=ops_actor(), reason="paid")
    assert me(client, secret).status_code == 200


def test_an_org_without_api_access_can_issue_no_token(gdansk_admin, sandbox_org):
    services.set_api_access(sandbox_org, level="none", actor=ops_actor(), reason="lapsed")
    for kind in ("sandbox", "production"):
        with pytest.raises(PolicyViolation, match="not enabled"):
            services.issue_token(
                owner=gdansk_admin,
                organization=sandbox_org,
                name=kind,
                scopes=["fleet:read"],
                actor=Actor.for_user(gdansk_admin),
                kind=kind,
            )


# --- emails on a level change -----------------------------------------------------------------


def test_every_level_change_emails_each_admin_of_the_org_once(
    sandbox_org, gdansk_admin, gdansk_member, django_capture_on_commit_callbacks
):
    second_admin = make_user("bo@gdansk.example", sandbox_org, Membership.Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_api_access(
            sandbox_org, level="production", actor=ops_actor(), reason="Contract signed"
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([gdansk_admin.email, second_admin.email])
    message = mail.outbox[0]
    assert message.subject == "Port of Gdansk's API access is now: Production"
    assert 'from "Sandbox only" to "Production"' in message.body
    assert "Contract signed" in message.body
    assert "/orgs/port-of-gdansk/api-access/" in message.body
    assert Notification.objects.filter(kind="api_access_changed").count() == 2
    # A no-op change sends nothing.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert not services.set_api_access(
            sandbox_org, level="production", actor=ops_actor(), reason="again"
        )
    assert mail.outbox == []


def test_lowering_to_none_tells_the_admins_what_it_means(
    org, org_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.set_api_access(org, level="none", actor=ops_actor(), reason="unpaid")
    [message] = mail.outbox
    assert "every token gets 403" in message.body
    assert "Nothing is deleted" in message.body


# --- requesting production --------------------------------------------------------------------


def test_an_org_admin_requests_production_and_ops_are_emailed(
    sandbox_org, gdansk_admin, ops_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_production_access(
            sandbox_org,
            requested_by=gdansk_admin,
            description=f"  {DESCRIPTION}  ",
            actor=Actor.for_user(gdansk_admin),
        )
    assert request.state == "open" and request.description == DESCRIPTION
    event = AuditEvent.objects.get(action=AuditEvent.Action.PRODUCTION_REQUESTED)
    assert event.organization == sandbox_org and event.actor_user == gdansk_admin
    assert event.details == {"request_id": request.pk, "from": "sandbox"}
    [message] = mail.outbox
    assert message.to == [ops_user.email]
    assert message.subject == "Production access requested by Port of Gdansk"
    assert DESCRIPTION in message.body
    assert f"/admin/tokens/productionaccessrequest/{request.pk}/change/" in message.body


def test_ops_notice_goes_to_the_configured_addresses(
    sandbox_org, gdansk_admin, ops_user, settings, django_capture_on_commit_callbacks
):
    settings.QUAYGATE = {**settings.QUAYGATE, "OPS_NOTIFY_EMAILS": ["ops@quaygate.example"]}
    with django_capture_on_commit_callbacks(execute=True):
        services.request_production_access(
            sandbox_org,
            requested_by=gdansk_admin,
            description=DESCRIPTION,
            actor=Actor.for_user(gdansk_admin),
        )
    assert [m.to for m in mail.outbox] == [["ops@quaygate.example"]]


def test_a_member_may_not_request_production(sandbox_org, gdansk_member):
    with pytest.raises(services.AccessRequestForbidden) as refused:
        services.request_production_access(
            sandbox_org,
            requested_by=gdansk_member,
            description=DESCRIPTION,
            actor=Actor.for_user(gdansk_member),
        )
    assert refused.value.code == "not_an_admin" and refused.value.status == 403
    assert not ProductionAccessRequest.objects.exists()


def test_a_second_request_while_one_is_open_is_refused(sandbox_org, gdansk_admin):
    ask = dict(
        requested_by=gdansk_admin, description=DESCRIPTION, actor=Actor.for_user(gdansk_admin)
    )
    services.request_production_access(sandbox_org, **ask)
    with pytest.raises(services.AccessRequestError) as refused:
        services.request_production_access(sandbox_org, **ask)
    assert refused.value.code == "request_open"
    assert ProductionAccessRequest.objects.count() == 1


def test_an_org_with_production_cannot_request_it(org, org_admin):
    with pytest.raises(services.AccessRequestError) as refused:
        services.request_production_access(
            org, requested_by=org_admin, description=DESCRIPTION, actor=Actor.for_user(org_admin)
        )
    assert refused.value.code == "already_production"


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("", "description_required"),
        ("too short", "description_required"),
        ("x" * 2001, "description_too_long"),
    ],
)
def test_the_description_is_required_and_bounded(sandbox_org, gdansk_admin, description, code):
    with pytest.raises(services.AccessRequestError) as refused:
        services.request_production_access(
            sandbox_org,
            requested_by=gdansk_admin,
            description=description,
            actor=Actor.for_user(gdansk_admin),
        )
    assert refused.value.code == code and refused.value.field == "description"


def test_approving_grants_production_and_tells_the_admins_once(
    sandbox_org, gdansk_admin, ops_user, client, django_capture_on_commit_callbacks
):
    access_request = services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decided = services.approve_production_request(
            access_request, actor=ops_actor(ops_user), reason="Integration reviewed"
        )
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "production"
    assert decided.state == "approved" and decided.decided_by == ops_user
    assert decided.decision_reason == "Integration reviewed"
    actions = list(
        AuditEvent.objects.filter(organization=sandbox_org)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["org.api_access_changed", "org.production_approved"]
    # One email per admin: the decision, which says the level changed (no second notice).
    [message] = mail.outbox
    assert message.to == [gdansk_admin.email]
    assert message.subject == "Production access granted to Port of Gdansk"
    assert "Integration reviewed" in message.body
    # A production token now works.
    issued = services.issue_token(
        owner=gdansk_admin,
        organization=sandbox_org,
        name="prod",
        scopes=["fleet:read"],
        actor=Actor.for_user(gdansk_admin),
    )
    assert me(client, issued.secret).status_code == 200


def test_declining_keeps_the_level_and_says_why(
    sandbox_org, gdansk_admin, ops_user, django_capture_on_commit_callbacks
):
    access_request = services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.decline_production_request(
            access_request, actor=ops_actor(ops_user), reason="No signed contract yet"
        )
    sandbox_org.refresh_from_db()
    assert sandbox_org.api_access == "sandbox"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PRODUCTION_DECLINED).exists()
    [message] = mail.outbox
    assert message.subject == "Production access for Port of Gdansk: declined"
    assert "No signed contract yet" in message.body
    # Declined is not open: the admins may ask again.
    services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )


def test_a_decided_request_cannot_be_decided_again(sandbox_org, gdansk_admin, ops_user):
    access_request = services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )
    services.approve_production_request(access_request, actor=ops_actor(ops_user), reason="ok")
    for decide in (services.approve_production_request, services.decline_production_request):
        with pytest.raises(services.AccessRequestError) as refused:
            decide(access_request, actor=ops_actor(ops_user), reason="again")
        assert refused.value.code == "already_decided"
        assert "already approved" in refused.value.message
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PRODUCTION_APPROVED).count() == 1


def test_a_decision_needs_a_reason(sandbox_org, gdansk_admin, ops_user):
    access_request = services.request_production_access(
        sandbox_org,
        requested_by=gdansk_admin,
        description=DESCRIPTION,
        actor=Actor.for_user(gdansk_admin),
    )
    with pytest.raises(services.AccessRequestError) as refused:
        services.approve_production_request(access_request, actor=ops_actor(ops_user), reason="")
    assert refused.value.code == "reason_required"
    access_request.refresh_from_db()
    assert access_request.is_open
