"""One ecosystem's share of a setup plan, and the Node and Go shares (Python has its own
module): which dependency files a repository has at its root and the commands that install
them, preferring the tools the machine has.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

ReadText = Callable[[str], str | None]

NODE_LOCKS = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")
# Files that change what a Node install does besides the manifest and its lock.
NODE_EXTRAS = (".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml")


@dataclass
class Part:
    """What one ecosystem adds to a plan."""

    commands: list[str]
    files: list[str]
    sentence: str  # "detected from X and Y: what runs"
    keep: list[str] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict)
    go_mod_mod: bool = False


def names(paths: Collection[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(paths)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def node_part(root: set[str], tools: Collection[str]) -> Part | None:
    """`npm ci` (or pnpm, yarn) for a root package.json; None without one."""
    if "package.json" not in root:
        return None
    lock = next((name for name in NODE_LOCKS if name in root), None)
    files = ["package.json", *([lock] if lock else []),
             *(name for name in NODE_EXTRAS if name in root)]
    note = ""
    if lock in ("package-lock.json", "npm-shrinkwrap.json"):
        command = "npm ci"
    elif lock == "pnpm-lock.yaml":
        command, note = _managed("pnpm", "pnpm install --frozen-lockfile", tools)
    elif lock == "yarn.lock":
        # Yarn 2+ (a .yarnrc.yml) takes --immutable; the setup asks it for node_modules.
        berry = ".yarnrc.yml" in root
        command, note = _managed("yarn", "yarn install --immutable" if berry
                                 else "yarn install --frozen-lockfile --non-interactive", tools)
    else:
        command, note = "npm install", " (no lock file: versions are resolved afresh)"
    return Part(commands=[command], files=files, keep=["node_modules"],
                sentence=f"detected from {names(files[:2])}: {command}{note}")


def _managed(tool: str, command: str, tools: Collection[str]) -> tuple[str, str]:
    """`command` as is when `tool` is installed, else through corepack (shipped with Node)."""
    if tool in tools or "corepack" not in tools:
        return command, ""
    return f"corepack {command}", f" ({tool} is not installed; corepack fetches it)"


def go_part(root: set[str]) -> Part | None:
    """`go mod download` into the cache for a root go.mod; None without one."""
    if "go.mod" not in root:
        return None
    files = ["go.mod", *(["go.sum"] if "go.sum" in root else [])]
    note = "" if "go.sum" in root else " (no go.sum: runs resolve sums from the cache)"
    return Part(commands=["go mod download"], files=files, go_mod_mod="go.sum" not in root,
                sentence=f"detected from {names(files)}: go mod download{note}")
