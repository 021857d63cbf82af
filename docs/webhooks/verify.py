# Verify a Quaygate webhook delivery (Python 3, standard library only).
# `body` is the raw request body (bytes, exactly as received); `header` is the
# Quaygate-Signature header; `secret` is the endpoint's signing secret (whsec_...).
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300  # reject deliveries signed more than 5 minutes away from now


def verify_quaygate_signature(body: bytes, header: str, secret: str) -> bool:
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)  # two during a secret rotation: either may match
    if timestamp is None or abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
