"""A GitHub alert end to end: a real Celery worker (Redis broker, PostgreSQL shared with the test)
sends the emails to a real SMTP server on loopback (aiosmtpd), as tests/notifications'
delivery test does. The token dies for the very next request; the owner and the admin read
where it was found."""

import pytest
from rest_framework.test import APIClient

from telemetry.models import Anomaly
from tests.api.github_signing import FOUND_AT, alert, configure_keys_file, deliver, new_key
from tests.support.worker import wait_for
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(mail_worker) -> None:
    """The shared mailing worker (tests.support.smtp), under this file's name for it."""


def test_a_leaked_token_dies_and_its_owner_and_admins_are_emailed_where(
    worker, smtp, settings, tmp_path, org, owner, org_admin
):
    key = new_key()
    configure_keys_file(settings, tmp_path / "keys.json", key)
    issued = services.issue_token(
        owner=owner,
        organization=org,
        name="deploy bot",
        scopes=["fleet:read"],
        actor=Actor.for_user(owner),
    )
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert partner.get("/api/v1/token").status_code == 200

    response = deliver(APIClient(), key, [alert(issued.secret, source="content")])

    assert response.status_code == 200
    assert response.json()[0]["label"] == "true_positive"
    assert partner.get("/api/v1/token").status_code == 401

    def subjects() -> dict[str, str]:
        # A long Subject arrives folded (RFC 5322): unfolding removes the line breaks.
        return {" ".join(m["Subject"].split()): m["To"] for m in smtp.inbox.messages}

    leaked = "Your Quaygate token deploy bot was reported as leaked and has been revoked"
    finding = "Quaygate token deploy bot was found in public and revoked"
    assert wait_for(lambda: {leaked, finding} <= set(subjects()), timeout=30), subjects()
    wait_for(lambda: len(smtp.inbox.messages) > 3, timeout=1.5)  # give a duplicate time to show
    assert subjects()[leaked] == owner.email
    assert subjects()[finding] == org_admin.email
    assert len(smtp.inbox.messages) == 3  # and the "token created" email, nothing else
    for message in smtp.inbox.messages:
        text = message.get_payload(0).get_payload(decode=True).decode()
        assert issued.secret not in text
        if " ".join(message["Subject"].split()) in (leaked, finding):
            assert FOUND_AT in text
            assert "content" in text.lower()

    assert AuditEvent.objects.filter(
        token=issued.token, action=AuditEvent.Action.TOKEN_LEAK_REPORTED
    ).exists()
    assert Anomaly.objects.filter(token=issued.token, rule=Anomaly.Rule.LEAKED_IN_PUBLIC).exists()
