"""POST /secret-scanning/github: GitHub's signed secret-scanning alerts.

A P-256 key pair made here (tests.api.github_signing) is configured as GitHub's: its public half
in the keys file, in GitHub's own format; payloads are signed with it as GitHub signs them.
"""

import base64
import hashlib
import html
import json
from collections.abc import Callable

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from prometheus_client import REGISTRY

from api.views.secret_scanning import REFUSAL_REASONS
from notifications.models import Notification
from telemetry.models import Anomaly, LeakAlert
from tests.api.github_signing import (
    FOUND_AT,
    TYPE,
    URL,
    GitHubKey,
    alert,
    configure_keys_file,
    deliver,
    new_key,
)
from tokens import format as token_format
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.fixture
def github_key(settings, tmp_path) -> GitHubKey:
    key = new_key()
    configure_keys_file(settings, tmp_path / "github-secret-scanning-keys.json", key)
    return key


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- a live token ------------------------------------------------------------------------------


def test_a_live_token_is_revoked_and_its_next_api_call_gets_401(
    github_key, issued, api_client, committed
):
    assert api_client(issued.secret).get("/api/v1/token").status_code == 200

    with committed():
        response = deliver(api_client(), github_key, [alert(issued.secret)])

    assert response.status_code == 200
    assert response.json() == [
        {"token_hash": sha256(issued.secret), "token_type": TYPE, "label": "true_positive"}
    ]
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revoked_by_kind == PersonalAccessToken.RevokedBy.LEAK_REPORT
    assert token.revocation_reason == f"leaked: found by GitHub secret scanning at {FOUND_AT}"
    assert api_client(issued.secret).get("/api/v1/token").status_code == 401


def test_the_owner_is_emailed_where_it_was_found_and_the_admins_get_the_finding(
    github_key, issued, owner, org_admin, member, api_client
):
    Notification.objects.all().delete()  # the "token created" email
    deliver(api_client(), github_key, [alert(issued.secret, source="pull_request_comment")])

    to_owner = Notification.objects.get(user=owner)
    assert to_owner.kind == Notification.Kind.TOKEN_LEAKED
    assert "GitHub secret scanning found your personal access token" in to_owner.body_text
    assert f"Found at:      {FOUND_AT}" in to_owner.body_text
    assert "Found in:      Pull request comment" in to_owner.body_text
    assert FOUND_AT in to_owner.body_html
    to_admin = Notification.objects.get(user=org_admin)
    assert to_admin.kind == Notification.Kind.ANOMALY
    assert to_admin.subject == "Quaygate token partner sync was found in public and revoked"
    assert FOUND_AT in to_admin.body_text and "Pull_request_comment" not in to_admin.body_text
    assert "pull_request_comment" in to_admin.body_text
    assert not Notification.objects.filter(user=member).exists()  # not an admin, not the owner
    for notification in (to_owner, to_admin):
        assert issued.secret not in notification.body_text + notification.body_html


def test_an_owner_who_is_an_admin_gets_one_email(github_key, issue, org_admin, api_client):
    issued = issue(org_admin, name="admin's own")
    Notification.objects.all().delete()  # the "token created" email

    deliver(api_client(), github_key, [alert(issued.secret)])

    assert list(Notification.objects.values_list("kind", flat=True)) == ["token_leaked"]


def test_the_audit_log_says_who_found_it_and_where(github_key, issued, api_client):
    deliver(api_client(), github_key, [alert(issued.secret)], REMOTE_ADDR="192.30.252.10")

    events = {e.action: e for e in AuditEvent.objects.filter(token=issued.token)}
    reported = events[AuditEvent.Action.TOKEN_LEAK_REPORTED]
    assert reported.actor_label == "GitHub secret scanning"
    assert reported.ip == "192.30.252.10"
    assert reported.details == {"secret": "current", "found_at": FOUND_AT, "source": "commit"}
    revoked = events[AuditEvent.Action.TOKEN_REVOKED]
    assert revoked.details["reason"] == f"leaked: found by GitHub secret scanning at {FOUND_AT}"
    found = events[AuditEvent.Action.ANOMALY_FOUND]
    assert found.details["rule"] == Anomaly.Rule.LEAKED_IN_PUBLIC


def test_the_finding_is_on_the_portals_findings_pages(
    github_key, issued, org, org_admin, api_client, client
):
    deliver(api_client(), github_key, [alert(issued.secret)])
    anomaly = Anomaly.objects.get(token=issued.token)

    client.force_login(org_admin)
    listing = client.get(reverse("org_findings", args=[org.slug])).content.decode()
    page = client.get(reverse("finding", args=[anomaly.pk])).content.decode()

    assert anomaly.rule == Anomaly.Rule.LEAKED_IN_PUBLIC
    assert anomaly.severity == Anomaly.Severity.HIGH
    assert "Found in public by secret scanning" in listing and "partner sync" in listing
    assert f"<dt>Found at</dt><dd>{FOUND_AT}</dd>" in page
    assert "<dt>Source</dt><dd>commit</dd>" in page
    assert "<dt>Scanner</dt><dd>GitHub secret scanning</dd>" in page
    assert "Revoke the token" not in page  # it is revoked already


# --- what is not a live token ------------------------------------------------------------------


def test_dead_and_unknown_tokens_are_recorded_as_seen_and_labelled(
    github_key, issue, owner, api_client
):
    revoked = issue(owner, name="revoked")
    deliver(api_client(), github_key, [alert(revoked.secret, url="https://example.test/1")])
    unknown = token_format.generate()
    garbage = "qgp_" + "A" * 36
    before = Notification.objects.count(), AuditEvent.objects.count()

    response = deliver(
        api_client(),
        github_key,
        [alert(revoked.secret), alert(unknown), alert(garbage), alert("qgp_ünïcode")],
    )

    assert [row["label"] for row in response.json()] == [
        "true_positive",
        "false_positive",
        "false_positive",
        "false_positive",
    ]
    assert [row["token_hash"] for row in response.json()] == [
        sha256(t) for t in (revoked.secret, unknown, garbage, "qgp_ünïcode")
    ]
    outcomes = dict(LeakAlert.objects.filter(url=FOUND_AT).values_list("source", "outcome"))
    assert set(LeakAlert.objects.filter(url=FOUND_AT).values_list("outcome", flat=True)) == {
        LeakAlert.Outcome.ALREADY_DEAD,
        LeakAlert.Outcome.NOT_OURS,
    }
    assert outcomes  # recorded, with where they were found
    assert Notification.objects.count() == before[0]  # nothing to tell anyone
    # Only the dead token of ours gets an audit line: "reported again, already revoked".
    assert AuditEvent.objects.count() == before[1] + 1
    assert not LeakAlert.objects.filter(secret_hash__in=[unknown, garbage]).exists()


def test_the_answer_never_contains_a_token(github_key, issue, owner, api_client):
    live, dead = issue(owner, name="live"), issue(owner, name="dead")
    deliver(api_client(), github_key, [alert(dead.secret, url="")])
    tokens = [live.secret, dead.secret, token_format.generate()]

    response = deliver(api_client(), github_key, [alert(t) for t in tokens])

    body = response.content.decode()
    assert response.status_code == 200
    for token in tokens:
        assert token not in body
        assert token[4:] not in body
    assert {row["token_hash"] for row in response.json()} == {sha256(t) for t in tokens}


# --- idempotent ----------------------------------------------------------------------------------


def test_a_replayed_batch_changes_nothing_and_sends_no_second_email(
    github_key, issued, org_admin, api_client
):
    payload = [alert(issued.secret), alert(token_format.generate())]
    first = deliver(api_client(), github_key, payload)
    counts = (
        Notification.objects.count(),
        AuditEvent.objects.count(),
        Anomaly.objects.count(),
        LeakAlert.objects.count(),
    )

    again = deliver(api_client(), github_key, payload)

    assert again.json() == first.json()
    # Emails: created, leaked (owner), the finding (admin). Audit: created, leak reported,
    # revoked, finding. One finding; two alerts seen.
    assert counts == (3, 4, 1, 2)
    assert (
        Notification.objects.count(),
        AuditEvent.objects.count(),
        Anomaly.objects.count(),
        LeakAlert.objects.count(),
    ) == counts
    assert set(LeakAlert.objects.values_list("times_seen", flat=True)) == {2}


def test_the_same_token_found_in_two_places_is_revoked_once(github_key, issued, api_client):
    response = deliver(
        api_client(),
        github_key,
        [alert(issued.secret, url="https://example.test/a"), alert(issued.secret)],
    )

    assert [row["label"] for row in response.json()] == ["true_positive"] * 2
    assert LeakAlert.objects.count() == 2
    assert Anomaly.objects.count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.TOKEN_LEAKED).count() == 1
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revocation_reason.endswith("https://example.test/a")  # where it was first


# --- refused deliveries ------------------------------------------------------------------------


def nothing_recorded() -> bool:
    """No alert, audit event, email or finding beyond issuing the test's token."""
    return not (
        LeakAlert.objects.exists()
        or AuditEvent.objects.exclude(action=AuditEvent.Action.TOKEN_CREATED).exists()
        or Notification.objects.exclude(kind=Notification.Kind.TOKEN_CREATED).exists()
        or Anomaly.objects.exists()
    )


def _refusals(reason: str) -> float:
    """quaygate_secret_scanning_refused_total{reason}, as /metrics shows it."""
    return REGISTRY.get_sample_value("quaygate_secret_scanning_refused_total", {"reason": reason})


@pytest.fixture
def refused() -> Callable[[str], float]:
    """refused(reason) -> how many deliveries this test had refused for it (the counter is
    process-wide, so counted from the test's start)."""
    start = {reason: _refusals(reason) for reason in REFUSAL_REASONS}
    return lambda reason: _refusals(reason) - start[reason]


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    return problem


def test_a_tampered_body_is_401_and_changes_nothing(github_key, issued, api_client, refused):
    signed = json.dumps([alert(token_format.generate())]).encode()
    tampered = json.dumps([alert(issued.secret)]).encode()

    response = deliver(
        api_client(),
        github_key,
        None,
        body=tampered,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=github_key.sign(signed),
    )

    assert_refused(response, 401, "invalid_signature")
    assert response["WWW-Authenticate"].startswith("Github-Public-Key-Signature")
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert nothing_recorded()
    assert refused("bad_signature") == 1


def test_a_signature_by_another_key_is_401(github_key, issued, api_client):
    impostor = new_key(github_key.key_id)  # claims GitHub's identifier, signs with its own key

    response = deliver(api_client(), impostor, [alert(issued.secret)])

    assert_refused(response, 401, "invalid_signature")
    assert nothing_recorded()


def test_an_unknown_key_identifier_is_401(github_key, issued, api_client, refused):
    response = deliver(
        api_client(),
        github_key,
        [alert(issued.secret)],
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER="f" * 64,
    )

    problem = assert_refused(response, 401, "invalid_signature")
    assert "names no key" in problem["detail"]
    assert nothing_recorded()
    assert refused("unknown_key") == 1


@pytest.mark.parametrize(
    "signature", ["not base64!", "", "A" * 500, base64.b64encode(b"not DER").decode()]
)
def test_a_malformed_signature_is_401(github_key, issued, api_client, signature):
    response = deliver(
        api_client(),
        github_key,
        [alert(issued.secret)],
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signature,
    )

    assert_refused(response, 401, "invalid_signature")
    assert nothing_recorded()


def test_no_signature_headers_is_401(github_key, issued, api_client, refused):
    body = json.dumps([alert(issued.secret)])

    response = api_client().post(URL, body, content_type="application/json")

    assert_refused(response, 401, "invalid_signature")
    assert refused("missing") == 1
    assert nothing_recorded()


def test_without_configured_keys_every_delivery_is_401(issued, api_client):
    response = deliver(api_client(), new_key(), [alert(issued.secret)])

    assert_refused(response, 401, "invalid_signature")
    assert nothing_recorded()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[{'token': 'qgp_'}]", "parse_error"),
        (b"not json at all", "parse_error"),
        (b"\xff\xfe[]", "parse_error"),
        (b'{"token": "qgp_x", "type": "t", "url": "", "source": ""}', "validation_error"),
        (b'"qgp_x"', "validation_error"),
        (b'[{"type": "t"}]', "validation_error"),
        (b'[{"token": 12}]', "validation_error"),
        (b'[{"token": "qgp_\\u0000"}]', "validation_error"),
        (b'["qgp_x"]', "validation_error"),
    ],
)
def test_a_signed_but_malformed_body_is_400(github_key, api_client, body, code, refused):
    response = deliver(api_client(), github_key, None, body=body)

    assert_refused(response, 400, code)
    assert nothing_recorded()
    assert refused("malformed_body") == 1


def test_more_than_a_thousand_alerts_is_400(github_key, issued, api_client):
    payload = [alert(issued.secret)] + [alert(token_format.generate()) for _ in range(1000)]

    response = deliver(api_client(), github_key, payload)

    problem = assert_refused(response, 400, "validation_error")
    assert "1000" in problem["detail"]
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert nothing_recorded()


def test_a_body_over_a_mebibyte_is_413_before_any_signature_work(github_key, api_client, refused):
    body = json.dumps([alert(token_format.generate(), url="u" * 2000)] * 600).encode()
    assert len(body) > 1024 * 1024

    response = deliver(api_client(), github_key, None, body=body)

    assert_refused(response, 413, "request_too_large")
    assert refused("too_large") == 1
    assert nothing_recorded()


def test_deliveries_are_limited_per_address(settings, github_key, api_client, refused):
    settings.QUAYGATE = {**settings.QUAYGATE, "API_SECRET_SCANNING_PER_IP": "2/m"}
    payload = [alert(token_format.generate())]
    for _ in range(2):
        assert deliver(api_client(), github_key, payload).status_code == 200

    limited = deliver(api_client(), github_key, payload)
    elsewhere = deliver(api_client(), github_key, payload, REMOTE_ADDR="192.30.252.11")

    assert_refused(limited, 429, "too_many_requests")
    assert int(limited["Retry-After"]) >= 1
    assert elsewhere.status_code == 200
    assert refused("rate_limited") == 1


# --- bounded work ------------------------------------------------------------------------------


def test_a_batch_costs_the_same_queries_whatever_its_number_of_unknown_alerts(
    github_key,
    issue,
    owner,
    org_admin,
    api_client,
    django_assert_max_num_queries,
    without_usage_log,
):
    def batch(live: int, unknown: int) -> list[dict]:
        secrets = [issue(owner).secret for _ in range(live)]
        return [alert(s) for s in secrets] + [
            alert(token_format.generate()) for _ in range(unknown)
        ]

    # One lookup for every candidate's secret, one claiming insert, one read of the claims;
    # then, per live token, the leak report's and the finding's own work (audit events,
    # revocation, its cache drop, two emails, savepoints, and for each of its three audit events
    # the chain head's lock and move and webhooks' look-up of the organisation's endpoints):
    # ~35 queries. None per unknown alert.
    for alerts in (batch(2, 10), batch(2, 998)):
        with django_assert_max_num_queries(78):
            response = deliver(api_client(), github_key, alerts)
        assert response.status_code == 200
    assert len(response.json()) == 1000
    assert LeakAlert.objects.filter(outcome=LeakAlert.Outcome.REVOKED).count() == 4


# --- documented for scanners -------------------------------------------------------------------


def test_the_guide_gives_scanners_the_patterns_the_checksum_and_the_tested_checker(client, schema):
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "secret-scanning"
    page = html.unescape(client.get("/api/getting-started/").content.decode())

    assert 'id="secret-scanning"' in page and 'id="problem-invalid_signature"' in page
    for pattern in (
        "qgp_[0-9A-Za-z]{36}",
        "qgs_[0-9A-Za-z]{36}",
        "qg[ps]_[0-9A-Za-z]{36}",
        r"\bqg[ps]_[0-9A-Za-z]{36}\b",
    ):
        assert f"<code>{pattern}</code>" in page
    assert "qgs_</code>: sandbox tokens, live today" in page
    assert "reserved" not in page.split('id="secret-scanning"')[1].split("</section>")[0]
    assert "CRC-32" in page and "0x04C11DB7" in page and "0-9A-Za-z" in page
    assert (docs / "check_token.py").read_text() in page  # the very file the suite tests
    assert (docs / "gitleaks.toml").read_text() in page
    operation = schema["paths"]["/api/v1/secret-scanning/github"]["post"]
    assert "Github-Public-Key-Signature" in operation["description"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "Github-Public-Key-Identifier",
        "Github-Public-Key-Signature",
    }
