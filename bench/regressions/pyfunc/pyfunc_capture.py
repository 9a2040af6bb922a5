"""pytest plugin: turn a project's crash inside a regression test function into a Sentry event.

Loaded (``-p pyfunc_capture``) into a pytest process whose working directory is a scratch
worktree, so the worktree's package is imported (the header record says where it came from).
For each test, the exception is classified: a *crash* escaped the project's own non-test code
(the innermost frame inside the worktree is in a package directory, not in a test module or a
test-support module). A failed assertion, ``pytest.raises`` not raising, skips and xfails are
not crashes; an ImportError/NameError/AttributeError raised by the test itself is "feature
absent" (the old code lacks the API the test calls). A crash is captured with
``sentry_sdk.capture_exception`` through a transport that keeps ``envelope.get_event()``.
Configuration comes from the environment (``BENCH_*``), one JSON record per test is appended to
``BENCH_CAPTURE_OUT``.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import sys
from typing import Any

import pytest
import sentry_sdk
from capture_common import MemoryTransport, deployed, relative

NOT_CRASHES = ("Skipped", "Failed", "XFailed", "Exit", "SystemExit", "KeyboardInterrupt",
               "XFail", "XPass", "OutcomeException")
ABSENT = ("ImportError", "ModuleNotFoundError", "NameError", "AttributeError")
SETTINGS = json.loads(os.environ.get("BENCH_PROJECT", "{}"))


TRANSPORT = MemoryTransport()


def is_support(rel: str) -> bool:
    """A test module, conftest or test-support module: the caller, not the product."""
    parts = rel.split("/")
    return (any(p in ("tests", "test", "testing") for p in parts[:-1])
            or parts[-1] == "conftest.py" or rel.startswith(tuple(SETTINGS.get("harness", ())))
            or any(fnmatch.fnmatch(rel, g) for g in SETTINGS.get("test_globs", ())))


def is_own(rel: str | None) -> bool:
    """Project code that is not test code (under ``src_root`` when the project has one)."""
    root = SETTINGS.get("src_root", "").rstrip("/")
    if rel is None or (root and not rel.startswith(root + "/")):
        return False
    inner = rel[len(root) + 1:] if root else rel
    return inner.split("/")[0] in SETTINGS.get("packages", ()) and not is_support(rel)


def _rewrite_path(path: str) -> str:
    return deployed(path, f"/srv/{SETTINGS['name']}")


def _generated(frame: dict[str, Any]) -> None:
    """A frame of code compiled from a string (``<string>``): it has no file to point at.

    sentry-sdk made its path absolute against the working directory (the worktree), which
    would look like a repository file; and it is in-app only when its module is product code.
    """
    frame["abs_path"] = frame["filename"]
    module = frame.get("module") or ""
    path = module.replace(".", "/") + ".py"
    own = module.split(".")[0] in SETTINGS.get("packages", ()) and not is_support(path)
    frame["in_app"] = own


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    # The crash is dated when its release was current, not when the benchmark was built.
    event["timestamp"] = os.environ.get("BENCH_TIMESTAMP") or event.get("timestamp")
    for exc in (event.get("exception") or {}).get("values") or []:
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            if frame.get("filename", "").startswith("<"):
                _generated(frame)
                continue
            original = frame.get("abs_path") or ""
            rel = relative(original) if original else None
            if original:
                frame["abs_path"] = _rewrite_path(original)
            if rel is not None:
                frame["filename"] = rel
                if is_support(rel):  # the test is the caller, as a user's program would be
                    frame["in_app"] = False
            elif frame.get("filename", "").startswith(os.sep):
                frame["filename"] = _rewrite_path(frame["filename"])
    return event


def pytest_configure(config: Any) -> None:
    """Start sentry-sdk and report which package was imported."""
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1", transport=TRANSPORT,
        release=os.environ.get("BENCH_RELEASE"), environment="production",
        server_name=f"{SETTINGS['name']}-ci", default_integrations=False,
        # Local variables are off unless asked for (BENCH_FRAME_VARIABLES=1): their values
        # are the project's test data, which cases do not keep.
        data_collection={"user_info": False,
                         "stack_frame_variables": os.environ.get("BENCH_FRAME_VARIABLES") == "1"},
        in_app_include=list(SETTINGS["packages"]), project_root=os.getcwd(),
        before_send=_before_send,
    )
    package = importlib.import_module(SETTINGS["packages"][0])
    _write({"kind": "header", "package_file": relative(getattr(package, "__file__", "") or ""),
            "python": f"{sys.version_info[0]}.{sys.version_info[1]}", "pytest": pytest.__version__})


def _frames(exc: BaseException) -> list[tuple[Any, str | None]]:
    out, tb = [], exc.__traceback__
    while tb is not None:
        out.append((tb, relative(tb.tb_frame.f_code.co_filename)))
        tb = tb.tb_next
    return out


def classify(exc: BaseException) -> str:
    """"crash" when ``exc`` escaped the project's own code, else what it was."""
    kind = type(exc).__name__
    if kind in NOT_CRASHES or not isinstance(exc, Exception):
        return "not-a-crash:" + kind
    if isinstance(exc, Warning) and SETTINGS.get("warnings_are_errors"):
        return "not-a-crash:" + kind
    inside = [rel for _, rel in _frames(exc) if rel is not None]
    if not inside:
        return "harness-failure:" + kind
    if is_own(inside[-1]):
        return "crash"
    if kind in ABSENT:
        return "feature-absent:" + kind
    return "test-failed:" + kind


def _trim(exc: BaseException) -> BaseException:
    """Drop the pytest and pluggy frames above the test function."""
    for tb, rel in _frames(exc):
        if rel is not None:
            return exc.with_traceback(tb)
    return exc


def _innermost(exc: BaseException) -> dict[str, Any]:
    tb, rel = _frames(exc)[-1]
    code = tb.tb_frame.f_code
    return {"file": rel or _rewrite_path(code.co_filename), "function": code.co_name,
            "lineno": tb.tb_lineno}


def _write(record: dict[str, Any]) -> None:
    with open(os.environ["BENCH_CAPTURE_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Record each test's outcome; capture a Sentry event when the project crashed."""
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" and not (report.skipped or report.failed):
        return
    record: dict[str, Any] = {"kind": "test", "nodeid": item.nodeid, "when": call.when}
    if call.excinfo is None:
        _write({**record, "outcome": "passed" if report.passed else "not-a-crash:xpassed"})
        return
    exc = call.excinfo.value
    verdict = classify(exc) if call.when == "call" else "not-a-crash:" + call.when
    if getattr(report, "wasxfail", None) is not None:
        verdict = "not-a-crash:xfail"
    record.update(outcome=verdict, exc_type=type(exc).__name__, message=str(exc)[:300])
    if verdict == "crash":
        record["innermost"] = _innermost(exc)
        before = len(TRANSPORT.events)
        sentry_sdk.capture_exception(_trim(exc))
        sentry_sdk.flush()
        record["event"] = TRANSPORT.events[-1] if len(TRANSPORT.events) > before else None
    _write(record)
