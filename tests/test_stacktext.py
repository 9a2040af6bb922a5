"""Text stack traces: Python, JavaScript, JVM and Go parse into frames oldest first."""

from __future__ import annotations

import pytest

from worker.normalise.stacktext import detect_language, language_of, parse_stack

PYTHON_CHAINED = """\
2024-05-01 12:00:00 ERROR request failed
Traceback (most recent call last):
  File "/srv/shop/cart.py", line 18, in load_basket
    return store[basket_id]
           ~~~~~^^^^^^^^^^^
KeyError: 'b-1042'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/shop/app.py", line 51, in <module>
    main()
  File "/usr/local/lib/python3.12/site-packages/flask/app.py", line 1498, in wsgi_app
    response = self.full_dispatch_request()
  File "/srv/shop/views.py", line 33, in checkout
    basket = load_basket(session_id)
  File "/srv/shop/cart.py", line 20, in load_basket
    raise shop.errors.BasketMissing(basket_id)
shop.errors.BasketMissing: basket b-1042 is gone
  (it expired)
"""

PYTHON_CAUSE = """\
Traceback (most recent call last):
  File "<frozen importlib._bootstrap>", line 1360, in _find_and_load
  File "/app/settings.py", line 4, in read
    value = int(raw)
ValueError: invalid literal for int() with base 10: 'ten'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/main.py", line 9, in boot
    read()
  File "/app/settings.py", line 6, in read
    raise ConfigError("bad PORT") from exc
ConfigError: bad PORT
"""

NODE = """\
TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:14:22)
    at async Promise.all (index 0)
    at async handler (/app/src/routes.js:30:5)
    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
    at file:///app/src/server.mjs:7:3
"""

JAVA = """\
Exception in thread "main" java.lang.IllegalStateException: Failed to load config
\tat com.acme.shop.App.load(App.java:42)
\tat com.acme.shop.App.main(App.java:10)
Caused by: java.io.FileNotFoundException: shop.yml (No such file or directory)
\tat java.base/java.io.FileInputStream.open0(Native Method)
\tat java.base/java.io.FileInputStream.open(FileInputStream.java:216)
\tat com.acme.shop.Config.read(Config.java:17)
\tat com.acme.shop.App.load(App.java:40)
\t... 1 more
\tSuppressed: java.io.IOException: close failed
\t\tat com.acme.shop.Config.close(Config.java:30)
"""

GO = """\
panic: runtime error: index out of range [5] with length 3

goroutine 7 [running]:
main.lookup(...)
\t/src/shop/cart.go:12
main.(*Server).checkout(0xc000012345, {0x4b3f2a, 0x3})
\t/src/shop/server.go:20 +0x1d
net/http.HandlerFunc.ServeHTTP(0xc0000a0000?, {0x6b1f40?, 0xc0000b8000?}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
main.main()
\t/src/shop/main.go:25 +0x25
created by main.serve in goroutine 1
\t/src/shop/main.go:40 +0x5c

goroutine 1 [chan receive]:
main.wait()
\t/src/shop/main.go:50 +0x1
exit status 2
"""


def summary(text: str, hint: str | None = None) -> list[tuple[str, str | None, list[str | None]]]:
    return [(e.type, e.module, [f.function for f in e.frames]) for e in parse_stack(text, hint)]


def test_python_chained_during_handling() -> None:
    cause, raised = parse_stack(PYTHON_CHAINED)
    assert (cause.type, cause.value) == ("KeyError", "'b-1042'")
    assert [f.function for f in cause.frames] == ["load_basket"]
    assert (raised.type, raised.module) == ("BasketMissing", "shop.errors")
    assert raised.value == "basket b-1042 is gone\n  (it expired)"
    assert [(f.function, f.lineno) for f in raised.frames] == [
        ("<module>", 51), ("wsgi_app", 1498), ("checkout", 33), ("load_basket", 20)]
    assert [f.in_app for f in raised.frames] == [True, False, True, True]
    assert raised.frames[-1].context_line == "raise shop.errors.BasketMissing(basket_id)"
    assert raised.frames[-1].abs_path == "/srv/shop/cart.py"


def test_python_direct_cause_and_frozen_frames() -> None:
    cause, raised = parse_stack(PYTHON_CAUSE)
    assert cause.type == "ValueError"
    assert cause.frames[0].filename == "<frozen importlib._bootstrap>"
    assert not cause.frames[0].in_app and cause.frames[0].context_line is None
    assert (raised.type, [f.function for f in raised.frames]) == ("ConfigError", ["boot", "read"])


def test_node_stack_reversed_with_library_frames() -> None:
    [error] = parse_stack(NODE)
    assert (error.type, error.value) == ("TypeError", "Cannot read properties of undefined "
                                                      "(reading 'id')")
    functions = [f.function for f in error.frames]
    assert functions == [None, "process.processTicksAndRejections",
                         "Layer.handle [as handle_request]", "handler", "Promise.all", "getUser"]
    in_app = {f.function: f.in_app for f in error.frames}
    assert in_app["getUser"] and in_app["handler"] and in_app[None]
    assert not in_app["Promise.all"]  # no file: engine internal
    assert not in_app["Layer.handle [as handle_request]"]  # node_modules
    assert not in_app["process.processTicksAndRejections"]  # node:internal
    crash = error.frames[-1]
    assert (crash.filename, crash.lineno, crash.colno) == ("/app/src/users.js", 14, 22)


def test_browser_stack_with_bare_frames() -> None:
    text = "Error: boom\n    at https://cdn.test/app.js?v=3:1:480441\n    at u (https://cdn.test/vendor.js:165:51006)"
    [error] = parse_stack(text, "javascript")
    assert [(f.function, f.filename) for f in error.frames] == [
        ("u", "https://cdn.test/vendor.js"), (None, "https://cdn.test/app.js?v=3")]


def test_java_caused_by_and_more() -> None:
    cause, thrown = parse_stack(JAVA)
    assert (thrown.type, thrown.module, thrown.value) == (
        "IllegalStateException", "java.lang", "Failed to load config")
    assert [f.function for f in thrown.frames] == ["main", "load"]
    assert (cause.type, cause.module) == ("FileNotFoundException", "java.io")
    # "... 1 more" is App.main from the enclosing trace; Suppressed frames are not the cause's.
    assert [(f.module, f.function) for f in cause.frames] == [
        ("com.acme.shop.App", "main"),
        ("com.acme.shop.App", "load"),
        ("com.acme.shop.Config", "read"),
        ("java.io.FileInputStream", "open"),
        ("java.io.FileInputStream", "open0"),
    ]
    assert [f.in_app for f in cause.frames] == [True, True, True, False, False]
    assert cause.frames[-1].filename is None and cause.frames[2].lineno == 17


def test_java_without_thread_prefix_after_a_log_line() -> None:
    text = ("12:00:01 ERROR c.a.Worker - job failed\n"
            "org.acme.JobException: job 7 failed\n"
            "\tat org.acme.Worker.run(Worker.kt:12) ~[worker.jar:1.0]\n"
            "\tat org.junit.runner.JUnitCore.run(JUnitCore.java:115)\n")
    [error] = parse_stack(text)
    assert (error.type, error.module) == ("JobException", "org.acme")
    assert [(f.function, f.in_app) for f in error.frames] == [("run", False), ("run", True)]


def test_go_panic() -> None:
    [panic] = parse_stack(GO)
    assert (panic.type, panic.value) == ("panic", "runtime error: index out of range [5] with "
                                                   "length 3")
    assert [(f.module, f.function) for f in panic.frames] == [
        ("main", "serve"), ("main", "main"), ("net/http", "HandlerFunc.ServeHTTP"),
        ("main", "(*Server).checkout"), ("main", "lookup")]
    assert [f.in_app for f in panic.frames] == [True, True, False, True, True]
    assert panic.frames[-1].lineno == 12 and panic.frames[-2].filename == "/src/shop/server.go"


def test_go_runtime_frames_are_library() -> None:
    text = ("panic: boom [recovered]\n\ngoroutine 1 [running]:\nruntime.gopanic({0x1, 0x2})\n"
            "\t/opt/go/src/runtime/panic.go:770 +0x132\nmain.main()\n\t/src/app/main.go:5 +0x1\n")
    [panic] = parse_stack(text, "go")
    assert panic.value == "boom"
    assert [(f.function, f.in_app) for f in panic.frames] == [("main", True), ("gopanic", False)]


@pytest.mark.parametrize(
    ("text", "language"),
    [(PYTHON_CHAINED, "python"), (NODE, "javascript"), (JAVA, "java"), (GO, "go"),
     ("just words", None)],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_language_aliases() -> None:
    assert [language_of(name) for name in ("nodejs", "PYTHON", "kotlin", "golang", "cobol")] == [
        "javascript", "python", "java", "go", None]


def test_wrong_hint_falls_back_to_detection() -> None:
    assert summary(JAVA, "python") == summary(JAVA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ValueError: nothing to see", ("ValueError", "nothing to see")),
        ("com.acme.Boom: bad\nmore text", ("Boom", "bad")),
        ("the server said no", ("Error", "the server said no")),
        ("Traceback (most recent call last):\n", ("Error", "Traceback (most recent call last):")),
    ],
)
def test_unparseable_text_gives_one_frameless_exception(
    text: str, expected: tuple[str, str]
) -> None:
    [error] = parse_stack(text)
    assert (error.type, error.value) == expected
    assert error.frames == []


def test_empty_text_gives_nothing() -> None:
    assert parse_stack("") == [] and parse_stack("  \n ") == []
