"""Every code sample in the schema (x-codeSamples) runs, as printed, against a live server: each
curl line in bash, each Python sample (requests and the quaygate client) in a fresh
interpreter, each JavaScript sample in Node. Each must answer 2xx. A sample can't rot: change
an operation, and its sample changes with it or this test fails.

Only the environment differs from what a reader copies: QUAYGATE_TOKEN holds a fresh token with
every scope (one per sample, since some revoke or rotate it; a sandbox token for the sandbox's
own operations), and the server's SITE_URL, which
the samples' base URL is, is the live server's. The objects the samples name (spreader EMX-001,
alarm 4242) are made to exist first.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from api import samples
from fleet.models import Alarm
from tests.api.github_signing import configure_keys_file, new_key

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PATH = ROOT / "clients" / "python"
LABELS = {"curl", "Python (requests)", "Python (quaygate)", "JavaScript (fetch)"}


def fetch_schema(live_server) -> dict:
    response = requests.get(f"{live_server.url}/api/schema/?format=json", timeout=30)
    assert response.status_code == 200
    return response.json()


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


@pytest.fixture
def sample_world(settings, live_server, fleet, tmp_path):
    """The server's SITE_URL is the live server; the objects the samples name exist; GitHub's
    signing key is configured."""
    settings.SITE_URL = live_server.url
    # Each sample runs with a token of its own (some revoke or rotate theirs): more tokens than
    # a default plan keeps alive at once.
    settings.QUAYGATE = {**settings.QUAYGATE, "PLAN_MAX_ACTIVE_TOKENS": 1_000}
    alarm = fleet.emx_alarm
    assert fleet.emx_spreader.serial_number == samples.NAMED_EXAMPLES["serial"]
    Alarm.objects.filter(pk=alarm.pk).update(id=samples.NAMED_EXAMPLES["alarm_id"])
    key = new_key()
    configure_keys_file(settings, tmp_path / "github-keys.json", key)
    return key


def header_values(sample: str, key) -> dict[str, str]:
    """The environment a sample's required headers read (today: GitHub's signature)."""
    variables = {}
    if "GITHUB_PUBLIC_KEY_SIGNATURE" in sample:
        words = shlex.split(sample.replace("\\\n", " ")) if sample.startswith("curl") else []
        body = words[words.index("--data") + 1] if "--data" in words else None
        if body is None:  # Python and JavaScript send the same text, printed as a literal
            body = _signed_body(sample)
        variables["GITHUB_PUBLIC_KEY_IDENTIFIER"] = key.key_id
        variables["GITHUB_PUBLIC_KEY_SIGNATURE"] = key.sign(body.encode())
    return variables


def _signed_body(sample: str) -> str:
    import ast
    import json

    for line in sample.splitlines():
        line = line.strip().rstrip(",")
        for prefix in ("data=", "body: "):
            if line.startswith(prefix):
                literal = line.removeprefix(prefix)
                return json.loads(literal) if prefix == "body: " else ast.literal_eval(literal)
    raise AssertionError(f"no signed body in:\n{sample}")


def run(sample: dict, *, token: str, extra_env: dict[str, str], tmp_path: Path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "QUAYGATE_TOKEN": token,
        "PYTHONPATH": str(CLIENT_PATH),
        "NO_PROXY": "*",
        **extra_env,
    }
    source = sample["source"]
    if sample["label"] == "curl":
        command = ["bash", "-c", source + " -o /dev/stderr -w '%{http_code}'"]
    elif sample["lang"] == "Python":
        script = tmp_path / "sample.py"
        script.write_text(source)
        command = [sys.executable, str(script)]
    else:
        script = tmp_path / "sample.mjs"
        script.write_text(source)
        command = [shutil.which("node") or "node", str(script)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_every_operation_has_its_samples(live_server, settings):
    settings.SITE_URL = live_server.url
    for path, method, operation in operations(fetch_schema(live_server)):
        labels = {sample["label"] for sample in operation["x-codeSamples"]}
        signed = any(
            p.get("required") and p["in"] == "header" for p in operation.get("parameters", [])
        )
        expected = LABELS - {"Python (quaygate)"} if signed else LABELS
        assert labels == expected, (method, path)
        for sample in operation["x-codeSamples"]:
            assert live_server.url in sample["source"]
            assert "qgp_" not in sample["source"] or "FoundInAPublic" in sample["source"]


@pytest.mark.skipif(not shutil.which("node"), reason="needs Node.js for the fetch samples")
def test_every_sample_runs_against_the_live_server(
    sample_world, live_server, issue, owner, org_admin, tmp_path
):
    schema = fetch_schema(live_server)
    ran = 0
    for path, method, operation in operations(schema):
        for sample in operation["x-codeSamples"]:
            # The audit log is for an organisation admin's token with audit:read (issue 18); the
            # sandbox's own operations answer sandbox tokens only (a qgp_ gets 403).
            audit = path.endswith("/audit-events")
            kind = "sandbox" if path.startswith("/api/v1/sandbox/") else "production"
            token = issue(
                org_admin if audit else owner,
                name=f"sample {ran}",
                kind=kind,
                **({"scopes": ["audit:read"]} if audit else {}),
            ).secret
            extra = header_values(sample["source"], sample_world)
            result = run(sample, token=token, extra_env=extra, tmp_path=tmp_path)
            where = f"{sample['label']} of {method.upper()} {path}:\n{sample['source']}\n"
            assert result.returncode == 0, where + result.stdout + result.stderr
            if sample["label"] == "curl":
                assert result.stdout.startswith("2"), where + result.stdout + result.stderr
            assert token not in result.stdout + result.stderr
            ran += 1
    assert ran >= 4 * len(operations(schema)) - 2
