"""What we publish for secret scanners (docs/secret-scanning/): the reference checker and the
gitleaks rule agree with tokens.format on generated tokens and on every kind of corruption."""

import importlib.util
import math
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from tokens import format as token_format

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "secret-scanning"
QGP_PATTERN = "qgp_[0-9A-Za-z]{36}"
FAMILY_PATTERN = "qg[ps]_[0-9A-Za-z]{36}"


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_token", DOCS / "check_token.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
TOKENS = [token_format.generate() for _ in range(500)]


def corruptions(token: str) -> list[str]:
    """Every way a scanner's candidate is not a token: one character changed (in the body and in
    the checksum), one missing, one extra, a wrong prefix, a character outside base62."""

    def changed(at: int) -> str:
        alphabet = token_format.ALPHABET
        return token[:at] + alphabet[(alphabet.index(token[at]) + 1) % 62] + token[at + 1 :]

    return [
        changed(10),  # in the body
        changed(37),  # in the checksum
        token[:-1],
        token + "A",
        "qgx_" + token[4:],
        "QGP_" + token[4:],
        token[:20] + "-" + token[21:],
        token[:4] + token[5:] + token[4],  # the body shifted: same characters, wrong place
    ]


def test_the_reference_checker_is_short_enough_to_read_and_copy():
    assert len((DOCS / "check_token.py").read_text().splitlines()) <= 45


def test_the_reference_checker_accepts_every_generated_token():
    assert all(checker.is_quaygate_token(token) for token in TOKENS)
    assert all(
        checker.checksum(token[4:34]) == token_format.checksum(token[4:34]) for token in TOKENS
    )


def test_the_reference_checker_refuses_every_corrupted_token_as_tokens_format_does():
    for token in TOKENS[:100]:
        for candidate in corruptions(token):
            assert checker.is_quaygate_token(candidate) is False, candidate
            assert token_format.is_well_formed(candidate) is False, candidate


def test_the_sandbox_prefix_has_the_same_shape_and_checksum():
    body = TOKENS[0][4:34]
    sandbox = "qgs_" + body + token_format.checksum(body)

    assert checker.is_quaygate_token(sandbox)
    assert not checker.is_quaygate_token("qgs_" + body + "000000")
    # Issued since issue 15: the API takes it, as a sandbox token.
    assert token_format.parse(sandbox).kind == "sandbox"


def test_the_checker_finds_tokens_in_text_and_nothing_longer():
    token = TOKENS[1]
    text = f'QUAYGATE_TOKEN="{token}"\nx{token}\n{token}A\nurl?t={TOKENS[2]}&'

    assert checker.find_tokens(text) == [token, TOKENS[2]]


def test_the_checker_runs_as_a_script():
    script = str(DOCS / "check_token.py")
    found = subprocess.run(
        [sys.executable, script, f"token: {TOKENS[3]}"], capture_output=True, text=True
    )
    missing = subprocess.run(
        [sys.executable, script], input=corruptions(TOKENS[3])[0], capture_output=True, text=True
    )

    assert found.returncode == 0
    assert found.stdout == f"{TOKENS[3][:8]}… is a Quaygate token\n"
    assert TOKENS[3] not in found.stdout
    assert missing.returncode == 1 and missing.stdout == ""


def test_the_documented_qgp_pattern_is_the_one_the_code_uses():
    documented = re.compile(QGP_PATTERN)
    assert token_format.TOKEN_PATTERN.pattern.replace("\\", "") == QGP_PATTERN.replace(
        "0-9A-Za-z", token_format.ALPHABET
    )
    for token in TOKENS[:50]:
        assert documented.fullmatch(token)
        assert re.fullmatch(FAMILY_PATTERN, token)


@pytest.mark.parametrize("pattern", [QGP_PATTERN, FAMILY_PATTERN, "CRC32"])
def test_the_readme_states_the_patterns_and_the_checksum(pattern):
    assert pattern in (ROOT / "README.md").read_text()


# --- the gitleaks rule ---------------------------------------------------------------------------


def gitleaks_rule() -> dict:
    config = tomllib.loads((DOCS / "gitleaks.toml").read_text())
    (rule,) = config["rules"]
    return rule


def shannon_entropy(text: str) -> float:
    """The entropy gitleaks computes for a match, in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_the_gitleaks_rule_parses_and_keeps_the_default_rules():
    config = tomllib.loads((DOCS / "gitleaks.toml").read_text())
    rule = gitleaks_rule()

    assert config["extend"]["useDefault"] is True
    assert {"id", "description", "regex", "secretGroup", "entropy", "keywords"} <= set(rule)
    assert rule["keywords"] == ["qgp_", "qgs_"]


def test_the_gitleaks_regex_finds_generated_tokens_wherever_they_are_written():
    rule = gitleaks_rule()
    regex = re.compile(rule["regex"])
    for token in TOKENS:
        for text in (token, f'"{token}"', f"TOKEN={token}\n", f"Bearer {token}", f"[{token}]"):
            match = regex.search(text)
            assert match is not None, text
            assert match.group(rule["secretGroup"]) == token
        assert any(keyword in token for keyword in rule["keywords"])
        assert shannon_entropy(token) >= rule["entropy"]


def test_the_gitleaks_regex_ignores_what_is_not_token_shaped():
    regex = re.compile(gitleaks_rule()["regex"])
    token = TOKENS[4]

    assert regex.search(token + "A") is None  # 41 characters: something else
    assert regex.search("x" + token) is None  # inside a longer word
    assert regex.search(token[:-1]) is None
    assert regex.search("qgx_" + token[4:]) is None


def test_the_gitleaks_entropy_threshold_drops_placeholders():
    assert shannon_entropy("qgp_" + "x" * 36) < gitleaks_rule()["entropy"]
