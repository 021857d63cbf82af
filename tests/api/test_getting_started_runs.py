"""The getting-started page's first five minutes, run as a reader would: each block marked
runnable, in the page's order, against a live server, with QUAYGATE_TOKEN set to a token with
the scopes step 1 says to pick. Shell blocks in bash (errexit, pipefail), Python in a fresh
interpreter with the client on its path."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_PATH = Path(__file__).resolve().parents[2] / "clients" / "python"
BLOCK = re.compile(r'<code data-run="(shell|python)">(.*?)</code>', re.DOTALL)


def runnable_blocks(page: str) -> list[tuple[str, str]]:
    quickstart = page.split('id="quickstart"', 1)[1].split("</section>", 1)[0]
    return [(kind, html.unescape(code)) for kind, code in BLOCK.findall(quickstart)]


def test_the_quickstart_steps_come_in_the_promised_order(client):
    page = client.get("/api/getting-started/").content.decode()
    quickstart = page.split('id="quickstart"', 1)[1].split("</section>", 1)[0]
    steps = re.findall(r'<li id="quickstart-([a-z-]+)"', quickstart)

    assert steps == ["token", "curl", "client", "rate-limits", "errors", "rotate"]
    assert 'href="/tokens/new/"' in quickstart
    assert quickstart.index("429") < quickstart.index("rotate(")


def test_every_quickstart_block_runs(live_server, fleet, issue, owner, tmp_path):
    page = requests.get(f"{live_server.url}/api/getting-started/", timeout=30).text
    blocks = runnable_blocks(page)
    secret = issue(owner, scopes=["fleet:read", "alarms:read"]).secret
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "QUAYGATE_TOKEN": secret,
        "PYTHONPATH": str(CLIENT_PATH),
    }
    outputs = []
    for n, (kind, code) in enumerate(blocks):
        if kind == "shell":
            command = ["bash", "-e", "-o", "pipefail", "-c", code]
        else:
            script = tmp_path / f"step{n}.py"
            script.write_text(code)
            command = [sys.executable, str(script)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{code}\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout)
        assert secret not in result.stdout + result.stderr

    assert len(blocks) == 6
    assert '"code":"EMX"' in outputs[0].replace(" ", "")
    assert outputs[1].startswith("EMX")
    assert "x-ratelimit-remaining" in outputs[2].lower()
    assert "requests left" in outputs[3]
    assert "A wrong token gets 401" in outputs[4]
    assert "rotated qgp_" in outputs[5] and "still works: qgp_" in outputs[5]
