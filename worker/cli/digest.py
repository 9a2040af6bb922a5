"""`suture digest`: print a week's digest (Markdown or HTML) and, with `--send`, send it to the
configured channels, each of which gets a week's digest once however many times it is sent."""

from __future__ import annotations

from datetime import UTC, datetime

from worker.app.hosted import make_digest_outlets
from worker.cli.output import echo
from worker.digest.sending import build_digest, send_week
from worker.digest.week import IsoWeek
from worker.ports import SutureError
from worker.settings import ConfigError, Settings
from worker.store import SqlStore

FORMATS = ("markdown", "html")


def run_digest(settings: Settings, week: str | None, fmt: str, send: bool,
               now: datetime | None = None) -> int:
    """Print (and maybe send) the digest of `week` (default: the last whole week); the exit
    status: 0 done, 1 a channel failed, 2 bad input or configuration."""
    if fmt not in FORMATS:
        echo(f"suture: --format must be one of {', '.join(FORMATS)}, not {fmt!r}", err=True)
        return 2
    try:
        chosen = (IsoWeek.parse(week) if week
                  else IsoWeek.containing(now or datetime.now(UTC)).previous())
        outlets = make_digest_outlets(settings) if send else []
    except (ValueError, ConfigError) as exc:
        echo(f"suture: {exc}", err=True)
        return 2
    if send and not outlets:
        echo("suture: no digest channel is configured (digest.channels)", err=True)
        return 2
    store = SqlStore(settings.database_url)
    try:
        store.migrate()
        digest = build_digest(store, settings, chosen)
        echo(digest.markdown if fmt == "markdown" else digest.html, nl=False)
        if not send:
            return 0
        report = send_week(store, settings, outlets, chosen)
    except SutureError as exc:
        echo(f"suture: digest {chosen.label} not sent: {exc}", err=True)
        return 1
    finally:
        for outlet in outlets:
            close = getattr(outlet, "close", None)
            if callable(close):
                close()
        store.close()
    for name, ref in report.sent.items():
        echo(f"sent to {name}: {ref}", err=True)
    for name in report.already:
        echo(f"{name} already had the digest of {chosen.label}", err=True)
    for name, why in report.refused.items():
        echo(f"{name} refused the digest: {why}", err=True)
    return 1 if report.refused else 0
