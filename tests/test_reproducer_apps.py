"""Finding the web application a crashed request reached, so the regression test can replay it:
in the call chain, or near the crashing file when the route lives in a router or blueprint, as
an application or as a factory callable without arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.agents import TemplateAgent
from integrations.agents.webapps import WebApp, find_app
from tests.gitrepo import GitRepoBuilder
from tests.support import LocalSandbox
from worker.fix.models import FixTask
from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData, Source

ROUTER = ("from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n"
          "@router.get('/ratio')\ndef ratio(n: int):\n    return {'ratio': 100 // n}\n")
MAIN = ("from fastapi import FastAPI\n\nfrom svc.routers.items import router\n\n"
        "app = FastAPI()\napp.include_router(router)\n")
FACTORY = ("from fastapi import FastAPI\n\nfrom svc.routers.items import router\n\n\n"
           "def create_app(debug=False):\n    made = FastAPI(debug=debug)\n"
           "    made.include_router(router)\n    return made\n")
FIXED = "    return {'ratio': 100 // n if n else 0}\n"


def crash_in(path: str, function: str, line: int, *outer: str) -> ErrorEvent:
    """A ZeroDivisionError event of GET /ratio?n=0 crashing at `path:line`, with the in-app
    frames of `outer` files above it."""
    frames = [Frame(filename=file, function="caller", lineno=1) for file in outer]
    frames.append(Frame(filename=path, function=function, lineno=line))
    return ErrorEvent(
        source=Source.SENTRY, event_id="e1", timestamp=datetime.now(UTC),
        request=RequestData(method="GET", url="https://svc.example/ratio", query="n=0"),
        exceptions=[ExceptionInfo(type="ZeroDivisionError", value="integer division or modulo "
                                  "by zero", frames=frames)])


def fix(repo: GitRepoBuilder, event: ErrorEvent) -> tuple[str, list[dict[str, object]]]:
    frame = event.frames[-1]
    task = FixTask(run_id=1, prompt="", event=event, error_type="ZeroDivisionError",
                   crash_file=frame.filename, crash_line=frame.lineno,
                   crash_function=frame.function)
    attempt = TemplateAgent().attempt(task, repo.path, LocalSandbox())
    return attempt.error, attempt.transcript


@pytest.mark.parametrize(("files", "imports"), [
    ({"svc/__init__.py": "", "svc/main.py": MAIN}, "from svc.main import app\n"),
    ({"svc/__init__.py": FACTORY}, "from svc import create_app\n\napp = create_app()\n"),
], ids=["app-beside-the-router", "factory-in-the-package"])
def test_a_route_in_a_router_is_replayed_against_the_app_that_includes_it(
        tmp_path: Path, files: dict[str, str], imports: str):
    repo = GitRepoBuilder(tmp_path / "svc")
    repo.commit({**files, "svc/routers/__init__.py": "", "svc/routers/items.py": ROUTER})

    error, transcript = fix(repo, crash_in("svc/routers/items.py", "ratio", 8))

    assert error == ""
    [reproduction] = [step for step in transcript if step["step"] == "reproduction"]
    assert reproduction["strategy"] == "asgi-replay"
    assert imports in (repo.path / str(reproduction["path"])).read_text()
    assert (repo.path / "svc/routers/items.py").read_text().endswith(FIXED)


def test_the_call_chain_comes_first_and_an_application_before_a_factory(tmp_path: Path):
    repo = GitRepoBuilder(tmp_path / "svc")
    repo.commit({"svc/__init__.py": FACTORY, "svc/routers/__init__.py": "",
                 "svc/routers/items.py": ROUTER, "svc/main.py": MAIN + "\n\n" + FACTORY,
                 "svc/wsgi.py": "from flask import Flask\n\napplication = Flask(__name__)\n"})
    near = crash_in("svc/routers/items.py", "ratio", 8)
    assert find_app(near, repo.path) == WebApp("svc", "create_app", "asgi", factory=True)
    chained = crash_in("svc/routers/items.py", "ratio", 8, "svc/main.py")
    assert find_app(chained, repo.path) == WebApp("svc.main", "app", "asgi")
    served = crash_in("svc/routers/items.py", "ratio", 8, "svc/wsgi.py")
    assert find_app(served, repo.path) == WebApp("svc.wsgi", "application", "wsgi")
    assert WebApp("svc.wsgi", "application", "wsgi").imports() == (
        "from svc.wsgi import application as app")


def test_factories_that_need_arguments_or_build_nothing_known_are_not_used(tmp_path: Path):
    repo = GitRepoBuilder(tmp_path / "svc")
    repo.commit({"svc/__init__.py": FACTORY.replace("debug=False", "settings"),
                 "svc/app.py": "def make_app(*, config):\n    return Flask(config)\n",
                 "svc/routers/__init__.py": "", "svc/routers/items.py": ROUTER,
                 "main.py": "def create_app():\n    return build_everything()\n"})
    assert find_app(crash_in("svc/routers/items.py", "ratio", 8), repo.path) is None
    repo.commit({"main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n"})
    assert find_app(crash_in("svc/routers/items.py", "ratio", 8), repo.path) == WebApp(
        "main", "app", "asgi")


def test_a_failed_confirmation_says_what_was_raised_not_the_warnings():
    from integrations.agents.templates import failure_of

    output = ("F                                                     [100%]\n"
              "    def test_get_image_does_not_fail():\n"
              ">       b''.join(chunks)\n"
              "E       UnboundLocalError: cannot access local variable 'accept'\n"
              "E       where it is not associated with a value\n"
              "httpbin/helpers.py:444: DeprecationWarning: invalid escape sequence '\\s'\n"
              "  match = re.search('\\s*(W/)?\\\"?([^\"]*)\\\"?\\s*', part)\n"
              "1 failed, 3 warnings in 0.21s\n")
    assert failure_of(output, 400) == ("UnboundLocalError: cannot access local variable "
                                       "'accept'")
    assert failure_of("E       assert [] and 500 < 500\n", 400) == "assert [] and 500 < 500"
    assert failure_of("no pytest lines here, only a long tail", 9) == "...long tail"
