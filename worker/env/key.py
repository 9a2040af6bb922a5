"""The cache key of a repository environment: what the environment is a function of.

It covers the commands, the contents of the dependency files the plan names (so a changed lock
gives a new environment and a changed README does not), what else the plan builds (a virtualenv,
kept folders, generated files), the runtime it is built with (Python version and platform, the
tool versions), and `ENGINE_VERSION`, so a change to how environments are built invalidates them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from worker.env.models import ENGINE_VERSION, SetupPlan


def environment_key(plan: SetupPlan, contents: Mapping[str, str | None],
                    runtime: Mapping[str, str]) -> str:
    """sha256 (hex) over the plan, its files' `contents` (None: absent) and `runtime`."""
    files = {name: _digest(contents.get(name)) for name in sorted(plan.files)}
    material = {
        "engine": ENGINE_VERSION,
        "commands": plan.commands,
        "files": files,
        "python": plan.python, "node": plan.node, "go": plan.go, "go_mod_mod": plan.go_mod_mod,
        "keep": sorted(plan.keep),
        "generated": {name: _digest(text) for name, text in sorted(plan.generated.items())},
        "runtime": dict(sorted(runtime.items())),
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _digest(text: str | None) -> str:
    return "absent" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
