"""Code-host webhook authentication: pure checks over raw bytes and headers, each with a reason.

GitHub signs the exact bytes it sends: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret,
body)>`; the older SHA-1 `X-Hub-Signature` is not accepted. GitLab signs nothing: it sends the
hook's secret token as is in `X-Gitlab-Token`. Both accept more than one secret, so a secret can
be rotated without refusing deliveries signed with the one being replaced. Comparisons are
constant-time and over bytes, so a header with odd characters is a mismatch, not an error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from worker.models import Decision
from worker.web.signatures import verify_secret_header

_PREFIX = "sha256="


def github_signature(body: bytes, secret: str) -> str:
    """The value GitHub puts in `X-Hub-Signature-256` for `body`."""
    return _PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_github(body: bytes, signature: str | None, secrets: Sequence[str]) -> Decision:
    """Accept only a delivery signed with one of `secrets`."""
    if not signature:
        return Decision(allowed=False, reason="missing X-Hub-Signature-256 header (the SHA-1 "
                                              "X-Hub-Signature is not accepted)")
    given = signature.strip()
    if not given.lower().startswith(_PREFIX):
        return Decision(allowed=False, reason="X-Hub-Signature-256 must read sha256=<hex>")
    given_bytes = given.lower().encode("utf-8", "surrogatepass")
    for secret in secrets:
        if hmac.compare_digest(github_signature(body, secret).encode("ascii"), given_bytes):
            return Decision(allowed=True, reason="signature valid")
    return Decision(allowed=False, reason="bad signature")


def verify_gitlab(token: str | None, secrets: Sequence[str]) -> Decision:
    """Accept only a delivery carrying one of `secrets` in `X-Gitlab-Token`."""
    if not token:
        return Decision(allowed=False, reason="missing X-Gitlab-Token header")
    if any(verify_secret_header(token, secret).allowed for secret in secrets):
        return Decision(allowed=True, reason="token valid")
    return Decision(allowed=False, reason="wrong X-Gitlab-Token")
