"""`suture doctor`, and the checks `run`, `web`, `worker` and `scheduler` make before they start.

`doctor` prints every check (`ok`, `warn`, `FAIL`) with its fix and exits 1 when one failed; an
invalid configuration is its first failed check. A command that starts the service runs the
checks it needs (`worker.doctor.plan`): warnings are logged, and a failed check stops it with the
failures and their fixes on stderr and exit code 2, before anything is started.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path

import typer

from worker.cli.output import echo, echo_json
from worker.doctor import ALL, Check, Status, needs, remote_timeout, run_checks
from worker.settings import ConfigError, Settings, load_settings

log = logging.getLogger("suture.doctor")

LABELS = {Status.OK: "ok", Status.WARNING: "warn", Status.ERROR: "FAIL"}
CANNOT_START = 2


def format_checks(checks: Sequence[Check]) -> str:
    """The checks as aligned lines, readable without colour; a fix line under each that is not
    ok."""
    width = max((len(check.name) for check in checks), default=0)
    lines = []
    for check in checks:
        found = check.found.replace("\n", "\n" + " " * (width + 8))
        lines.append(f"{LABELS[check.status]:<5} {check.name:<{width}}  {found}")
        if check.fix and check.status is not Status.OK:
            lines.append(f"{'':<5} {'':<{width}}  fix: {check.fix}")
    return "\n".join(lines)


def summary(checks: Sequence[Check]) -> str:
    """`N checks: a ok, b warnings, c failed`."""
    counts = {status: sum(check.status is status for check in checks) for status in Status}
    return (f"{len(checks)} checks: {counts[Status.OK]} ok, {counts[Status.WARNING]} "
            f"warning(s), {counts[Status.ERROR]} failed")


def doctor_cli(config: Path | None, as_json: bool) -> int:
    """Run every check and print them; 0 when none failed, else 1."""
    from worker.app.local import doctor_probes

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        checks = [Check("configuration", Status.ERROR, str(exc),
                        "correct the keys named, in the config file or the SUTURE_* variables")]
    else:
        checks = run_checks(settings, doctor_probes(), ALL, remote_timeout("doctor"))
    failed = any(check.failed for check in checks)
    if as_json:
        echo_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        echo(format_checks(checks))
        echo(summary(checks))
    return 1 if failed else 0


def preflight(settings: Settings, command: str, queues: Collection[str] | None = None) -> None:
    """Run the checks `command` needs; log warnings, and on a failure print the failed checks
    with their fixes and exit `CANNOT_START` (typer.Exit)."""
    from worker.app.local import doctor_probes

    checks = run_checks(settings, doctor_probes(), needs(command, queues),
                        remote_timeout(command))
    for check in checks:
        if check.status is Status.WARNING:
            log.warning("start-up check %s: %s (fix: %s)", check.name, check.found, check.fix)
    failed = [check for check in checks if check.failed]
    if failed:
        echo(f"suture: `suture {command}` cannot start: {len(failed)} check(s) failed\n"
             f"{format_checks(failed)}\n"
             "(`suture doctor` checks the whole setup)", err=True)
        raise typer.Exit(CANNOT_START)
