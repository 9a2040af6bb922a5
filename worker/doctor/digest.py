"""The weekly digest's check: every channel `digest.channels` names has what it needs."""

from __future__ import annotations

from worker.doctor.model import Check, Status
from worker.settings import Settings

_FIXES = {
    "slack": "set SUTURE_NOTIFY__SLACK_WEBHOOK_URL, or SUTURE_NOTIFY__SLACK_BOT_TOKEN and "
             "SUTURE_NOTIFY__SLACK_CHANNEL",
    "email": "set SUTURE_NOTIFY__SMTP_HOST, SUTURE_NOTIFY__SMTP_FROM and "
             "SUTURE_NOTIFY__SMTP_TO",
    "github": "set SUTURE_GITHUB__TOKEN (github.token) to a token that may open issues in "
              "digest.github_repo",
}


def check_digest(settings: Settings) -> Check:
    """Each digest channel is configured: Slack and email in `notify`, GitHub's token."""
    channels = settings.digest.channels
    if not channels:
        return Check("digest", Status.OK, "no channel: the weekly digest is not sent "
                                          "(`suture digest` prints it)")
    configured = settings.notify.channels
    have = {"slack": any(name.startswith("slack") for name in configured),
            "email": "email" in configured, "github": settings.github.token is not None}
    missing = [channel for channel in channels if not have[channel]]
    if missing:
        return Check("digest", Status.ERROR,
                     f"digest.channels names {', '.join(missing)}, which "
                     f"{'is' if len(missing) == 1 else 'are'} not configured",
                     "; ".join(_FIXES[channel] for channel in missing))
    where = ", ".join(f"github ({settings.digest.github_repo})" if c == "github" else c
                      for c in channels)
    return Check("digest", Status.OK, f"last week's digest goes to {where} on Mondays")
