"""issue_token and revoke_token on the command line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tokens import format as token_format
from tokens import services
from tokens.models import AuditEvent, PersonalAccessToken


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_issue_token_prints_the_token_alone_on_the_last_line(owner, terminals):
    out, err = run(
        "issue_token",
        "--user", "OWNER@rotterdam.example",
        "--name", "ci deploy",
        "--scope", "fleet:read",
        "--scope", "telemetry:read",
        "--terminal", "EMX",
        "--expires-in-days", "30",
        "--allow-ip", "192.0.2.0/24",
        "--rate-limit", "100",
    )  # fmt: skip
    secret = out.strip().splitlines()[-1]
    assert token_format.is_well_formed(secret)
    token = PersonalAccessToken.objects.get(name="ci deploy")
    assert services.hash_secret(secret) == token.secrets.get().secret_hash
    assert token.scopes == ["fleet:read", "telemetry:read"]
    assert [t.code for t in token.terminals.all()] == ["EMX"]
    assert (token.allowed_ips, token.rate_limit_per_hour) == (["192.0.2.0/24"], 100)
    assert secret not in err and token.display_prefix in err
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_CREATED)
    assert event.actor_kind == "cli" and event.actor_label == "manage.py issue_token"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody@x.example"], "No user"),
        (["--user", "owner@rotterdam.example", "--scope", "root"], "Unknown scope"),
        (["--user", "owner@rotterdam.example", "--terminal", "NOPE"], "No terminal NOPE"),
        (["--user", "owner@rotterdam.example", "--expires-in-days", "400"], "90 days"),
        (["--user", "owner@rotterdam.example", "--no-expiry"], "must expire"),
        (["--user", "owner@rotterdam.example", "--allow-ip", "nope"], "not an IP"),
    ],
)
def test_issue_token_explains_what_is_wrong(owner, args, message):
    base = ["issue_token", "--name", "n", "--scope", "fleet:read"]
    with pytest.raises(CommandError, match=message):
        run(*base, *args)
    assert not PersonalAccessToken.objects.exists()


def test_revoke_token_by_prefix_and_by_id(issue, owner):
    first, second = issue(owner, name="a"), issue(owner, name="b")
    out, _ = run("revoke_token", first.token.display_prefix, "--reason", "rotating vendors")
    assert "Revoked" in out
    run("revoke_token", str(second.token.id), "--reason", "done")
    for issued in (first, second):
        token = PersonalAccessToken.objects.get(pk=issued.token.pk)
        assert token.revoked_at is not None
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED).first()
    assert event.actor_kind == "cli"
    assert (
        PersonalAccessToken.objects.get(pk=first.token.pk).revocation_reason == "rotating vendors"
    )


def test_revoke_token_refuses_a_whole_secret_and_unknown_keys(issued):
    with pytest.raises(CommandError, match="whole token"):
        run("revoke_token", issued.secret, "--reason", "x")
    with pytest.raises(CommandError, match="No token"):
        run("revoke_token", "qgp_zzzz", "--reason", "x")
    with pytest.raises(CommandError):
        run("revoke_token", "drop table", "--reason", "x")
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).revoked_at is None


def test_issue_token_sandbox_mints_a_qgs_token(owner):
    out, _ = run(
        "issue_token", "--user", owner.email, "--name", "try it", "--scope", "fleet:read",
        "--sandbox",
    )  # fmt: skip
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("qgs_") and token_format.parse(secret).kind == "sandbox"
    assert PersonalAccessToken.objects.get(name="try it").kind == "sandbox"
