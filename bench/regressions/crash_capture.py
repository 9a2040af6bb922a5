"""pytest plugin that turns a mypy crash inside a data-driven test into a stored Sentry event.

It is loaded (``-p crash_capture``) into a pytest process that runs inside a scratch worktree of
the mypy repository, so the worktree's own mypy code is imported. It makes mypy re-raise internal
errors instead of printing them (``Options.raise_exceptions``), initialises sentry-sdk with a
transport that keeps events in memory, and for every test whose exception escaped mypy's own
(non-test) code calls ``sentry_sdk.capture_exception``. One JSON object per test outcome is
appended to the file named by ``BENCH_CAPTURE_OUT``; the release and the event's timestamp are
read from ``BENCH_RELEASE`` and ``BENCH_TIMESTAMP``.
Outer pytest frames are trimmed so the event starts at the test harness, as a command-line crash
starts at mypy's entry point, and machine paths are rewritten to a stand-in deployment root.
"""

from __future__ import annotations

import json
import os
import sys
from types import TracebackType
from typing import Any

import pytest
import sentry_sdk
from capture_common import MemoryTransport, deployed, relative

DEPLOY_ROOT = "/srv/mypy"
HARNESS_PREFIXES = ("mypy/test/", "mypyc/test/")
OWN_PREFIXES = ("mypy/", "mypyc/")
CRASH_MARKERS = ("INTERNAL ERROR", "Traceback (most recent call last)")
NOT_CRASHES = ("CompileError", "SystemExit", "KeyboardInterrupt", "Skipped", "Failed", "XFailed")


TRANSPORT = MemoryTransport()


def _root() -> str:
    return os.environ.get("BENCH_WORKTREE") or os.getcwd()


def _rewrite_path(path: str) -> str:
    return deployed(path, DEPLOY_ROOT)


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    # The crash is dated when its release was current, not when the benchmark was built.
    if os.environ.get("BENCH_TIMESTAMP"):
        event["timestamp"] = os.environ["BENCH_TIMESTAMP"]
    for exc in (event.get("exception") or {}).get("values") or []:
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            if frame.get("abs_path"):
                frame["abs_path"] = _rewrite_path(frame["abs_path"])
            if frame.get("filename", "").startswith(os.sep):
                frame["filename"] = _rewrite_path(frame["filename"])
            # The data-driven test harness is the caller here, as a user's program would be.
            if (frame.get("module") or "").startswith(("mypy.test", "mypyc.test")):
                frame["in_app"] = False
    return event


def _patch_raise_exceptions() -> None:
    """Make every mypy Options object re-raise internal errors (what mypy's daemon does)."""
    from mypy.options import Options

    original = Options.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.raise_exceptions = True

    Options.__init__ = init  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    """Patch mypy and start sentry-sdk once the worktree is importable."""
    _patch_raise_exceptions()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1", transport=TRANSPORT,
        release=os.environ.get("BENCH_RELEASE"), environment="production",
        server_name="mypy-ci", default_integrations=False,
        # Local variables only when asked for (BENCH_FRAME_VARIABLES=1): cases keep none.
        data_collection={"user_info": False,
                         "stack_frame_variables": os.environ.get("BENCH_FRAME_VARIABLES") == "1"},
        in_app_include=["mypy", "mypyc"], project_root=_root(), before_send=_before_send,
    )
    import mypy

    _write({"kind": "header", "mypy_file": relative(mypy.__file__ or ""),
            "python": f"{sys.version_info[0]}.{sys.version_info[1]}", "pytest": pytest.__version__})


def _frames(tb: TracebackType | None) -> list[tuple[TracebackType, str | None]]:
    out = []
    while tb is not None:
        out.append((tb, relative(tb.tb_frame.f_code.co_filename)))
        tb = tb.tb_next
    return out


def _is_own(rel: str | None) -> bool:
    return rel is not None and rel.startswith(OWN_PREFIXES) and not rel.startswith(HARNESS_PREFIXES)


def _raised_in(exc: BaseException, function: str) -> bool:
    """True when ``exc`` was raised by a function of this name."""
    frames = _frames(exc.__traceback__)
    return bool(frames) and frames[-1][0].tb_frame.f_code.co_name == function


def unwrap(exc: BaseException) -> BaseException:
    """The internal error behind a ``SystemExit`` from mypy's crash reporters, else ``exc``.

    mypyc's ``catch_errors`` (and mypy's ``report_internal_error`` when it does not re-raise)
    print the crash and raise ``SystemExit(2)`` while handling it, so the crash is the context.
    Before ``raise_exceptions`` existed (October 2018), ``report_internal_error`` always printed
    and raised ``SystemExit(1)``; that exit counts only when raised there.
    """
    context = exc.__context__
    if not isinstance(exc, SystemExit) or not isinstance(context, Exception):
        return exc
    if exc.code == 2 or (exc.code == 1 and _raised_in(exc, "report_internal_error")):
        return context
    return exc


def classify(exc: BaseException) -> str:
    """Return "crash" when ``exc`` escaped mypy's own code, else why it is not one."""
    if type(exc).__name__ in NOT_CRASHES or not isinstance(exc, Exception):
        return "not-a-crash:" + type(exc).__name__
    frames = _frames(exc.__traceback__)
    if not any(_is_own(rel) for _, rel in frames):
        return "harness-failure:" + type(exc).__name__
    return "crash"


def _trim(exc: BaseException) -> BaseException:
    """Drop the pytest frames above the first frame that lives in the worktree."""
    for tb, rel in _frames(exc.__traceback__):
        if rel is not None:
            return exc.with_traceback(tb)
    return exc


def _innermost(exc: BaseException) -> dict[str, Any]:
    tb, rel = _frames(exc.__traceback__)[-1]
    code = tb.tb_frame.f_code
    return {"file": rel or _rewrite_path(code.co_filename), "function": code.co_name,
            "lineno": tb.tb_lineno}


def _write(record: dict[str, Any]) -> None:
    with open(os.environ["BENCH_CAPTURE_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str) + "\n")


def _printed_crash(outcome: Any) -> bool:
    """True when the test's report shows a crash printed as text (by a subprocess, say)."""
    try:
        report = outcome.get_result()
        printed = "\n".join([report.longreprtext, report.capstdout, report.capstderr])
    except Exception:  # an old harness's failure report may not build on this pytest
        return False
    return any(marker in printed for marker in CRASH_MARKERS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Record each test's outcome; capture a Sentry event when mypy itself crashed."""
    outcome = yield
    if call.when != "call":
        return
    record: dict[str, Any] = {"kind": "test", "name": item.name, "nodeid": item.nodeid,
                              "printed_crash": _printed_crash(outcome)}
    if call.excinfo is None:
        _write({**record, "outcome": "passed"})
        return
    exc = unwrap(call.excinfo.value)
    verdict = classify(exc)
    record.update(outcome=verdict, exc_type=type(exc).__name__, message=str(exc)[:500])
    if verdict == "crash":
        record["innermost"] = _innermost(exc)
        before = len(TRANSPORT.events)
        sentry_sdk.capture_exception(_trim(exc))
        sentry_sdk.flush()
        record["event"] = TRANSPORT.events[-1] if len(TRANSPORT.events) > before else None
    _write(record)
