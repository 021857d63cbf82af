"""`make bench`: one GitHub secret-scanning delivery of 1,000 alerts, 10 of them live tokens of
ours, through gunicorn as GitHub would send it (signed, over HTTP), timed from the first byte
sent to the last byte of the answer.

The signing key is made here and configured as GitHub's (SECRET_SCANNING_GITHUB_KEYS_FILE) for
the server this step starts. Each round sends a fresh delivery: new live tokens, new unknown
strings, so no round is a cheap replay of another.
"""

import base64
import json
import os
import secrets
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from bench import http
from bench.generators import BenchOrg
from bench.report import Row
from tokens import format as token_format
from tokens import scopes, services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

ALERTS = 1000
LIVE = 10
ROUNDS = 3
TARGET_S = 2.0
PATH = "/api/v1/secret-scanning/github"
KEY_ID = "bench-" + "0" * 58
SOURCES = ("content", "commit", "pull_request_comment", "issue_comment", "gist_content")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """These variables for the processes started inside (gunicorn reads os.environ)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _keys_file(directory: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = directory / "github-secret-scanning-keys.json"
    entry = {"key_identifier": KEY_ID, "key": pem.decode(), "is_current": True}
    path.write_text(json.dumps({"public_keys": [entry]}))
    return path


def _delivery(bench: BenchOrg, round_number: int) -> tuple[list[dict], list[int]]:
    """1,000 alerts as GitHub writes them; LIVE of them real tokens issued just now."""
    issued = [
        services.issue_token(
            owner=bench.admin,
            organization=bench.organization,
            name=f"leak bench {timezone.now():%H%M%S%f} {round_number}-{n}",
            scopes=[scopes.ALL_SCOPES[0]],
            actor=Actor.cli("make bench"),
        )
        for n in range(LIVE)
    ]
    strings = [i.secret for i in issued] + [token_format.generate() for _ in range(ALERTS - LIVE)]
    alerts = [
        {
            "token": string,
            "type": "quaygate_personal_access_token",
            "url": f"https://github.com/bench-org/repo-{n % 97}/blob/{secrets.token_hex(20)}"
            f"/deploy/config-{n}.yaml",
            "source": SOURCES[n % len(SOURCES)],
        }
        for n, string in enumerate(strings)
    ]
    return alerts, [i.token.id for i in issued]


def _post(
    base: str, key: ec.EllipticCurvePrivateKey, alerts: list[dict]
) -> tuple[float, int, bytes]:
    body = json.dumps(alerts).encode()
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        base + PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Github-Public-Key-Identifier": KEY_ID,
            "Github-Public-Key-Signature": signature,
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    return time.perf_counter() - started, status, answer


def _check(status: int, answer: bytes, alerts: list[dict], token_ids: list[int]) -> str:
    """What is wrong with a round's answer, or "" when it is right."""
    if status != 200:
        return f"answered {status}"
    verdicts = json.loads(answer)
    positives = sum(v["label"] == "true_positive" for v in verdicts)
    revoked = PersonalAccessToken.objects.filter(id__in=token_ids, revoked_at__isnull=False)
    if len(verdicts) != len(alerts) or positives != LIVE or revoked.count() != LIVE:
        return f"{len(verdicts)} verdicts, {positives} true positives, {revoked.count()} revoked"
    if any(alert["token"].encode() in answer for alert in alerts[:LIVE]):
        return "the answer holds a token"
    return ""


def secret_scanning_row(bench: BenchOrg, *, workers: int, notes: list[str], say) -> Row:
    out = Path(__file__).resolve().parent.parent / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    env = {
        "SECRET_SCANNING_GITHUB_KEYS_FILE": str(_keys_file(out, key)),
        "API_SECRET_SCANNING_PER_IP": "10000/m",
    }
    label = f"GitHub secret scanning: {ALERTS:,} alerts, {LIVE} live (HTTP)"
    target = f"< {TARGET_S:g} s"
    timings, problems = [], []
    say(f"Secret scanning: {ROUNDS} signed deliveries of {ALERTS:,} alerts through gunicorn")
    with (
        _environment(env),
        http.gunicorn(
            port=http.free_port(), workers=workers, log_path=out / "gunicorn-secret-scanning.log"
        ) as base,
    ):
        for _ in range(2 * workers):  # warm-up: each worker's imports, key and connections
            _post(base, key, [{"token": token_format.generate(), "type": "t", "url": ""}])
        for number in range(ROUNDS):
            alerts, token_ids = _delivery(bench, number)
            elapsed, status, answer = _post(base, key, alerts)
            timings.append(elapsed)
            if problem := _check(status, answer, alerts, token_ids):
                problems.append(problem)
            say(f"  round {number + 1}/{ROUNDS}: {elapsed:.2f} s, {status}")
    if problems:
        notes.append(f"secret scanning: {'; '.join(problems)}")
        return Row(label, target, "wrong answer", False)
    return Row(
        label,
        target,
        f"{statistics.median(timings):.2f} s per delivery (median of {ROUNDS}; slowest "
        f"{max(timings):.2f} s); {LIVE} revoked each",
        max(timings) < TARGET_S,
    )
