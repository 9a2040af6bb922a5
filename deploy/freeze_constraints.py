"""Write `deploy/constraints.txt`: the installed versions of suture's runtime dependencies.

Run it in an environment where suture is installed and its tests pass
(`python deploy/freeze_constraints.py > deploy/constraints.txt`). It walks the requirements of
the installed `suture` distribution (no dev extras) and of each dependency in turn, with the
extras asked for and the environment markers of this interpreter, and prints `name==version` for
every distribution reached: `pip freeze` limited to what the image needs, so test tools and
whatever else this environment holds are left out. Needs `packaging` (pip's own dependency).
"""

from __future__ import annotations

import sys
from importlib.metadata import Distribution, PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Versions the Docker image installs (`pip install -c deploy/constraints.txt .`): suture's runtime
# dependencies and theirs, as installed where the test suite last passed.
# Regenerate with `python deploy/freeze_constraints.py > deploy/constraints.txt`.
"""


def runtime_closure(root: str) -> dict[str, Distribution]:
    """Every installed distribution `root` needs at run time, by canonical name (root excluded)."""
    found: dict[str, tuple[Distribution, frozenset[str]]] = {}
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        known = found.get(key)
        if known is not None and extras <= known[1]:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            sys.exit(f"{name} is required but not installed: install suture first")
        extras = extras | (known[1] if known else frozenset())
        found[key] = (dist, extras)
        # A requirement applies if its marker holds for no extra or for one of those asked for.
        environments = [{"extra": ""}, *({"extra": extra} for extra in extras)]
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or any(requirement.marker.evaluate(env)
                                                 for env in environments):
                pending.append((requirement.name, frozenset(requirement.extras)))
    found.pop(canonicalize_name(root), None)
    return {key: dist for key, (dist, _extras) in found.items()}


def main() -> None:
    """Print the constraints file for the installed `suture`."""
    lines = [f"{dist.metadata['Name']}=={dist.version}"
             for _key, dist in sorted(runtime_closure("suture").items())]
    sys.stdout.write(HEADER + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
