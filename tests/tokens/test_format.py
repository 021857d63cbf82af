"""The token string, as external tools will validate it: qgp_ + 30 base62 + 6 base62 CRC32."""

import zlib

from hypothesis import given
from hypothesis import strategies as st

from core import redaction
from tokens import format as token_format

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def reference_checksum(body: str) -> str:
    """The spec, written out independently of the implementation."""
    number = zlib.crc32(body.encode()) & 0xFFFFFFFF
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = ALPHABET[remainder] + digits
    return digits.rjust(6, "0")


def test_a_generated_token_has_the_documented_shape():
    token = token_format.generate()
    assert len(token) == 40
    assert token.startswith("qgp_")
    body, check = token[4:34], token[34:]
    assert set(body + check) <= set(ALPHABET)
    assert check == reference_checksum(body)


def test_the_alphabet_is_digits_then_upper_then_lower():
    assert token_format.ALPHABET == ALPHABET


def test_the_body_draws_from_the_whole_alphabet():
    seen = set("".join(token_format.generate()[4:34] for _ in range(400)))
    assert seen == set(ALPHABET)


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_base62_is_padded_to_six_and_decodes_back(number):
    encoded = token_format.base62(number, 6)
    assert len(encoded) == 6
    assert sum(ALPHABET.index(c) * 62**i for i, c in enumerate(reversed(encoded))) == number


@given(st.text(alphabet=ALPHABET, min_size=30, max_size=30))
def test_every_well_formed_body_with_its_checksum_parses(body):
    token = "qgp_" + body + reference_checksum(body)
    parsed = token_format.parse(token)
    assert parsed is not None
    assert parsed.body == body
    assert parsed.display_prefix == "qgp_" + body[:4]


@given(st.data())
def test_every_issued_token_parses(data):
    token = token_format.generate()
    assert token_format.is_well_formed(token)


@given(
    st.text(alphabet=ALPHABET, min_size=30, max_size=30),
    st.integers(min_value=4, max_value=39),
    st.sampled_from(ALPHABET),
)
def test_a_flipped_character_fails_the_checksum(body, position, replacement):
    token = "qgp_" + body + reference_checksum(body)
    if token[position] == replacement:
        replacement = ALPHABET[(ALPHABET.index(replacement) + 1) % 62]
    flipped = token[:position] + replacement + token[position + 1 :]
    assert token_format.parse(flipped) is None


@given(st.text(max_size=60))
def test_arbitrary_text_is_never_mistaken_for_a_token(text):
    # Only a string with a correct checksum parses; random text essentially never has one.
    if token_format.parse(text) is not None:
        assert reference_checksum(text[4:34]) == text[34:]


def test_wrong_prefix_length_and_alphabet_are_refused():
    token = token_format.generate()
    assert token_format.parse("qgx_" + token[4:]) is None
    assert token_format.parse(token + "A") is None
    assert token_format.parse(token[:-1]) is None
    assert token_format.parse(token[:10] + "-" + token[11:]) is None
    assert token_format.parse(None) is None
    assert token_format.parse(token.encode()) is None


def test_the_keyed_hash_depends_on_the_key():
    token = token_format.generate()
    assert token_format.keyed_hash(token, "k1") != token_format.keyed_hash(token, "k2")
    assert len(token_format.keyed_hash(token, "k1")) == 64


def test_core_redaction_recognises_every_token_we_generate():
    """core.redaction keeps its own, looser pattern (core may not import tokens): this keeps
    the two from drifting apart."""
    for _ in range(100):
        token = token_format.generate()
        assert redaction.contains_secret(token)
        assert token not in redaction.redact_secrets(f"Authorization: Bearer {token}")


def test_the_token_pattern_finds_a_whole_token_inside_text():
    token = token_format.generate()
    found = token_format.TOKEN_PATTERN.search(f"/api/v1/fleet?x={token}&y=1")
    assert found is not None and found.group(0) == token
    assert token_format.TOKEN_PATTERN.search(token_format.display_prefix(token)) is None
