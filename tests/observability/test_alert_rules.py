"""deploy/prometheus/alerts.yml: valid for promtool, each rule unit-tested on synthetic series
(alerts_test.yml), and every metric it names is one /metrics serves."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from observability import snapshot
from tests.conftest import require

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    require(binary is not None, "needs promtool (Debian's prometheus package)")
    return subprocess.run(
        [binary, *args], cwd=RULES, capture_output=True, text=True, check=False, timeout=60
    )


def test_the_rules_are_valid():
    result = promtool("check", "rules", "alerts.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_each_rule_fires_and_stays_quiet_when_it_should():
    result = promtool("test", "rules", "alerts_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_test():
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    tests = yaml.safe_load((RULES / "alerts_test.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }

    assert alerts == tested
    assert {
        "QuaygateAuthFailureRateHigh",
        "QuaygateApi5xxRateHigh",
        "QuaygateUsageStreamLagging",
        "QuaygateOutboxStuck",
        "QuaygateWorkerAbsent",
    } <= alerts


@pytest.mark.django_db
def test_every_metric_a_rule_names_is_served(client, partner, fleet, redis_client):
    partner.get("/api/v1/terminals")
    snapshot.refresh()
    served = {
        sample.name
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
        for sample in family.samples
    }
    named = set(re.findall(r"\bquaygate_[a-z_]+", (RULES / "alerts.yml").read_text()))

    assert named
    assert named <= served, named - served
