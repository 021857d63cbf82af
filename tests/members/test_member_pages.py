"""The portal's members pages: who sees what, inviting, roles, removing, leaving.

Every rule is the services' (members.services, members.invitations); these check that the
pages call them, show their refusals as messages, and keep outsiders out (404).
"""

import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from members.models import Invitation
from portal import sudo
from tests.conftest import PASSWORD
from tokens import services as token_services
from tokens.actors import Actor

pytestmark = pytest.mark.django_db


def signed_in(user, *, fresh: bool = True) -> Client:
    client = Client()
    client.force_login(user)
    if fresh:
        session = client.session
        session[sudo.SESSION_KEY] = int(time.time())
        session.save()
    return client


def members_url(org) -> str:
    return reverse("org_members", args=[org.slug])


def issue(user, org, name="sync"):
    return token_services.issue_token(
        owner=user,
        organization=org,
        name=name,
        scopes=["fleet:read"],
        actor=Actor.for_user(user),
    )


# --- who sees the page ------------------------------------------------------------------------


def test_a_member_sees_the_people_but_no_invite_form(member, org_admin, org):
    response = signed_in(member).get(members_url(org))

    assert response.status_code == 200
    body = response.content.decode()
    assert org_admin.email in body and member.email in body
    assert "Send invitation" not in body
    assert "Remove…" not in body


def test_an_admin_sees_the_invite_form_and_the_actions(org_admin, member, org):
    body = signed_in(org_admin).get(members_url(org)).content.decode()

    assert "Send invitation" in body
    assert f"Remove {member.email}" in body


def test_an_outsider_gets_404_for_every_members_page(outsider, org, member):
    client = signed_in(outsider)
    membership = Membership.objects.get(user=member, organization=org)

    assert client.get(members_url(org)).status_code == 404
    assert (
        client.post(reverse("org_invite", args=[org.slug]), {"email": "x@y.example"}).status_code
        == 404
    )
    assert (
        client.get(reverse("org_member_remove", args=[org.slug, membership.pk])).status_code == 404
    )
    assert client.get(reverse("org_leave", args=[org.slug])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(org):
    response = Client().get(members_url(org))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_each_persons_active_tokens_in_this_organisation_only(
    member, org, other_org
):
    Membership.objects.create(user=member, organization=other_org, role="member")
    issue(member, org, "one")
    issue(member, org, "two")
    revoked = issue(member, org, "three").token
    token_services.revoke_token(revoked, actor=Actor.for_user(member), reason="done")
    issue(member, other_org, "elsewhere")

    response = signed_in(member).get(members_url(org))

    row = next(p for p in response.context["page"].object_list if p.user_id == member.pk)
    assert row.active_tokens == 2


def test_the_search_finds_people_by_name_or_email(org_admin, member, org):
    response = signed_in(org_admin).get(members_url(org), {"q": member.email[:5]})

    people = [p.user for p in response.context["page"].object_list]
    assert people == [member]


def test_the_members_page_costs_the_same_queries_for_many_people(org_admin, org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_user

    client = signed_in(org_admin)
    client.get(members_url(org))  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(members_url(org))
        assert response.status_code == 200
        return len(captured)

    few = queries()
    for n in range(30):
        user = make_user(f"person{n}@rotterdam.example", org)
        issue(user, org)
    many = queries()

    assert many == few <= 9
    response = client.get(members_url(org))
    assert len(response.context["page"].object_list) == 31


# --- inviting ---------------------------------------------------------------------------------


def test_an_admin_invites_by_email_and_the_email_goes_out(
    org_admin, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(org_admin).post(
            reverse("org_invite", args=[org.slug]),
            {"email": "New.Person@Example.com", "role": "member"},
        )

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@example.com"
    assert invitation.organization == org
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]


def test_a_member_cannot_invite(member, org):
    response = signed_in(member).post(
        reverse("org_invite", args=[org.slug]), {"email": "x@example.com", "role": "member"}
    )

    assert response.status_code == 404
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "email",
    ["not an email", "a" * 10_000 + "@example.com", "<script>@example.com", ""],
)
def test_a_bad_address_is_a_message_on_the_form_and_nothing_is_made(org_admin, org, email):
    response = signed_in(org_admin).post(
        reverse("org_invite", args=[org.slug]), {"email": email, "role": "member"}
    )

    assert response.status_code == 400
    assert response.context["invite_form"].errors
    assert not Invitation.objects.exists()


def test_inviting_someone_already_in_the_organisation_says_so(org_admin, member, org):
    response = signed_in(org_admin).post(
        reverse("org_invite", args=[org.slug]), {"email": member.email, "role": "member"}
    )

    assert response.status_code == 400
    assert "already" in " ".join(response.context["invite_form"].errors["email"])
    assert not Invitation.objects.exists()


def test_an_admin_may_send_20_invitations_an_hour(org_admin, org):
    client = signed_in(org_admin)
    for n in range(20):
        response = client.post(
            reverse("org_invite", args=[org.slug]), {"email": f"p{n}@example.com", "role": "member"}
        )
        assert response.status_code == 302

    response = client.post(
        reverse("org_invite", args=[org.slug]), {"email": "p21@example.com", "role": "member"}
    )

    assert response.status_code == 429
    assert "20 invitations" in response.content.decode()
    assert Invitation.objects.count() == 20


def test_inviting_needs_a_fresh_password(org_admin, org):
    client = signed_in(org_admin, fresh=False)

    response = client.post(
        reverse("org_invite", args=[org.slug]), {"email": "x@example.com", "role": "admin"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("sudo"))
    assert not Invitation.objects.exists()


def test_an_admin_resends_and_revokes_a_pending_invitation(
    org_admin, org, django_capture_on_commit_callbacks
):
    client = signed_in(org_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("org_invite", args=[org.slug]), {"email": "x@example.com", "role": "member"}
        )
        first = Invitation.objects.get()
        client.post(reverse("org_invitation_resend", args=[org.slug, first.pk]))
    current = Invitation.objects.pending().get()
    client.post(reverse("org_invitation_revoke", args=[org.slug, current.pk]))

    assert not Invitation.objects.pending().exists()
    assert len(mail.outbox) == 2  # the first link and the re-sent one


def test_another_organisations_invitation_is_404(org_admin, org, other_org):
    from members.invitations import invite_member

    theirs = invite_member(
        other_org, email="x@example.com", role="member", actor=Actor.cli()
    ).invitation

    response = signed_in(org_admin).post(
        reverse("org_invitation_revoke", args=[org.slug, theirs.pk])
    )

    assert response.status_code == 404
    assert Invitation.objects.get(pk=theirs.pk).is_pending


# --- roles, removing, leaving -----------------------------------------------------------------


def test_an_admin_makes_a_member_an_admin(org_admin, member, org):
    target = Membership.objects.get(user=member, organization=org)

    signed_in(org_admin).post(
        reverse("org_member_role", args=[org.slug, target.pk]), {"role": "admin"}
    )

    target.refresh_from_db()
    assert target.role == "admin"


def test_a_member_cannot_change_roles(member, org_admin, org):
    target = Membership.objects.get(user=org_admin, organization=org)

    response = signed_in(member).post(
        reverse("org_member_role", args=[org.slug, target.pk]), {"role": "member"}
    )

    assert response.status_code == 404
    target.refresh_from_db()
    assert target.role == "admin"


def test_removing_a_member_asks_first_then_revokes_their_tokens_here(org_admin, member, org):
    target = Membership.objects.get(user=member, organization=org)
    token = issue(member, org).token
    client = signed_in(org_admin)

    confirm = client.get(reverse("org_member_remove", args=[org.slug, target.pk]))
    assert confirm.status_code == 200 and "1 active now" in confirm.content.decode()
    response = client.post(reverse("org_member_remove", args=[org.slug, target.pk]))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_member_leaves_and_their_tokens_here_are_revoked(member, org):
    token = issue(member, org).token

    response = signed_in(member).post(reverse("org_leave", args=[org.slug]))

    assert response.status_code == 302
    assert not Membership.objects.filter(user=member, organization=org).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_last_admin_cannot_leave_and_is_told_why(org_admin, org):
    response = signed_in(org_admin).post(reverse("org_leave", args=[org.slug]), follow=True)

    assert Membership.objects.filter(user=org_admin, organization=org, role="admin").exists()
    assert "last admin" in response.content.decode()


def test_the_last_admin_cannot_demote_themselves(org_admin, org):
    own = Membership.objects.get(user=org_admin, organization=org)

    response = signed_in(org_admin).post(
        reverse("org_member_role", args=[org.slug, own.pk]), {"role": "member"}, follow=True
    )

    own.refresh_from_db()
    assert own.role == "admin"
    assert "last admin" in response.content.decode()


# --- joining by invitation --------------------------------------------------------------------

NEW_PASSWORD = "a-long-harbour-crane-2026"


def invited(org, email="newcomer@example.com", role="member"):
    from members.invitations import invite_member

    return invite_member(org, email=email, role=role, actor=Actor.cli())


def opened(client: Client, issued) -> Client:
    """Follow the emailed link: the secret goes into the session, the browser moves on."""
    response = client.get(issued.path)
    assert response.status_code == 302
    assert response["Location"] == reverse("invitation_accept")
    assert issued.secret not in response["Location"]
    return client


def test_a_new_person_sets_a_name_and_password_and_lands_in_the_organisation(org):
    from accounts.models import User

    issued = invited(org)
    client = opened(Client(), issued)

    page = client.get(reverse("invitation_accept"))
    assert page.status_code == 200 and "Create your account" in page.content.decode()
    assert issued.secret not in page.content.decode()
    response = client.post(
        reverse("invitation_accept"),
        {"full_name": "Nia Newcomer", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("organization", args=[org.slug])
    user = User.objects.get(email="newcomer@example.com")
    assert user.password.startswith("argon2$") and user.full_name == "Nia Newcomer"
    assert Membership.objects.get(user=user, organization=org).role == "member"
    assert client.get(reverse("dashboard")).status_code == 200  # signed in


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"full_name": "Nia", "password1": "short", "password2": "short"}, "password1"),
        (
            {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": "other-words-2026"},
            "password2",
        ),
        (
            {"full_name": "x" * 10_000, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            "full_name",
        ),
        ({"full_name": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, "full_name"),
    ],
)
def test_a_bad_sign_up_is_a_message_on_its_field_and_nothing_is_made(org, fields, field):
    from accounts.models import User

    client = opened(Client(), invited(org))

    response = client.post(reverse("invitation_accept"), fields)

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not User.objects.filter(email="newcomer@example.com").exists()
    assert Invitation.objects.get().is_pending


def test_html_in_a_name_is_shown_as_text(org, org_admin):
    client = opened(Client(), invited(org))
    client.post(
        reverse("invitation_accept"),
        {"full_name": "<b>Bold</b>", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    body = signed_in(org_admin).get(members_url(org)).content.decode()

    assert "&lt;b&gt;Bold&lt;/b&gt;" in body and "<b>Bold</b>" not in body


def test_a_signed_in_person_with_the_invited_email_accepts_with_one_click(outsider, org):
    issued = invited(org, email=outsider.email, role="admin")
    client = opened(signed_in(outsider), issued)

    assert "Accept and join" in client.get(reverse("invitation_accept")).content.decode()
    response = client.post(reverse("invitation_accept"))

    assert response.status_code == 302
    assert Membership.objects.get(user=outsider, organization=org).role == "admin"


def test_an_existing_account_is_asked_to_sign_in_first(outsider, org):
    client = opened(Client(), invited(org, email=outsider.email))

    page = client.get(reverse("invitation_accept"))

    assert "Sign in as" in page.content.decode()
    assert client.post(reverse("invitation_accept"), {"full_name": "x"}).status_code == 200
    assert not Membership.objects.filter(user=outsider, organization=org).exists()


def test_signed_in_as_someone_else_is_told_and_may_sign_out_keeping_the_link(
    member, org, other_org
):
    client = opened(signed_in(member), invited(other_org))

    page = client.get(reverse("invitation_accept"))
    assert page.status_code == 403 and "for someone else" in page.content.decode()
    assert client.post(reverse("invitation_accept")).status_code == 403
    assert not Membership.objects.filter(user=member, organization=other_org).exists()

    client.post(reverse("invitation_sign_out"))
    assert "Create your account" in client.get(reverse("invitation_accept")).content.decode()


def test_an_expired_link_says_so_and_creates_nothing(org):
    import time_machine

    issued = invited(org)
    with time_machine.travel(Invitation.objects.get().expires_at, tick=False):
        client = opened(Client(), issued)
        page = client.get(reverse("invitation_accept"))
        posted = client.post(
            reverse("invitation_accept"),
            {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )

    assert page.status_code == 410 and "expired" in page.content.decode()
    assert posted.status_code == 410
    assert not Membership.objects.filter(
        organization=org, user__email="newcomer@example.com"
    ).exists()


def test_a_revoked_link_says_it_was_withdrawn(org):
    from members.invitations import revoke_invitation

    issued = invited(org)
    revoke_invitation(issued.invitation, actor=Actor.cli())

    page = opened(Client(), issued).get(reverse("invitation_accept"))

    assert page.status_code == 410 and "withdrawn" in page.content.decode()


def test_a_used_link_says_so_to_others_and_is_harmless_for_its_owner(org):
    issued = invited(org)
    first = opened(Client(), issued)
    first.post(
        reverse("invitation_accept"),
        {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    again = opened(first, issued).get(reverse("invitation_accept"))
    stranger = opened(Client(), issued).get(reverse("invitation_accept"))

    assert again.status_code == 302  # its owner is simply taken to the organisation
    assert stranger.status_code == 410 and "already used" in stranger.content.decode()
    assert (
        Membership.objects.filter(organization=org, user__email="newcomer@example.com").count() == 1
    )


@pytest.mark.parametrize("secret", ["x" * 43, "tampered", "a" * 5000])
def test_a_tampered_link_is_a_clear_404(org, secret):
    invited(org)
    client = Client()
    client.get(reverse("invitation", args=[secret]))

    page = client.get(reverse("invitation_accept"))

    assert page.status_code == 404 and "does not work" in page.content.decode()


def test_the_accept_page_without_a_link_is_404():
    assert Client().get(reverse("invitation_accept")).status_code == 404


def test_after_confirming_the_password_an_admin_is_back_on_the_members_page(org_admin, org):
    """A stale password sends the POST to the sudo page, which then sends the browser back to
    the address as a GET: that must land on the form, not on a 405."""
    client = signed_in(org_admin, fresh=False)
    invite_url = reverse("org_invite", args=[org.slug])

    to_confirm = client.post(invite_url, {"email": "x@example.com", "role": "member"})
    confirmed = client.post(
        to_confirm["Location"], {"password": PASSWORD, "next": invite_url}, follow=True
    )

    assert confirmed.status_code == 200
    assert confirmed.redirect_chain[-1][0] == members_url(org)
    assert not Invitation.objects.exists()  # submitted again, knowingly
