import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import override_settings

from notifications.models import Notification
from notifications.services import queue_notification, render_notification

WHEN = datetime(2026, 11, 24, 14, 15, tzinfo=UTC)

# What the tokens and telemetry services pass.
TOKEN_CONTEXT = {
    "token_name": "Crane feed & alarms",
    "display_prefix": "qgp_AbC1",
    "organization": "Port of Rotterdam",
    "actor_label": "ada@rotterdam.example",
    "reason": "Contractor left",
    "ip": "203.0.113.9",
    "when": WHEN,
    "token_url": "/tokens/42/",
}
KIND_CONTEXT = {
    "token_expiring": {"days": 7, "expires_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC)},
    "token_expired": {"expires_at": WHEN},
    "token_regenerated": {"old_secret_valid_until": datetime(2026, 11, 25, 14, 15, tzinfo=UTC)},
    "anomaly": {
        "rule": "volume_spike",
        "rule_display": "Request volume spike",
        "severity": "high",
        "evidence": {"requests_last_hour": 9120, "countries": ["NL", "US"]},
        "first_seen": "2026-11-24T13:00:00+00:00",
        "revoked": True,
    },
}
# What the portal passes when an account's password changes: no token in it.
ACCOUNT_CONTEXT = {
    "how": "changed",
    "ip": "203.0.113.9",
    "when": WHEN,
    "reset_url": "/password-reset/",
}
ACCOUNT_KINDS = {Notification.Kind.PASSWORD_CHANGED.value}
# Issue 16: what twofactor.services and twofactor.policy pass; no token in these either.
TWO_FACTOR_CONTEXT = {
    "two_factor_changed": {
        "event": "recovery_code_used",
        "headline": "A recovery code was used",
        "codes_left": 9,
        "ip": "203.0.113.9",
        "when": WHEN,
        "security_url": "/account/security/",
    },
    "two_factor_required": {
        "organization": "Port of Rotterdam",
        "deadline": WHEN,
        "reminder": True,
        "security_url": "/account/security/",
    },
}
# What members.invitations and members.services pass: no token in these either.
MEMBER_CONTEXT = {
    "member_invited": {
        "organization": "Port of Rotterdam",
        "invited_by": "Ada Admin (ada@rotterdam.example)",
        "role": "Member",
        "is_admin": False,
        "email": "new@rotterdam.example",
        "expires_at": WHEN,
        "invitation_url": "/invitations/abc/",
    },
    "member_joined": {
        "organization": "Port of Rotterdam",
        "member_email": "new@rotterdam.example",
        "member_name": "Nia Newcomer",
        "role": "Member",
        "is_admin": False,
        "invited_by": "Ada Admin (ada@rotterdam.example)",
    },
    "member_removed": {
        "organization": "Port of Rotterdam",
        "member_email": "gone@rotterdam.example",
        "removed_by": "ada@rotterdam.example",
        "tokens_revoked": 2,
        "left_themselves": False,
    },
}
ALL_KINDS = [kind.value for kind in Notification.Kind]
TOKEN_KINDS = [
    kind
    for kind in ALL_KINDS
    if kind not in ACCOUNT_KINDS | MEMBER_CONTEXT.keys() | TWO_FACTOR_CONTEXT.keys()
]


def context_for(kind: str) -> dict:
    if kind in TWO_FACTOR_CONTEXT:
        return TWO_FACTOR_CONTEXT[kind]
    if kind in MEMBER_CONTEXT:
        return MEMBER_CONTEXT[kind]
    if kind in ACCOUNT_KINDS:
        return ACCOUNT_CONTEXT
    return TOKEN_CONTEXT | KIND_CONTEXT.get(kind, {})


@pytest.mark.parametrize("kind", TOKEN_KINDS)
@override_settings(SITE_URL="https://quaygate.example")
def test_every_kind_is_sent_as_text_and_html_naming_the_token_and_linking_to_it(
    kind, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queue_notification(kind=kind, user=owner, context=context_for(kind), dedup_key=f"{kind}:42")

    [message] = mail.outbox
    html = message.alternatives[0].content
    assert "Crane feed & alarms" in message.subject
    for body in (message.body, html):
        assert "qgp_AbC1" in body
        assert "https://quaygate.example/tokens/42/" in body
        assert "203.0.113.9" in body
        assert "24 Nov 2026, 14:15 UTC" in body
    assert "Crane feed &amp; alarms" in html
    assert "Hello Owen," in message.body


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_the_plain_text_reads_well_in_a_plain_mail_client(kind):
    rendered = render_notification(kind, context_for(kind))

    text = rendered.body_text
    assert not re.search(r"<[a-z/][^>]*>", text), "no HTML tags in the text part"
    assert "&amp;" not in text and "&lt;" not in text, "no HTML escaping in the text part"
    assert "{{" not in text and "{%" not in text
    assert "None" not in text
    assert "\n\n\n" not in text, "no runs of blank lines"
    assert "\n-- \n" in text, "a signature separator clients recognise"
    assert "&amp;" not in rendered.subject and "\n" not in rendered.subject


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_the_html_is_a_whole_page_with_no_external_resources(kind):
    html = render_notification(kind, context_for(kind)).body_html

    assert html.startswith("<!doctype html>") and html.endswith("</html>")
    assert "<script" not in html and "<img" not in html and "<link" not in html


def test_only_expiry_emails_say_they_are_reminders_that_can_be_turned_off():
    for kind in ALL_KINDS:
        text = render_notification(kind, context_for(kind)).body_text
        if kind in ("token_expiring", "token_expired"):
            assert "turn expiry reminders off" in text
        elif kind == "member_invited":  # to an address that may have no account yet
            assert "invited this address" in text
            assert "security notice" not in text
        else:
            assert "Security notices are always sent" in text


def test_the_expiry_warning_says_when(owner):
    rendered = render_notification("token_expiring", context_for("token_expiring"))

    assert rendered.subject == "Your Quaygate token Crane feed & alarms expires in 7 days"
    assert "on 1 Dec 2026, 09:00 UTC" in rendered.body_text


def test_a_one_day_warning_is_singular():
    context = context_for("token_expiring") | {"days": 1}
    assert render_notification("token_expiring", context).subject.endswith("expires in 1 day")


def test_the_revocation_notice_says_who_and_why():
    text = render_notification("token_revoked", context_for("token_revoked")).body_text

    assert "revoked by ada@rotterdam.example" in text
    assert "Reason:        Contractor left" in text


def test_the_anomaly_notice_lists_its_evidence_and_whether_the_token_was_revoked():
    rendered = render_notification("anomaly", context_for("anomaly"))

    assert "Request volume spike" in rendered.subject
    assert "Requests last hour: 9120" in rendered.body_text
    assert "Countries:     NL, US" in rendered.body_text
    assert "the token has been revoked" in rendered.body_text
    assert "<td>NL, US</td>" in rendered.body_html


def test_the_anomaly_notice_takes_the_names_the_telemetry_service_uses():
    context = {
        "token_name": "Crane feed",
        "token_prefix": "qgp_Zz99",
        "organization_name": "Port of Antwerp",
        "rule": "new_country",
        "severity": "medium",
        "evidence": {},
    }
    text = render_notification("anomaly", context).body_text

    assert "Crane feed (qgp_Zz99…)" in text
    assert "Organisation:  Port of Antwerp" in text
    assert "new_country" in text


def test_html_in_a_token_name_is_escaped_in_the_html_part():
    context = context_for("token_created") | {"token_name": "<script>x</script>"}
    rendered = render_notification("token_created", context)

    assert "<script>" not in rendered.body_html
    assert "&lt;script&gt;" in rendered.body_html
    assert "<script>x</script>" in rendered.body_text


@override_settings(SITE_URL="https://quaygate.example")
@pytest.mark.parametrize(("how", "said"), [("changed", "changed"), ("reset", "reset")])
def test_the_password_notice_says_how_when_and_from_where_and_how_to_take_it_back(
    how, said, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queue_notification(
            kind="password_changed",
            user=owner,
            context=ACCOUNT_CONTEXT | {"how": how},
            dedup_key=f"password_changed:{how}",
        )

    [message] = mail.outbox
    assert message.subject == f"Your Quaygate password was {said}"
    assert message.to == [owner.email]
    html = message.alternatives[0].content
    for body in (message.body, html):
        assert owner.email in body
        assert "203.0.113.9" in body and "24 Nov 2026, 14:15 UTC" in body
        assert "https://quaygate.example/password-reset/" in body
        assert "tokens are not affected" in body
    assert "Security notices are always sent" in message.body
