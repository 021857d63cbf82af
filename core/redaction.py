"""Our secrets, recognised by shape wherever text leaves us (emails, logs, stored query strings).

Every Quaygate secret is "qg" + a kind letter + "_" + base62 (tokens.format makes `qgp_`
tokens). SECRET_LIKE matches that family with 20 or more body characters: looser than the
token parser on purpose, so a truncated token, a mistyped one, or a kind added later is still
caught. A display prefix ("qgp_AbC1", 4 characters) is not a secret and passes.
"""

import re

SECRET_LIKE = re.compile(r"qg[a-z]_[0-9A-Za-z]{20,}")
REDACTED = "qgp_[redacted]"


def contains_secret(text: str) -> bool:
    return SECRET_LIKE.search(text) is not None


def redact_secrets(text: str) -> str:
    return SECRET_LIKE.sub(REDACTED, text)
