"""Run the publish stage of one run in a process of its own and die (`os._exit`) when publishing
reaches a named step, as a worker killed there would: no `finally`, no rollback, connections
dropped.

Tests call `publish_killed`: the process is forked from a forkserver that imported suture once,
so each kill costs no interpreter start-up and imports (seconds each on a small machine).
It can also be run by hand: python tests/kill_publish.py SETTINGS_JSON RUN_ID STEP
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path

from worker import stages
from worker.app import build_app
from worker.settings import load_settings
from worker.stages import proposal

KILLED = 137


def publish(settings_file: str, run_id: int, step: str) -> int:
    """Publish until killed at the step; return 0 only if the step was never reached."""
    settings = load_settings(None, **json.loads(Path(settings_file).read_text()))
    app = build_app(settings, migrate=False)
    proposal.step_hook = lambda reached: os._exit(KILLED) if reached == step else None
    stages.publish(app.deps, run_id)
    return 0


def _child(settings_file: str, run_id: int, step: str, log_file: str) -> None:
    # The forkserver's stdout and stderr belong to whichever test started it: this process
    # writes to a log of its own, read back for the failing test's message.
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    publish(settings_file, run_id, step)


def publish_killed(settings_file: Path, run_id: int, step: str,
                   timeout: float) -> tuple[int | None, str]:
    """Publish `run_id` in a process of its own that dies at `step`; its exit code (None if it
    was still running after `timeout` seconds, then killed) and its output."""
    context = multiprocessing.get_context("forkserver")
    # Takes effect when this test session first starts the forkserver.
    context.set_forkserver_preload(["tests.kill_publish"])
    log = settings_file.with_suffix(".log")
    proc = context.Process(target=_child, args=(str(settings_file), run_id, step, str(log)),
                           name=f"publish-killed-at-{step}")
    proc.start()
    proc.join(timeout)
    code = proc.exitcode
    if code is None:
        proc.kill()
        proc.join()
    output = log.read_text(errors="replace") if log.exists() else ""
    return code, output


def main() -> int:
    """Command line: publish until killed at the step; exit 0 only if it was never reached."""
    settings_file, run_id, step = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    return publish(settings_file, run_id, step)


if __name__ == "__main__":
    sys.exit(main())
