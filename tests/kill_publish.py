"""Run the publish stage of one run in this process and die (`os._exit`) when publishing reaches
a named step, as a worker killed there would: no `finally`, no rollback, connections dropped.

Usage: python tests/kill_publish.py SETTINGS_JSON RUN_ID STEP
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from worker import stages
from worker.app import build_app
from worker.settings import load_settings
from worker.stages import proposal

KILLED = 137


def main() -> int:
    """Publish until killed at the step; exit 0 only if the step was never reached."""
    settings_file, run_id, step = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    settings = load_settings(None, **json.loads(Path(settings_file).read_text()))
    app = build_app(settings, migrate=False)
    proposal.step_hook = lambda reached: os._exit(KILLED) if reached == step else None
    stages.publish(app.deps, run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
