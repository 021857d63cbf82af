"""The audit page's Download CSV: the filtered view, streamed, safe to open in a spreadsheet,
for the same people as the page; and the page shows the chain head."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tokens.actors import Actor
from tokens.models import AuditChainHead, AuditEvent
from tokens.services import record_audit_event

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_many_events_stream_out_in_chunks(client, sign_in, member, org, other_org, monkeypatch):
    from portal.views import audit_export

    monkeypatch.setattr(audit_export, "CHUNK", 100)
    AuditEvent.objects.bulk_create(
        AuditEvent(action="user.login", actor_kind="system", actor_label=f"n{n}", organization=org)
        for n in range(2500)
    )
    AuditEvent.objects.create(action="user.login", actor_kind="system", organization=other_org)
    response = sign_in(client, member).get(reverse("org_audit_csv", args=[org.slug]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    lines = iter(response.streaming_content)
    assert next(lines).decode().startswith("created_at,action,")
    body = b"".join(lines).decode()  # the rest, chunk by chunk
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 2500
    assert {row[8] for row in rows} == {str(n) for n in range(1, 2501)}


def test_the_csv_is_the_filtered_view(client, sign_in, member, org):
    for action in ("user.login", "token.revoked", "user.login"):
        record_audit_event(action=action, actor=Actor.system("ops"), organization=org)
    url = reverse("org_audit_csv", args=[org.slug]) + "?action=token.revoked"
    rows = rows_of(sign_in(client, member).get(url))
    assert [row[1] for row in rows[1:]] == ["token.revoked"]


def test_formula_cells_are_quoted(client, sign_in, member, org):
    record_audit_event(
        action="user.login",
        actor=Actor.anonymous(ip="192.0.2.1", user_agent='=HYPERLINK("http://evil")'),
        organization=org,
        details={"note": "+1"},
    )
    (header, row) = rows_of(sign_in(client, member).get(reverse("org_audit_csv", args=[org.slug])))
    assert row[header.index("user_agent")] == '\'=HYPERLINK("http://evil")'
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@"))


def test_outsiders_get_404_and_anonymous_users_sign_in(client, sign_in, outsider, org):
    url = reverse("org_audit_csv", args=[org.slug])
    assert client.get(url).status_code == 302
    assert sign_in(client, outsider).get(url).status_code == 404


def test_the_audit_page_shows_the_chain_head_and_the_download_link(client, sign_in, member, org):
    record_audit_event(action="user.login", actor=Actor.system("ops"), organization=org)
    head = AuditChainHead.objects.get(key=f"org:{org.id}")
    html = sign_in(client, member).get(reverse("org_audit", args=[org.slug]) + "?action=user.login")
    text = html.content.decode()
    assert head.hash in text and f"event <strong>{head.seq}</strong>" in text
    assert reverse("org_audit_csv", args=[org.slug]) + "?action=user.login" in text


def test_audit_read_is_offered_to_admins_only_on_the_new_token_page(
    client, sign_in, owner, org_admin, new_token_data
):
    from tokens.models import PersonalAccessToken

    assert (
        'value="audit:read"'
        not in sign_in(client, owner).get(reverse("token_new")).content.decode()
    )
    response = client.post(reverse("token_new"), new_token_data(scopes=["audit:read"]))
    assert response.status_code == 400 or "audit:read" in response.content.decode()
    assert not PersonalAccessToken.objects.filter(owner=owner).exists()
    client.logout()
    html = sign_in(client, org_admin).get(reverse("token_new")).content.decode()
    assert 'value="audit:read"' in html
    client.post(reverse("token_new"), new_token_data(scopes=["audit:read"]))
    assert PersonalAccessToken.objects.get(owner=org_admin).scopes == ["audit:read"]
