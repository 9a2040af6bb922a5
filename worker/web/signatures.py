"""Webhook authentication: pure checks over raw bytes and headers, each returning a reason.

Sentry signs the exact bytes it sends (compact JSON) with HMAC-SHA256 and the integration's client
secret; re-serialising the JSON before checking would break real deliveries. The timestamp header
is not signed, so staleness is a separate check. Datadog monitor webhooks are unsigned; they carry
a shared secret in a custom header. Every comparison is constant-time and made over bytes, so a
header with non-ASCII characters is a mismatch rather than an error.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime

from worker.models import Decision


def sentry_signature(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 Sentry puts in `Sentry-Hook-Signature`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_sentry(body: bytes, signature: str | None, secret: str, timestamp: str | None,
                  now: datetime, max_age_seconds: int) -> Decision:
    """Accept only a correctly signed, recent delivery."""
    if not signature:
        return Decision(allowed=False, reason="missing Sentry-Hook-Signature header")
    expected = sentry_signature(body, secret).encode("ascii")
    if not hmac.compare_digest(expected, _bytes(signature.strip().lower())):
        return Decision(allowed=False, reason="bad signature")
    if timestamp is None:
        return Decision(allowed=False, reason="missing Sentry-Hook-Timestamp header")
    try:
        sent = float(timestamp)
    except ValueError:
        sent = math.nan
    # "nan" parses as a float, and every comparison with it is false: it would pass the age check.
    if not math.isfinite(sent):
        return Decision(allowed=False, reason="Sentry-Hook-Timestamp is not a number")
    age = now.timestamp() - sent
    if age > max_age_seconds:
        return Decision(allowed=False, reason=f"stale timestamp: {int(age)} s old, the limit is "
                                              f"{max_age_seconds} s")
    if -age > max_age_seconds:
        return Decision(allowed=False, reason=f"timestamp {int(-age)} s in the future, the limit "
                                              f"is {max_age_seconds} s")
    return Decision(allowed=True, reason="signature and timestamp valid")


def verify_secret_header(value: str | None, secret: str) -> Decision:
    """Accept only a request carrying the shared secret."""
    if not value:
        return Decision(allowed=False, reason="missing secret header")
    if not hmac.compare_digest(_bytes(value), _bytes(secret)):
        return Decision(allowed=False, reason="wrong secret")
    return Decision(allowed=True, reason="secret valid")


def _bytes(text: str) -> bytes:
    """`text` as bytes, for any str: "surrogatepass" keeps distinct strings distinct."""
    return text.encode("utf-8", "surrogatepass")
