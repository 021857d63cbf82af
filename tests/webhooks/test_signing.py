"""The signature scheme, and the docs' verification snippets (Python and Node, run as shown)."""

import json
import shutil
import subprocess
import time

import pytest

from tests.support.receiver import ROOT, verify_quaygate_signature
from webhooks import signing

BODY = b'{"id":"evt_1","type":"token.revoked"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.header_value(["whsec_k"], 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_the_documented_python_snippet_accepts_a_fresh_signature_and_rejects_tampering():
    now = int(time.time())
    header = signing.header_value(["whsec_k"], now, BODY)
    assert verify_quaygate_signature(BODY, header, "whsec_k")
    assert not verify_quaygate_signature(BODY + b" ", header, "whsec_k")
    assert not verify_quaygate_signature(BODY, header, "whsec_other")


def test_a_signature_older_than_five_minutes_is_rejected():
    old = int(time.time()) - signing.TOLERANCE_SECONDS - 5
    header = signing.header_value(["whsec_k"], old, BODY)
    assert not verify_quaygate_signature(BODY, header, "whsec_k")
    assert not signing.verify(header, BODY, "whsec_k")
    recent = int(time.time()) - signing.TOLERANCE_SECONDS + 30
    assert signing.verify(signing.header_value(["whsec_k"], recent, BODY), BODY, "whsec_k")


def test_during_a_rotation_either_secret_verifies():
    header = signing.header_value(["whsec_new", "whsec_old"], int(time.time()), BODY)
    assert header.count("v1=") == 2
    assert verify_quaygate_signature(BODY, header, "whsec_new")
    assert verify_quaygate_signature(BODY, header, "whsec_old")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_documented_node_snippet_agrees():
    now = int(time.time())
    cases = [
        (signing.header_value(["whsec_k"], now, BODY), True),
        (signing.header_value(["whsec_x", "whsec_k"], now, BODY), True),
        (signing.header_value(["whsec_k"], now - 600, BODY), False),
        (signing.header_value(["whsec_other"], now, BODY), False),
    ]
    script = (
        f"const {{ verifyQuaygateSignature }} = require({json.dumps(str(ROOT / 'docs/webhooks/verify.js'))});"
        f"const body = Buffer.from({json.dumps(BODY.decode())});"
        f"const headers = {json.dumps([h for h, _ in cases])};"
        "console.log(JSON.stringify(headers.map((h) => verifyQuaygateSignature(body, h, 'whsec_k'))));"
    )
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [ok for _, ok in cases]


def test_the_docs_page_shows_both_snippets(client):
    page = client.get("/api/webhooks/").content.decode()
    assert "def verify_quaygate_signature" in page
    assert "function verifyQuaygateSignature" in page
    assert "5 minutes" in page
