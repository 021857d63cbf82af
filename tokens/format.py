"""The token string: generate, parse, checksum. Pure Python, no Django, no database.

    qgp_ + 30 base62 characters (about 178 bits from `secrets`) + 6-character base62 CRC32
    = 40 characters.

The checksum lets anyone (a secret scanner, our own authentication) tell a real-looking
token from garbage offline, so a malformed or mistyped token never costs a query.
"""

import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "qgp_"
# Sandbox tokens (issue 15): the same layout, another prefix. The prefix is the token's kind.
SANDBOX_PREFIX = "qgs_"
PREFIXES = {PREFIX: "production", SANDBOX_PREFIX: "sandbox"}
KIND_PREFIX = {kind: prefix for prefix, kind in PREFIXES.items()}
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 30
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH  # 40
DISPLAY_BODY_CHARS = 4
_ALPHABET_SET = frozenset(ALPHABET)
# A whole token's shape inside other text (a path, a user agent), for scrubbing. No checksum
# check: a mistyped token in a log line is still cut.
TOKEN_PATTERN = re.compile(
    re.escape(PREFIX) + "[" + re.escape(ALPHABET) + "]{" + str(BODY_LENGTH + CHECKSUM_LENGTH) + "}"
)
# Either kind (qgp_ or qgs_): for scrubbing and for telling a bad checksum from garbage.
FAMILY_PATTERN = re.compile(
    "qg[ps]_[" + re.escape(ALPHABET) + "]{" + str(BODY_LENGTH + CHECKSUM_LENGTH) + "}"
)


def base62(number: int, width: int) -> str:
    """`number` in base62 with ALPHABET, left-padded with "0" to `width` characters."""
    if number < 0:
        raise ValueError("base62 takes a non-negative integer")
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    return base62(zlib.crc32(body.encode("ascii")) & 0xFFFFFFFF, CHECKSUM_LENGTH)


def generate(kind: str = "production") -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return KIND_PREFIX[kind] + body + checksum(body)


@dataclass(frozen=True, slots=True)
class ParsedToken:
    token: str

    @property
    def body(self) -> str:
        return self.token[len(PREFIX) : len(PREFIX) + BODY_LENGTH]

    @property
    def display_prefix(self) -> str:
        return display_prefix(self.token)

    @property
    def kind(self) -> str:
        return PREFIXES[self.token[: len(PREFIX)]]


def display_prefix(token: str) -> str:
    """What people see: "qgp_" and the first four body characters. Never more."""
    return token[: len(PREFIX) + DISPLAY_BODY_CHARS]


def parse(candidate: object) -> ParsedToken | None:
    """The token if `candidate` is well-formed (prefix, length, alphabet, checksum), else None."""
    if not isinstance(candidate, str) or len(candidate) != TOKEN_LENGTH:
        return None
    if candidate[: len(PREFIX)] not in PREFIXES:
        return None
    rest = candidate[len(PREFIX) :]
    if not _ALPHABET_SET.issuperset(rest):
        return None
    body, check = rest[:BODY_LENGTH], rest[BODY_LENGTH:]
    if not hmac.compare_digest(checksum(body), check):
        return None
    return ParsedToken(candidate)


def is_well_formed(candidate: object) -> bool:
    return parse(candidate) is not None


def keyed_hash(token: str, key: str | bytes) -> str:
    """HMAC-SHA256 of the token under the server's TOKEN_HASH_KEY, hex. What the database stores."""
    key_bytes = key.encode() if isinstance(key, str) else key
    # hmac.digest: the one-shot C implementation (a tenth of hmac.new's cost, same bytes).
    return hmac.digest(key_bytes, token.encode("ascii"), "sha256").hex()
