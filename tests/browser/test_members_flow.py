"""An organisation's people in a real Chromium: an admin invites someone, the invitation
arrives over SMTP, the new person joins from its link, makes a token and uses it, and the
admin's removal stops that token at once. Screenshots of the members and invitation pages."""

import re
from collections.abc import Iterator
from email.message import Message

import pytest

from accounts.models import Membership
from members.invitations import invite_member
from tests.browser.test_portal_flows import SECRET_RE, call_api
from tests.conftest import PASSWORD
from tests.notifications.test_delivery_end_to_end import SmtpServer
from tests.support.worker import wait_for
from tokens.actors import Actor

pytestmark = pytest.mark.browser

NEWCOMER = "newcomer@rotterdam.example"
NEW_PASSWORD = "tidal-basin-mooring-line"


@pytest.fixture
def smtp(settings, live_server) -> Iterator[SmtpServer]:
    """An SMTP server on loopback that the outbox delivers to, so the email is read the way
    its recipient gets it: bytes off the wire, parsed as MIME. Celery runs eagerly in the
    live server's thread, which sees these settings (they are process-wide)."""
    server = SmtpServer()
    server.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 5},
        }
    }
    settings.SITE_URL = live_server.url  # the emailed links point at this server
    yield server
    server.stop()


def emails_to(smtp: SmtpServer, address: str) -> list[Message]:
    return [message for message in list(smtp.inbox.messages) if message["To"] == address]


def subjects_to(smtp: SmtpServer, address: str) -> list[str]:
    # Unfolded: a long subject comes off the wire folded over two lines.
    return [" ".join(message["Subject"].split()) for message in emails_to(smtp, address)]


def text_of(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def confirm_password_if_asked(page) -> bool:
    """Sudo mode: when the last password entry is stale, the portal asks for it again."""
    if "/confirm-password/" not in page.url:
        return False
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    return True


def invite(page, email: str) -> None:
    def send() -> None:
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Member: their own tokens").check()
        page.get_by_role("button", name="Send invitation").click()

    send()
    if confirm_password_if_asked(page):
        send()  # a stale POST is not carried out: the person submits again, knowingly
    assert page.get_by_text(f"Invitation sent to {email}.").is_visible()


def create_read_token(page, name: str) -> str:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="New token").first.click()
    confirm_password_if_asked(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("7 days").check()
    page.locator("input[value='fleet:read']").check()
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile(r"/tokens/\d+/secret/$"))
    return page.locator("#token-secret").input_value()


def test_an_invited_person_joins_uses_a_token_and_loses_it_when_removed(
    page, phone_page, live_server, org_admin, org, smtp, sign_in, shoot
):
    admin, newcomer = page, phone_page  # two people, two browsers; the newcomer on a phone
    members_url = f"{live_server.url}/orgs/{org.slug}/members/"

    sign_in(admin, org_admin)
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Organisation").click()
    admin.get_by_role("navigation", name="Organisation").get_by_role("link", name="Members").click()
    admin.wait_for_url(members_url)
    invite(admin, NEWCOMER)
    pending = admin.get_by_role("table", name="Invitations not accepted yet")
    assert pending.get_by_role("row", name=NEWCOMER).is_visible()

    assert wait_for(lambda: emails_to(smtp, NEWCOMER), timeout=10)
    (invitation,) = emails_to(smtp, NEWCOMER)
    assert invitation["Subject"] == "You are invited to join Port of Rotterdam on Quaygate"
    links = re.findall(rf"{re.escape(live_server.url)}/invitations/\S+/", text_of(invitation))
    assert len(links) == 1, text_of(invitation)
    secret = links[0].rstrip("/").rsplit("/", 1)[1]

    newcomer.goto(links[0])
    newcomer.wait_for_url(f"{live_server.url}/invitations/accept/")
    assert secret not in newcomer.url
    assert secret not in newcomer.content()
    assert newcomer.get_by_role("heading", name="Join Port of Rotterdam").is_visible()
    newcomer.get_by_label("Your name").fill("Nia Newcomer")
    newcomer.get_by_label("Choose a password").fill(NEW_PASSWORD)
    newcomer.get_by_label("The password again").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Create account and join").click()
    newcomer.wait_for_url(re.compile(rf"/orgs/{org.slug}/"))
    assert newcomer.get_by_text("Welcome to Port of Rotterdam.").is_visible()
    assert newcomer.get_by_role("heading", name="Port of Rotterdam", exact=True).is_visible()

    token_secret = create_read_token(newcomer, "Quay crane monitor")
    assert SECRET_RE.match(token_secret)
    status, body = call_api(live_server, token_secret)
    assert status == 200, body
    assert body["name"] == "Quay crane monitor"

    admin.goto(members_url)
    admin.get_by_role("link", name=f"Remove {NEWCOMER}").click()
    confirm_password_if_asked(admin)
    assert admin.get_by_role(
        "heading", name="Remove Nia Newcomer from Port of Rotterdam?"
    ).is_visible()
    assert admin.get_by_text("1 active now").is_visible()
    shoot(admin, "member-remove")
    admin.get_by_role("button", name="Remove and revoke their tokens").click()
    admin.wait_for_url(members_url)
    assert admin.get_by_text(f"{NEWCOMER} is no longer in Port of Rotterdam").is_visible()
    assert admin.get_by_role("row", name=NEWCOMER).count() == 0

    status, body = call_api(live_server, token_secret)
    assert status == 401, body
    assert newcomer.goto(f"{live_server.url}/orgs/{org.slug}/").status == 404
    removed = "You were removed from Port of Rotterdam on Quaygate"
    assert wait_for(lambda: removed in subjects_to(smtp, NEWCOMER), timeout=10)


def test_screenshots_of_the_members_and_invitation_pages(
    page, phone_page, live_server, org_admin, owner, member, org, sign_in, shoot
):
    admin = Actor.for_user(org_admin)
    issued = invite_member(org, email=NEWCOMER, role=Membership.Role.MEMBER, actor=admin)
    invite_member(
        org, email="harbour.master@rotterdam.example", role=Membership.Role.ADMIN, actor=admin
    )
    for screen, members_shot, invitation_shot in [
        (page, "16-org-members", "17-invitation"),
        (phone_page, "25-phone-org-members", "26-phone-invitation"),
    ]:
        # Signed out first: the invitation page is for the person invited.
        screen.goto(f"{live_server.url}{issued.path}")
        assert screen.get_by_role("button", name="Create account and join").is_visible()
        shoot(screen, invitation_shot)

        sign_in(screen, org_admin)
        screen.goto(f"{live_server.url}/orgs/{org.slug}/members/")
        assert screen.get_by_role("row", name=NEWCOMER).is_visible()
        assert screen.get_by_role("link", name=f"Remove {member.email}").is_visible()
        shoot(screen, members_shot)
    # Nothing may stick out sideways on a phone.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
