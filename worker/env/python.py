"""The Python share of a setup plan: a repository's lock, requirements files and pyproject.toml
read into the commands that install them into the environment's virtualenv.

uv and poetry are used when the machine has them; without them a lock's exact versions become a
pip constraints file, so pip installs what the project declares at the versions it locked.
Test-ish extras (`test`, `tests`, `testing`, `dev`) and PEP 735 dependency groups (`test`,
`tests`, `testing`, `dev`) are installed too: an environment exists to run the tests.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Collection
from typing import Any

from worker.env.ecosystems import Part, ReadText, names
from worker.env.models import ENV_DIR

REQUIREMENTS = re.compile(r"^(?:[\w.-]*[-_.])?requirements(?:[-_.][\w.-]*)?\.txt$", re.I)
TESTISH = frozenset({"test", "tests", "testing", "dev"})
CONSTRAINTS = "setup/constraints.txt"  # under ENV_DIR
PIP = "python -m pip install"


def normalise(name: str) -> str:
    """A distribution, extra or group name as PEP 503/685/735 compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_part(root: set[str], read: ReadText, tools: Collection[str]) -> Part | None:
    """The commands for a Python repository (its files are `root`), or None if it is not one."""
    requirements = sorted(p for p in root if REQUIREMENTS.match(p) and "doc" not in p.lower())
    pyproject = _toml(read("pyproject.toml")) if "pyproject.toml" in root else None
    broken = pyproject == {} and bool((read("pyproject.toml") or "").strip())
    locks = [name for name in ("uv.lock", "poetry.lock") if name in root]
    has_setup = bool(root & {"setup.py", "setup.cfg"})
    if not (requirements or pyproject is not None or has_setup or locks):
        return None
    project = Project(pyproject or {}, has_setup)
    if "uv.lock" in locks:
        part = _uv(project, read("uv.lock") or "", tools)
    elif "poetry.lock" in locks:
        part = _poetry(project, read("poetry.lock") or "", tools)
    else:
        part = _pip(project, requirements)
    part.files = [*part.files, *(["pyproject.toml"] if "pyproject.toml" in root else []),
                  *(name for name in ("setup.py", "setup.cfg") if name in root)]
    part.files = list(dict.fromkeys(part.files))
    if not any("pytest" in (read(name) or "").lower() for name in part.files):
        # suture's default test command is pytest: an environment without it cannot run it.
        part.commands.append(f"{PIP} pytest")
        part.sentence += "; pytest added, since no dependency file names it"
    if broken:
        part.sentence += "; pyproject.toml is not valid TOML and was ignored"
    return part


class Project:
    """What pyproject.toml (and setup.py) say about installing the project itself."""

    def __init__(self, data: dict[str, Any], has_setup: bool) -> None:
        self.data = data
        self.pep621 = isinstance(data.get("project"), dict)
        poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) \
            else {}
        self.poetry: dict[str, Any] = poetry if isinstance(poetry, dict) else {}
        packaged = self.poetry.get("package-mode", True) is not False
        self.installable = has_setup or self.pep621 or (
            "build-system" in data and packaged) or bool(self.poetry and packaged)

    def extras(self) -> list[str]:
        """The test-ish extras the project declares, as spelled there."""
        project = self.data.get("project", {}) if self.pep621 else {}
        declared = {**(self.poetry.get("extras") or {}),
                    **(project.get("optional-dependencies") or {})}
        return sorted(name for name in declared if normalise(name) in TESTISH)

    def groups(self) -> list[str]:
        """The test-ish PEP 735 dependency groups, as spelled in the file."""
        groups = self.data.get("dependency-groups") or {}
        return sorted(name for name in groups if normalise(name) in TESTISH)

    def group_requirements(self) -> list[str]:
        """Every requirement of the test-ish groups, includes expanded."""
        groups = {normalise(k): v for k, v in (self.data.get("dependency-groups") or {}).items()}
        found: list[str] = []

        def expand(name: str, seen: frozenset[str]) -> None:
            for item in groups.get(name, []) if name not in seen else []:
                if isinstance(item, str):
                    found.append(item)
                elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                    expand(normalise(item["include-group"]), seen | {name})

        for group in self.groups():
            expand(normalise(group), frozenset())
        return list(dict.fromkeys(found))

    def poetry_names(self) -> list[str]:
        """Names poetry would install besides the project (its groups; and its dependencies
        when the project itself is not installed), for pip to take at the locked versions."""
        tables = [self.poetry.get("dev-dependencies") or {}]
        for name, group in (self.poetry.get("group") or {}).items():
            if isinstance(group, dict) and (not group.get("optional") or
                                            normalise(name) in TESTISH):
                tables.append(group.get("dependencies") or {})
        if not self.installable:
            tables.append(self.poetry.get("dependencies") or {})
        wanted = [name for table in tables for name, spec in table.items()
                  if name.lower() != "python" and not _local(spec)]
        return list(dict.fromkeys(wanted))


def _local(spec: object) -> bool:
    return isinstance(spec, dict) and bool({"path", "git", "url"} & set(spec))


def _uv(project: Project, lock: str, tools: Collection[str]) -> Part:
    if "uv" in tools:
        flags = [*(f"--extra {shlex.quote(e)}" for e in project.extras()),
                 *(f"--group {shlex.quote(g)}" for g in project.groups())]
        command = " ".join(["uv sync --frozen", *flags])
        return Part([command], ["uv.lock"], f"detected from uv.lock: {command}")
    part = _pinned(project, _pins(lock, "registry"), [])
    part.files.insert(0, "uv.lock")
    part.sentence = ("detected from uv.lock, but uv is not installed: pip installs the "
                     "project's dependencies at the lock's versions")
    return part


def _poetry(project: Project, lock: str, tools: Collection[str]) -> Part:
    if "poetry" in tools:
        optional = [name for name, group in (project.poetry.get("group") or {}).items()
                    if isinstance(group, dict) and group.get("optional")
                    and normalise(name) in TESTISH]
        flags = [*(f"--with {shlex.quote(g)}" for g in optional),
                 *([f"--extras {shlex.quote(' '.join(project.extras()))}"]
                   if project.extras() else [])]
        command = " ".join(["poetry install --no-interaction", *flags])
        return Part([command], ["poetry.lock"], f"detected from poetry.lock: {command}")
    part = _pinned(project, _pins(lock, None), project.poetry_names())
    part.files.insert(0, "poetry.lock")
    part.sentence = ("detected from poetry.lock, but poetry is not installed: pip installs the "
                     "project's dependencies at the lock's versions")
    return part


def _pinned(project: Project, pins: list[str], names_: list[str]) -> Part:
    """pip with a lock's pins as constraints: the project, its groups and `names_`."""
    generated = {CONSTRAINTS: "".join(f"{pin}\n" for pin in pins)} if pins else {}
    constraint = [f"-c {ENV_DIR}/{CONSTRAINTS}"] if pins else []
    wanted = [*_self(project), *project.group_requirements(), *names_]
    commands = [" ".join([PIP, *constraint, *(shlex.quote(w) for w in wanted)])] if wanted \
        else []
    return Part(commands, [], "", generated=generated)


def _pip(project: Project, requirements: list[str]) -> Part:
    commands = []
    if requirements:
        commands.append(" ".join([PIP, *(f"-r {shlex.quote(r)}" for r in requirements)]))
    wanted = [*_self(project), *project.group_requirements()]
    if wanted:
        commands.append(" ".join([PIP, *(shlex.quote(w) for w in wanted)]))
    sources = list(requirements)
    if project.data:
        sources.append("pyproject.toml")
    elif project.installable:
        sources.append("setup.py")
    what = "pip into a virtualenv" if commands else "nothing to install"
    return Part(commands, list(requirements), f"detected from {names(sources)}: {what}")


def _self(project: Project) -> list[str]:
    """The project itself, editable, with its test-ish extras (nothing if not installable)."""
    if not project.installable:
        return []
    extras = project.extras()
    return ["-e", f".[{','.join(extras)}]" if extras else "."]


def _pins(lock: str, source_key: str | None) -> list[str]:
    """`name==version` for every package a lock takes from an index. A name locked at several
    versions (uv forks by platform) is left out: one constraint cannot say that."""
    data = _toml(lock) or {}
    versions: dict[str, set[str]] = {}
    for package in data.get("package") or []:
        name, version = package.get("name"), package.get("version")
        source = package.get("source") or {}
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        from_index = (source_key in source) if source_key else (
            not source or source.get("type") == "legacy")
        if from_index:
            versions.setdefault(normalise(name), set()).add(version)
    return [f"{name}=={next(iter(found))}" for name, found in sorted(versions.items())
            if len(found) == 1]


def _toml(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
