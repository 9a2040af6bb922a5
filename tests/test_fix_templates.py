"""The fix templates: each seeded crash of the sample shop, captured by sentry-sdk and normalised,
is fixed at the crashing line with a small diff and a regression test that fails on the base and
passes on the fix; the rewrites one by one; refusals; and untrusted event text kept as data."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from integrations.agents import TemplateAgent
from integrations.agents.crash_site import CrashSite
from integrations.agents.cstedit import NoRewrite
from integrations.agents.reproducer import write_regression_test
from integrations.agents.rewrites import TEMPLATES
from tests.gitrepo import GitRepoBuilder, git
from worker.demo.sample import SampleRepo, build_sample_repo, capture_crash
from worker.fix.models import CommandResult, FixTask, SandboxPolicy
from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData, Source
from worker.normalise import from_sentry_stored
from worker.ports import CodingAgent

# error type -> (path, query, crashing file, the fixed line)
SEEDED = {
    "ZeroDivisionError": ("/cart/average", "cart=empty", "shop/pricing.py",
                          "    return cart.total_cents() // count if count else 0"),
    "AttributeError": ("/cart/owner", "cart=empty", "shop/customers.py",
                       '    return customer.name if customer is not None else ""'),
    "KeyError": ("/cart/discount", "cart=full&code=NOPE", "shop/discounts.py",
                 "    return DISCOUNTS.get(code, 0)"),
}
# The repositories under test use no pytest plugins; loading every installed one takes seconds.
QUIET = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
         "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
# Replays a request against the shop in the repository it runs in; prints the status line.
REPLAY = ("import sys; from io import BytesIO; from shop.web import app; s = []; "
          "b''.join(app({'REQUEST_METHOD': 'GET', 'PATH_INFO': sys.argv[1], 'QUERY_STRING': "
          "sys.argv[2], 'wsgi.input': BytesIO()}, lambda status, headers: s.append(status))); "
          "print(s[0])")


class LocalSandbox:
    """A `Sandbox` that runs commands as plain subprocesses in the worktree (no isolation):
    the agent is under test here, not the sandbox."""

    def __init__(self) -> None:
        self.audit: list[CommandResult] = []

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
        done = subprocess.run(argv, cwd=worktree, input=stdin, capture_output=True, text=True,
                              env={**QUIET, **policy.env},
                              timeout=policy.limits.wall_seconds)
        result = CommandResult(argv=argv, exit_code=done.returncode, stdout=done.stdout,
                               stderr=done.stderr)
        self.audit.append(result)
        return result


@dataclass
class Shop:
    repo: SampleRepo
    events: dict[str, ErrorEvent]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The sample shop's repository and its seeded crashes, captured by sentry-sdk."""
    repo = build_sample_repo(tmp_path_factory.mktemp("sample") / "shop")
    events = {name: from_sentry_stored(capture_crash(repo, "GET", path, query))
              for name, (path, query, _, _) in SEEDED.items()}
    return Shop(repo, events)


def clone(source: Path, target: Path) -> Path:
    git(source.parent, "clone", "-q", str(source), str(target))
    return target


def task_for(event: ErrorEvent, crash_file: str | None = None, **changes: object) -> FixTask:
    frame = event.frames[-1]
    fields = {"run_id": 1, "prompt": "", "event": event, "error_type": primary(event).type,
              "crash_file": crash_file, "crash_line": frame.lineno,
              "crash_function": frame.function}
    return FixTask.model_validate({**fields, **changes})


def primary(event: ErrorEvent) -> ExceptionInfo:
    assert event.primary is not None
    return event.primary


def pytest_in(worktree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=worktree, capture_output=True, text=True,
                          env=QUIET)


def changes(worktree: Path) -> list[str]:
    return sorted(git(worktree, "status", "--porcelain", "--untracked-files=all").splitlines())


@pytest.mark.parametrize("error_type", list(SEEDED))
def test_a_seeded_crash_is_fixed_with_a_small_diff_and_a_test_that_fails_then_passes(
        shop: Shop, tmp_path: Path, error_type: str) -> None:
    path, query, crash_file, fixed_line = SEEDED[error_type]
    event = shop.events[error_type]
    assert primary(event).type == error_type and event.frames[-1].filename == crash_file
    worktree = clone(shop.repo.path, tmp_path / "fix")
    sandbox = LocalSandbox()
    # The AttributeError task leaves the file to the frames, as a caller without it would.
    task = task_for(event, None if error_type == "AttributeError" else crash_file)

    attempt = TemplateAgent().attempt(task, worktree, sandbox)

    assert (attempt.error, attempt.agent, attempt.cost_usd, attempt.patch) == ("", "templates",
                                                                             0.0, "")
    test_file = f"tests/test_suture_regression_{_snake(error_type)}_{event.frames[-1].function}.py"
    assert changes(worktree) == [f" M {crash_file}", f"?? {test_file}"]
    diff = git(worktree, "diff", "-U0")
    assert f"+{fixed_line}\n" in diff + "\n"
    added, removed, _ = git(worktree, "diff", "--numstat").split("\t")
    test_lines = len((worktree / test_file).read_text().splitlines())
    assert int(added) + int(removed) + test_lines < 30
    # The whole suite passes on the fix, the new test included, and the request no longer fails.
    suite = pytest_in(worktree)
    assert suite.returncode == 0 and "passed" in suite.stdout, suite.stdout
    replay = subprocess.run([sys.executable, "-c", REPLAY, path, query], cwd=worktree,
                            capture_output=True, text=True)
    assert replay.stdout.strip() == "200 OK", replay.stderr
    # On the base the regression test fails, with the crash itself.
    base = clone(shop.repo.path, tmp_path / "base")
    (base / test_file).write_text((worktree / test_file).read_text())
    before = pytest_in(base, test_file)
    assert before.returncode == 1 and error_type in before.stdout, before.stdout
    # The agent checked both itself, through the sandbox.
    runs = [(step["expected"], step["exit_code"]) for step in attempt.transcript
            if step["step"] == "run"]
    assert runs == [("fail", 1), ("pass", 0)] and len(sandbox.audit) == 2
    assert any(step["step"] == "rewrite" and step["explanation"] for step in attempt.transcript)


def test_an_error_type_without_a_template_changes_nothing(shop: Shop, tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    task = task_for(shop.events["ZeroDivisionError"], error_type="ValueError")

    agent = TemplateAgent()
    assert isinstance(agent, CodingAgent)

    attempt = agent.attempt(task, worktree, LocalSandbox())

    assert "no template for ValueError" in attempt.error
    assert changes(worktree) == []


def test_a_crash_outside_python_source_is_refused(shop: Shop, tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    (worktree / "shop" / "page.html").write_text("<p>{{ 1 // 0 }}</p>\n")
    event = shop.events["ZeroDivisionError"]
    frames = [*event.frames[:-1], Frame(filename="shop/page.html", function="render", lineno=1)]
    html_event = event.model_copy(update={"exceptions": [
        primary(event).model_copy(update={"frames": frames})]})

    attempt = TemplateAgent().attempt(task_for(html_event), worktree, LocalSandbox())

    assert "not a Python file" in attempt.error
    assert changes(worktree) == ["?? shop/page.html"]


def test_a_line_that_changed_since_the_crash_is_left_alone(shop: Shop, tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    pricing = worktree / "shop" / "pricing.py"
    pricing.write_text(pricing.read_text().replace("cart.count()", "max(cart.count(), 1)"))

    attempt = TemplateAgent().attempt(task_for(shop.events["ZeroDivisionError"],
                                               "shop/pricing.py"), worktree, LocalSandbox())

    assert "no longer at line" in attempt.error
    assert changes(worktree) == [" M shop/pricing.py"]


def test_a_replay_that_does_not_crash_is_not_kept_as_a_regression_test(shop: Shop,
                                                                       tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    event = shop.events["ZeroDivisionError"]
    harmless = event.model_copy(update={"request": RequestData(
        method="GET", url="https://shop.example/cart/average", query="cart=full")})

    attempt = TemplateAgent().attempt(task_for(harmless, "shop/pricing.py"), worktree,
                                      LocalSandbox())

    assert attempt.error == "" and changes(worktree) == [" M shop/pricing.py"]
    assert any("passes before the fix" in str(step.get("reason")) for step in attempt.transcript)


def test_without_a_request_the_crashing_function_is_called_with_its_callers_literals(
        tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "calc")
    repo.commit({"calc/__init__.py": "", "calc/stats.py": STATS, "tests/test_stats.py": STATS_TEST})
    event = _event("ZeroDivisionError", "division by zero",
                   [("calc/stats.py", "report", 6), ("calc/stats.py", "mean", 2)])

    attempt = TemplateAgent().attempt(task_for(event), repo.path, LocalSandbox())

    assert attempt.error == ""
    test_file = "tests/test_suture_regression_zero_division_error_mean.py"
    assert "    mean([])\n" in (repo.path / test_file).read_text()
    assert "    return sum(values) / length if length else 0.0\n" in (
        repo.path / "calc/stats.py").read_text()
    assert pytest_in(repo.path).returncode == 0


def test_an_asgi_app_gets_its_failing_request_replayed(tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "svc")
    repo.commit({"svc/__init__.py": "", "svc/asgi.py": ASGI_APP})
    event = _event("ZeroDivisionError", "integer division or modulo by zero",
                   [("svc/asgi.py", "app", 3)], request=RequestData(
                       method="GET", url="https://svc.example/ratio", query="n=0"))

    attempt = TemplateAgent().attempt(task_for(event), repo.path, LocalSandbox())

    assert attempt.error == ""
    assert [step.get("strategy") for step in attempt.transcript
            if step["step"] == "reproduction"] == ["asgi-replay"]
    assert "    body = str(100 // n if n else 0).encode()\n" in (
        repo.path / "svc/asgi.py").read_text()


def test_a_fix_that_does_not_stop_the_crash_is_withdrawn(tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "svc")
    repo.commit({"svc/__init__.py": "", "svc/web.py": TWICE})
    event = _event("ZeroDivisionError", "integer division or modulo by zero",
                   [("svc/web.py", "app", 3)], request=RequestData(
                       method="POST", url="http://svc.example/split", query="n=0"))

    attempt = TemplateAgent().attempt(task_for(event), repo.path, LocalSandbox())

    assert "does not make tests/test_suture_regression" in attempt.error
    assert [step["step"] for step in attempt.transcript][-1] == "revert"
    assert changes(repo.path) == []


def test_event_text_reaches_the_regression_test_only_as_literals(shop: Shop,
                                                                 tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    event = shop.events["KeyError"]
    hostile = '"""\nraise SystemExit(1)\n"""\\'
    event = event.model_copy(update={
        "exceptions": [primary(event).model_copy(update={"value": hostile})],
        "request": RequestData(method="GET", url="https://shop.example/cart/discount",
                               query=f"code={hostile}", body=hostile,
                               headers={"Cookie": "session=secret", "Accept": hostile})})
    site = CrashSite(path="shop/discounts.py", line=11, function="discount_percent",
                     frame=event.frames[-1])

    written = write_regression_test(event, worktree, site, "KeyError")

    code = (worktree / written.path).read_text()
    tree = ast.parse(code)
    assert [type(node).__name__ for node in tree.body] == [
        "Expr", "Import", "ImportFrom", "ImportFrom", "FunctionDef"]
    assert '"""' not in (ast.get_docstring(tree) or "") and "session=secret" not in code
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert f"code={hostile}" in strings and hostile in strings


REWRITES = [
    ("AttributeError", "def f(c):\n    c.user.notify()\n", 2,
     "'NoneType' object has no attribute 'notify'",
     "def f(c):\n    if c.user is not None:\n        c.user.notify()\n"),
    ("AttributeError", "def f(c):\n    if c.user.vip:\n        pass\n", 2,
     "'NoneType' object has no attribute 'vip'",
     "def f(c):\n    if c.user is not None and c.user.vip:\n        pass\n"),
    ("AttributeError", "def f(c):\n    return 'Hi ' + find_user(c).name.title()\n", 2,
     "'NoneType' object has no attribute 'name'",
     "def f(c):\n    user = find_user(c)\n"
     "    return 'Hi ' + (user.name.title() if user is not None else \"\")\n"),
    ("AttributeError", "def f(h):\n    accept = h['accept'].lower()\n", 2,
     "'NoneType' object has no attribute 'lower'",
     "def f(h):\n    accept = h['accept'].lower() if h['accept'] is not None else \"\"\n"),
    ("KeyError", "def f(d):\n    return d['a'] + d['b'] * 2\n", 2, "'b'",
     "def f(d):\n    return d['a'] + d.get('b', 0) * 2\n"),
    ("KeyError", "def f(d, k):\n    x = d[k]\n", 2, "'k1'", "def f(d, k):\n    x = d.get(k)\n"),
    ("KeyError", "def f(h):\n    return h['accept'].lower()\n", 2, "'accept'",
     "def f(h):\n    return h.get('accept', \"\").lower()\n"),
    ("ZeroDivisionError", "def f(a, b):\n    return {'r': a / b}\n", 2, "division by zero",
     "def f(a, b):\n    return {'r': a / b if b else 0.0}\n"),
    ("ZeroDivisionError", "def f(a, b):\n    a %= b\n", 2, "integer modulo by zero",
     "def f(a, b):\n    if b:\n        a %= b\n"),
    ("TypeError", "def f(d):\n    return d.items[0]\n", 2,
     "'NoneType' object is not subscriptable",
     "def f(d):\n    return d.items[0] if d.items is not None else None\n"),
    ("TypeError", "def f(d):\n    return [x for x in d.rows]\n", 2,
     "'NoneType' object is not iterable",
     "def f(d):\n    return [x for x in (d.rows if d.rows is not None else ())]\n"),
]


@pytest.mark.parametrize(("error_type", "before", "line", "message", "after"), REWRITES)
def test_each_template_rewrites_only_the_crashing_expression(error_type: str, before: str,
                                                             line: int, message: str,
                                                             after: str) -> None:
    assert TEMPLATES[error_type](before, line, message).text == after


@pytest.mark.parametrize(("error_type", "source", "message", "reason"), [
    ("AttributeError", "def f(c):\n    return c.x.x\n", "'NoneType' object has no attribute 'x'",
     "which object was None is unknown"),
    ("AttributeError", "def f(c):\n    return c.x\n", "'Cart' object has no attribute 'x'",
     "only AttributeError on None"),
    ("KeyError", "def f(d, a, b):\n    return d[a][b]\n", "'k'", "several keys"),
    ("KeyError", "def f(d):\n    d['k'] += 1\n", "'k'", "reads no single-key subscript"),
    ("KeyError", "def f(h):\n    return h['accept'].kind\n", "'accept'", "would only move"),
    ("KeyError", "def f(h):\n    return h['a'][0]\n", "'a'", "would only move"),
    ("ZeroDivisionError", "def f(a):\n    return a / 2\n", "division by zero", "no division"),
    ("TypeError", "def f(a):\n    return a + 1\n", "unsupported operand", "only TypeErrors"),
])
def test_a_template_refuses_what_it_cannot_fix_safely(error_type: str, source: str,
                                                      message: str, reason: str) -> None:
    with pytest.raises(NoRewrite, match=reason):
        TEMPLATES[error_type](source, 2, message)


STATS = ("def mean(values):\n    return sum(values) / len(values)\n\n\n"
         "def report():\n    return {'mean': mean([])}\n")
STATS_TEST = "from calc.stats import mean\n\n\ndef test_mean():\n    assert mean([2, 4]) == 3\n"
ASGI_APP = ("async def app(scope, receive, send):\n"
            "    n = int(scope['query_string'].decode().split('=')[1])\n"
            "    body = str(100 // n).encode()\n"
            "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
            "    await send({'type': 'http.response.body', 'body': body})\n")
TWICE = ("def app(environ, start_response):\n    n = int(environ['QUERY_STRING'][2:])\n"
         "    half = 10 // n\n    quarter = 10 // n // 2\n"
         "    start_response('200 OK', [])\n    return [str(half + quarter).encode()]\n")


def _event(error_type: str, value: str, frames: list[tuple[str, str, int]],
           request: RequestData | None = None) -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id="e1", timestamp=datetime.now(UTC),
                      request=request, exceptions=[ExceptionInfo(type=error_type, value=value,
                      frames=[Frame(filename=f, function=fn, lineno=n) for f, fn, n in frames])])


def _snake(name: str) -> str:
    return {"ZeroDivisionError": "zero_division_error", "AttributeError": "attribute_error",
            "KeyError": "key_error"}[name]


def test_the_regression_test_replays_the_scrubbed_request_with_named_placeholders(
        shop: Shop, tmp_path: Path) -> None:
    worktree = clone(shop.repo.path, tmp_path / "fix")
    event = shop.events["KeyError"]
    mail, phone, address = "ann.lee@example.com", "+44 20 7946 0958", "203.0.113.9"
    query = f"cart=full&code=NOPE&email={quote(mail)}&phone={quote_plus(phone)}&ip={address}"
    event = event.model_copy(update={
        "exceptions": [primary(event).model_copy(update={"value": f"'NOPE' for {mail}"})],
        "request": RequestData(method="POST", url=f"https://shop.example/cart/discount?{query}",
                               query=query, body=f"note=call+{quote_plus(phone)}",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})})
    site = CrashSite(path="shop/discounts.py", line=11, function="discount_percent",
                     frame=event.frames[-1])

    written = write_regression_test(event, worktree, site, "KeyError")

    code = (worktree / written.path).read_text()
    for value in (mail, quote(mail), phone, quote_plus(phone), address, "7946"):
        assert value not in code
    strings = {node.value for node in ast.walk(ast.parse(code))
               if isinstance(node, ast.Constant)}
    assert ("cart=full&code=NOPE&email=placeholder-email&phone=placeholder-phone"
            "&ip=placeholder-ipv4") in strings
    docstring = " ".join(code.split('"""')[1].split())
    assert "Placeholders stand in for values the scrubber removed:" in docstring
    for label in ("query (email)", "query (phone)", "query (ipv4)", "body (phone)"):
        assert label in docstring
    # The crash does not depend on the removed values: the test still reproduces it.
    assert pytest_in(worktree, written.path).returncode == 1
