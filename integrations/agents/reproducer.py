"""The reproduction test a fix template leaves in the repository: a pytest module that fails
while the crash is there and passes once it is fixed.

Frame variables are not available, so the input that crashed is rebuilt from what the event does
carry. The best offline strategy, when the event has request data and the repository defines
the WSGI or ASGI application it reached (`webapps.find_app`: in the call chain, else near the
crashing file; an `app`, or a factory such as `create_app()`), is to replay the failing request
against it and require a response below 500 without an exception. Otherwise, when the crashing
function is a module-level function and its caller's line passes only literals (or it takes no
arguments), the test calls it with those. Anything else gets no test: the caller is told why.

Event data is attacker-controlled: it reaches the test only as Python literals written with
`repr`, or as text reduced to a safe alphabet inside the docstring; module and function names come
from the repository's own files, never from the event. It is also personal: the request is taken
from the scrubbed event, with named placeholders where values were removed (`request_data`).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from integrations.agents.crash_site import CrashSite, frame_path, module_name
from integrations.agents.request_data import placeholder_note, replay_data
from integrations.agents.webapps import find_app
from worker.models import ErrorEvent, Frame
from worker.scrub import scrub_text

_HEADERS = {"content-type", "accept", "accept-language"}  # others may carry credentials

_WSGI = '''"""Replays {request} against the WSGI app.

{title}
"""

import sys
from io import BytesIO

{imports}


def {test}():
    environ = {{
{environ}
    }}
    statuses = []
    chunks = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(chunks)
    assert statuses and int(statuses[0].split()[0]) < 500, statuses
'''

_ASGI = '''"""Replays {request} against the ASGI app.

{title}
"""

import asyncio

{imports}


def {test}():
    scope = {{
{scope}
    }}
    sent = []

    async def receive():
        return {{"type": "http.request", "body": {body}, "more_body": False}}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses and statuses[0] < 500, statuses
'''

_CALL = '''"""Calls {function} as its caller did when it crashed.

{title}
"""

from {module} import {function}


def {test}():
    {function}({arguments})
'''


@dataclass(frozen=True)
class Reproduction:
    """A written regression test: its repository-relative path, how it reproduces the crash,
    and the command that runs it alone."""

    path: str
    strategy: str
    argv: list[str]


class NoReproduction(Exception):
    """No honest reproduction can be built from this event; the message says why."""


def write_regression_test(event: ErrorEvent, worktree: Path, site: CrashSite,
                          error_type: str) -> Reproduction:
    """Write the reproduction test for `event` into the worktree's tests folder."""
    value = scrub_text(event.primary.value) if event.primary else ""
    title = _plain(f"It crashed with {error_type}: {value}")
    found = _replay_test(event, worktree, title) or _direct_call_test(event, worktree, site,
                                                                      title)
    if found is None:
        raise NoReproduction("the event has no replayable request (or the repository defines "
                             "no WSGI/ASGI application where it was looked for) and the "
                             "crashing function cannot be called with known arguments")
    strategy, code = found
    path = _test_path(worktree, f"{_snake(error_type)}_{site.function or 'crash'}")
    root = worktree.resolve()
    if not (root / path).parent.resolve().is_relative_to(root):
        raise NoReproduction(f"{path.rsplit('/', 1)[0]} leads out of the repository")
    (worktree / path).parent.mkdir(parents=True, exist_ok=True)
    (worktree / path).write_text(code, encoding="utf-8")
    return Reproduction(path=path, strategy=strategy,
                        argv=["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", path])


def _replay_test(event: ErrorEvent, worktree: Path, title: str) -> tuple[str, str] | None:
    data = replay_data(event)
    request = data.request
    if request is None or not request.url:
        return None
    app = find_app(event, worktree)
    if app is None:
        return None
    note = placeholder_note(data)
    title = f"{title}\n\n{_plain(note)}" if note else title
    url = urlsplit(request.url)
    method = (request.method or "GET").upper()
    path = url.path or "/"
    query = request.query if request.query is not None else url.query
    body = (request.body or "").encode("utf-8")
    host = url.hostname or "localhost"
    port = url.port or (443 if url.scheme == "https" else 80)
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in _HEADERS}
    fields = {"request": _plain(f"{method} {path}"[:60]), "title": title,
              "imports": app.imports(),
              "test": f"test_{_snake(f'{method} {path}')}_does_not_fail"}
    if app.kind == "asgi":
        scope = _asgi_scope(method, path, query, url.scheme or "http", host, port, headers)
        return "asgi-replay", _ASGI.format(**fields, scope=scope, body=repr(body))
    environ = _wsgi_environ(method, path, query, url.scheme or "http", host, port, headers, body)
    return "wsgi-replay", _WSGI.format(**fields, environ=environ)


def _wsgi_environ(method: str, path: str, query: str, scheme: str, host: str, port: int,
                  headers: dict[str, str], body: bytes) -> str:
    items = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
             "SERVER_NAME": host, "SERVER_PORT": str(port), "SERVER_PROTOCOL": "HTTP/1.1",
             "HTTP_HOST": host, "CONTENT_LENGTH": str(len(body))}
    items.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    if "HTTP_CONTENT_TYPE" in items:
        items["CONTENT_TYPE"] = items.pop("HTTP_CONTENT_TYPE")
    entries = [f"{_literal(k)}: {_literal(v)}" for k, v in items.items()]
    entries += [f'"wsgi.url_scheme": {_literal(scheme)}', f'"wsgi.input": BytesIO({body!r})',
                '"wsgi.errors": sys.stderr', '"wsgi.version": (1, 0)',
                '"wsgi.multithread": False', '"wsgi.multiprocess": False',
                '"wsgi.run_once": True']
    return _pack(entries)


def _asgi_scope(method: str, path: str, query: str, scheme: str, host: str, port: int,
                headers: dict[str, str]) -> str:
    raw_headers = [(b"host", host.encode())] + [(k.encode(), v.encode())
                                                for k, v in headers.items()]
    items: dict[str, object] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": scheme, "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": raw_headers, "server": (host, port),
        "client": ("127.0.0.1", 50000)}
    return _pack([f"{_literal(k)}: {_literal(v) if isinstance(v, str) else repr(v)}"
                  for k, v in items.items()])


def _direct_call_test(event: ErrorEvent, worktree: Path, site: CrashSite,
                      title: str) -> tuple[str, str] | None:
    module = module_name(site.path)
    function = _module_function(worktree / site.path, site.function)
    if module is None or function is None:
        return None
    required = len(function.args.posonlyargs) + len(function.args.args) - len(
        function.args.defaults)
    arguments = "" if required == 0 else _caller_arguments(event, worktree, site)
    if arguments is None:
        return None
    code = _CALL.format(title=title, module=module, function=function.name,
                        test=f"test_{_snake(function.name)}_does_not_raise", arguments=arguments)
    return "direct-call", code


def _module_function(file: Path, name: str | None) -> ast.FunctionDef | None:
    """The module-level, non-async function `name` of `file`, if there is one."""
    if not name:
        return None
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, ValueError):
        return None
    return next((node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name == name), None)


def _caller_arguments(event: ErrorEvent, worktree: Path, site: CrashSite) -> str | None:
    """The literal arguments the caller's line passes to the crashing function, as code."""
    caller = _caller(event.frames, site.frame)
    path = frame_path(caller, worktree) if caller else None
    if caller is None or path is None or not caller.lineno:
        return None
    lines = (worktree / path).read_bytes().decode("utf-8", errors="replace").splitlines()
    if caller.lineno > len(lines):
        return None
    text = lines[caller.lineno - 1].strip()
    for candidate in (text, f"{text} pass"):
        try:
            tree = ast.parse(candidate)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) == site.function:
                return _literal_arguments(node)
    return None


def _caller(frames: list[Frame], crash: Frame) -> Frame | None:
    index = next((i for i, frame in enumerate(frames) if frame is crash), len(frames) - 1)
    earlier = [frame for frame in frames[:index] if frame.in_app]
    return earlier[-1] if earlier else None


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _literal_arguments(node: ast.Call) -> str | None:
    """`node`'s arguments re-written as literals, None unless every one is a literal."""
    try:
        positional = [repr(ast.literal_eval(arg)) for arg in node.args]
        named = [f"{kw.arg}={ast.literal_eval(kw.value)!r}" for kw in node.keywords]
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if any(kw.arg is None for kw in node.keywords):
        return None
    return ", ".join(positional + named)


def _test_path(worktree: Path, slug: str) -> str:
    folder = next((name for name in ("tests", "test") if (worktree / name).is_dir()), "tests")
    stem = f"test_suture_regression_{_snake(slug)}"
    names = [f"{stem}.py", *(f"{stem}_{n}.py" for n in range(2, 1000))]
    return next(f"{folder}/{name}" for name in names if not (worktree / folder / name).exists())


def _snake(text: str) -> str:
    """An identifier fragment: `ZeroDivisionError` -> `zero_division_error`."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "crash"


def _plain(text: str, width: int = 96) -> str:
    """Event text reduced to characters that are inert inside a docstring, wrapped."""
    kept = re.sub(r"[^A-Za-z0-9 _.:,'()/?=&-]+", " ", text)
    return "\n".join(textwrap.wrap(re.sub(r"\s+", " ", kept).strip()[:300], width))


def _literal(value: str) -> str:
    """`repr`, with double quotes when that needs no escaping (the house style)."""
    code = repr(value)
    if code.startswith("'") and '"' not in value and "'" not in value:
        return f'"{code[1:-1]}"'
    return code


def _pack(entries: list[str], indent: str = " " * 8, width: int = 99) -> str:
    """Dictionary entries, comma-separated, filled into lines of at most `width`."""
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + len(entry) + 2 <= width:
            lines[-1] += f" {entry},"
        else:
            lines.append(f"{indent}{entry},")
    return "\n".join(lines)
