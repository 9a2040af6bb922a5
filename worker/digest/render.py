"""The digest as Markdown, HTML and plain text, from the Jinja2 templates in
`playbooks/templates` (`digest.md.j2`, `digest.html.j2`, `digest.txt.j2`).

The HTML template is autoescaped and the Markdown one passes every untrusted value through the
`md` filter; the ledger's texts were scrubbed when it was made. Rendering is strict: a template
naming a field the ledger lacks fails instead of printing nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from worker.digest import svg
from worker.digest.models import Digest, WeekLedger
from worker.egress import Channel, outbound
from worker.render import autolink, escape_markdown, inline_code

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def duration(seconds: float) -> str:
    """A duration as people say it: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(rate: float | None) -> str:
    """`67 %`, or `n/a` when there was nothing to divide by."""
    return "n/a" if rate is None else f"{round(rate * 100)} %"


def usd(amount: float | None) -> str:
    """`$1.23`, or `n/a`."""
    return "n/a" if amount is None else f"${amount:,.2f}"


def number(value: float) -> str:
    """A count or a median: whole numbers without a fraction."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def plural(count: int, noun: str) -> str:
    """`1 event`, `2 events`."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class DigestRenderer:
    """Renders a `WeekLedger` with the digest templates of a playbooks folder."""

    def __init__(self, playbooks_dir: Path) -> None:
        loader = FileSystemLoader(str(playbooks_dir / "templates"))
        self._markdown = self._environment(loader, autoescape=False)
        self._html = self._environment(loader, autoescape=True)

    @staticmethod
    def _environment(loader: FileSystemLoader, *, autoescape: bool) -> Environment:
        env = Environment(loader=loader, undefined=StrictUndefined, autoescape=autoescape,
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(md=escape_markdown, code=inline_code, link=autolink,
                           duration=duration, percent=percent, usd=usd, number=number,
                           plural=plural)
        return env

    def render(self, ledger: WeekLedger) -> Digest:
        """The digest of `ledger` in Markdown, HTML and plain text."""
        context = {"ledger": ledger, "period": period(ledger), "charts": charts(ledger)}

        def rendered(environment: Environment, name: str) -> str:
            # Whatever outlet it goes to (an issue, a chat, a mail), the digest leaves here.
            return outbound(environment.get_template(name).render(**context), Channel.DIGEST)

        return Digest(
            week=ledger.week, title=f"suture weekly digest {ledger.week}",
            markdown=rendered(self._markdown, "digest.md.j2"),
            html=rendered(self._html, "digest.html.j2"),
            text=rendered(self._markdown, "digest.txt.j2"),
            quiet=ledger.quiet)


def period(ledger: WeekLedger) -> str:
    """`Mon 23 Nov – Sun 29 Nov 2026 (UTC)`."""
    last = ledger.end - timedelta(days=1)
    return (f"{ledger.start:%a} {ledger.start.day} {ledger.start:%b} – "
            f"{last:%a} {last.day} {last:%b %Y} (UTC)")


def charts(ledger: WeekLedger) -> dict[str, str]:
    """The HTML digest's SVG charts, by name."""
    outcomes = [("attempted", ledger.attempted), ("skipped", ledger.skipped_runs),
                ("pull requests", ledger.pull_requests), ("tickets", ledger.tickets),
                ("merged", ledger.merged), ("closed", ledger.closed),
                ("stale", ledger.stale), ("held", ledger.held), ("recurred", ledger.recurred)]
    return {
        "events": svg.column_chart(f"Events per day, {ledger.week}", DAYS, ledger.events_by_day),
        "outcomes": svg.bar_chart(f"Runs by outcome, {ledger.week}", outcomes),
    }
