"""Reference checker for Quaygate tokens: is a string (or which strings in a text) a real token?

Standard library only; copy it into any scanner. A token is a prefix, 30 base62 characters of
body and a 6-character base62 CRC32 of the body:

    qg[ps]_  [0-9A-Za-z]{30}  [0-9A-Za-z]{6}      40 characters; qgp_ personal, qgs_ sandbox

Usage: python check_token.py TOKEN …  (or text on stdin): prints each real token's prefix.
"""

import re
import sys
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN = re.compile(r"\bqg[ps]_[0-9A-Za-z]{36}\b")


def checksum(body: str) -> str:
    """CRC-32 (zlib's, IEEE 802.3) of the body's ASCII bytes, in base62, 6 digits, zero-padded."""
    number, digits = zlib.crc32(body.encode("ascii")), ""
    for _ in range(6):
        number, digit = divmod(number, 62)
        digits = ALPHABET[digit] + digits
    return digits


def is_quaygate_token(candidate: str) -> bool:
    if not re.fullmatch(r"qg[ps]_[0-9A-Za-z]{36}", candidate):
        return False
    return checksum(candidate[4:34]) == candidate[34:]


def find_tokens(text: str) -> list[str]:
    return [match for match in TOKEN.findall(text) if is_quaygate_token(match)]


if __name__ == "__main__":
    found = [t for arg in sys.argv[1:] for t in find_tokens(arg)] or find_tokens(sys.stdin.read())
    sys.stdout.write("".join(f"{token[:8]}… is a Quaygate token\n" for token in found))
    sys.exit(0 if found else 1)
