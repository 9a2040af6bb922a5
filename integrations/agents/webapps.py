"""Where a crashed request's web application is defined, so a regression test can replay it.

A module-level WSGI or ASGI application (`app = Flask(...)`, `app = FastAPI()`, a function
`app(environ, start_response)`...) or a factory that builds one and can be called without
arguments (`def create_app(config=Default): ... return Flask(__name__)`). The crash's own
in-app call chain is searched first, outermost frame first. A route in a router or blueprint
module usually has no application in its call chain (the framework's frames are not in-app), so
next come the usual places near the crash: the crashing file's package and each package above
it up to the repository's root, looking at `__init__.py`, `main.py`, `app.py` and their kin.

Only the repository's own files are read, and only parsed (`ast`), never imported: what the test
imports is decided here, from names the repository defines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from integrations.agents.crash_site import frame_path, module_name
from worker.models import ErrorEvent

APP_NAMES = ("app", "application")
FACTORY_NAMES = ("create_app", "make_app", "build_app", "get_app", "app_factory")
# Where projects define their application, in the order they are looked at in each folder.
NEARBY_FILES = ("__init__.py", "main.py", "app.py", "application.py", "asgi.py", "wsgi.py",
                "server.py", "web.py", "api.py")
_WSGI_FACTORIES = {"Flask", "Bottle", "get_wsgi_application", "WSGIHandler"}
_ASGI_FACTORIES = {"FastAPI", "Starlette", "Quart", "Litestar", "get_asgi_application"}


@dataclass(frozen=True)
class WebApp:
    """A web application the test can import: `module.name`, called first when a factory."""

    module: str
    name: str
    kind: str  # "wsgi" or "asgi"
    factory: bool = False

    def imports(self) -> str:
        """The test's lines that leave the application in a variable named `app`."""
        if self.factory:
            return f"from {self.module} import {self.name}\n\napp = {self.name}()"
        alias = "" if self.name == "app" else " as app"
        return f"from {self.module} import {self.name}{alias}"


def find_app(event: ErrorEvent, worktree: Path) -> WebApp | None:
    """The crash's web application: in its in-app call chain, else near the crashing file."""
    paths = [path for frame in event.frames if frame.in_app
             if (path := frame_path(frame, worktree)) is not None]
    looked: set[str] = set()
    for path in paths:
        found = _defined_in(worktree, path)
        looked.add(path)
        if found:
            return found
    for path in _nearby(worktree, paths[-1]) if paths else []:
        if path not in looked:
            looked.add(path)
            if found := _defined_in(worktree, path):
                return found
    return None


def _nearby(worktree: Path, crashed: str) -> list[str]:
    """The usual application files in the crashing file's folder and each folder above it."""
    folders = list(PurePosixPath(crashed).parents)  # innermost first, ending with "."
    return [(folder / name).as_posix() for folder in folders for name in NEARBY_FILES
            if (worktree / folder / name).is_file()]


def _defined_in(worktree: Path, path: str) -> WebApp | None:
    """The application module `path` defines: an application before a factory."""
    module = module_name(path) if path.endswith(".py") else None
    if module is None:
        return None
    try:
        tree = ast.parse((worktree / path).read_bytes())
    except (SyntaxError, ValueError):
        return None
    apps = [found for node in tree.body if (found := _app_kind(node))]
    factories = [found for node in tree.body if (found := _factory_kind(node))]
    for name, kind in apps:
        return WebApp(module, name, kind)
    for name, kind in factories:
        return WebApp(module, name, kind, factory=True)
    return None


def _app_kind(node: ast.stmt) -> tuple[str, str] | None:
    """(name, kind) when `node` defines a module-level web application."""
    if isinstance(node, ast.FunctionDef) and node.name in APP_NAMES and len(node.args.args) == 2:
        return node.name, "wsgi"
    if (isinstance(node, ast.AsyncFunctionDef) and node.name in APP_NAMES
            and len(node.args.args) == 3):
        return node.name, "asgi"
    if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in APP_NAMES):
        kind = _call_kind(node.value)
        return (node.targets[0].id, kind) if kind else None
    return None


def _factory_kind(node: ast.stmt) -> tuple[str, str] | None:
    """(name, kind) when `node` is a factory callable without arguments that builds an
    application with a known framework's constructor."""
    if not isinstance(node, ast.FunctionDef) or node.name not in FACTORY_NAMES:
        return None
    args = node.args
    if (len(args.defaults) < len(args.posonlyargs) + len(args.args)
            or any(default is None for default in args.kw_defaults)):
        return None
    kinds = {kind for call in ast.walk(node) if isinstance(call, ast.Call)
             if (kind := _call_kind(call))}
    return (node.name, kinds.pop()) if len(kinds) == 1 else None


def _call_kind(call: ast.Call) -> str | None:
    func = call.func
    factory = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if factory in _WSGI_FACTORIES:
        return "wsgi"
    if factory in _ASGI_FACTORIES:
        return "asgi"
    return None
