"""Stacks are printed in their own runtime's format wherever suture prints one (tickets, pull
requests, prompts), chosen by the event's platform, tags or frame files; unknown runtimes get
a neutral listing. Stacks come from real-looking traces parsed by `worker.normalise.stacktext`
and from recorded vendor payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.standins.base import recorded
from tests.support import compact, drain, make_app
from tests.test_stacktext import GO, JAVA, NODE, PYTHON_CAUSE
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.normalise import detect_and_normalise, from_datadog_log
from worker.normalise.stacktext import parse_stack
from worker.playbooks.catalogue import load_playbooks
from worker.playbooks.check import sample_context
from worker.playbooks.prompt import render_prompt
from worker.settings import load_settings
from worker.stacktrace import format_stack, stack_language

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(exceptions: list[ExceptionInfo], platform: str | None = None,
          tags: dict[str, str] | None = None) -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id="1" * 32, platform=platform, timestamp=NOW,
                      exceptions=exceptions, tags=tags or {})


def parsed(text: str, platform: str | None = None) -> ErrorEvent:
    return event(parse_stack(text), platform)


def test_python_prints_a_traceback_most_recent_call_last():
    assert format_stack(parsed(PYTHON_CAUSE, "python")) == (
        "Traceback (most recent call last):\n"
        '  File "<frozen importlib._bootstrap>", line 1360, in _find_and_load\n'
        '  File "/app/settings.py", line 4, in read\n'
        "    value = int(raw)\n"
        "ValueError: invalid literal for int() with base 10: 'ten'\n\n"
        "which led to:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 9, in boot\n'
        "    read()\n"
        '  File "/app/settings.py", line 6, in read\n'
        '    raise ConfigError("bad PORT") from exc\n'
        "ConfigError: bad PORT")


def test_a_recorded_python_event_prints_a_traceback():
    stack = format_stack(detect_and_normalise(recorded("sentry/raw-event-python.json")))
    assert stack.startswith("Traceback (most recent call last):\n  File \"")
    assert stack.endswith("Exception: This is an example Python exception")


def test_javascript_prints_v8_frames_newest_first():
    assert format_stack(parsed(NODE, "node")) == (
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at getUser (/app/src/users.js:14:22)\n"
        "    at Promise.all\n"
        "    at handler (/app/src/routes.js:30:5)\n"
        "    at Layer.handle [as handle_request] "
        "(/app/node_modules/express/lib/router/layer.js:95:5)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
        "    at file:///app/src/server.mjs:7:3")


def test_a_recorded_sentry_javascript_event_prints_v8_frames():
    stack = format_stack(detect_and_normalise(recorded("sentry/api-event-javascript.json")))
    lines = stack.splitlines()
    assert lines[0] == "ForbiddenError: GET /organizations/hellboy-meowmeow/users/ 403"
    assert lines[-1] == ("    at ignoreOnError (webpack:////usr/src/getsentry/src/sentry/"
                         "node_modules/@sentry/browser/esm/helpers.js:71:23)")
    assert all(line.startswith("    at ") for line in lines[1:])
    assert "Traceback" not in stack and 'File "' not in stack


def test_java_prints_the_thrown_exception_first_and_its_causes_below():
    lines = format_stack(parsed(JAVA, "java")).splitlines()
    assert lines[:4] == ["java.lang.IllegalStateException: Failed to load config",
                         "\tat com.acme.shop.App.load(App.java:42)",
                         "\tat com.acme.shop.App.main(App.java:10)",
                         "Caused by: java.io.FileNotFoundException: shop.yml (No such file or "
                         "directory)"]
    assert "\tat java.io.FileInputStream.open(FileInputStream.java:216)" in lines
    assert "\tat java.io.FileInputStream.open0(Unknown Source)" in lines


def test_kotlin_frames_print_as_the_jvm_prints_them():
    frames = [Frame(filename="MainActivity.kt", module="com.acme.shop.MainActivity",
                    function="onCreate", lineno=31),
              Frame(filename="Cart.kt", module="com.acme.shop.Cart", function="total", lineno=12)]
    exc = ExceptionInfo(type="NullPointerException", module="java.lang", value="cart",
                        frames=frames)
    assert format_stack(event([exc], "kotlin")) == (
        "java.lang.NullPointerException: cart\n"
        "\tat com.acme.shop.Cart.total(Cart.kt:12)\n"
        "\tat com.acme.shop.MainActivity.onCreate(MainActivity.kt:31)")


def test_go_prints_a_panic_with_function_and_file_lines():
    lines = format_stack(parsed(GO, "go")).splitlines()
    assert lines[:7] == ["panic: runtime error: index out of range [5] with length 3", "",
                         "goroutine 1 [running]:",
                         "main.lookup(...)", "\t/src/shop/cart.go:12",
                         "main.(*Server).checkout(...)", "\t/src/shop/server.go:20"]
    assert "net/http.HandlerFunc.ServeHTTP(...)" in lines


def ruby_event() -> ErrorEvent:
    """A Sentry Ruby event as its SDK sends it (frames oldest first)."""
    payload = recorded("sentry/raw-event-python.json")
    payload["platform"] = "ruby"
    payload["exception"] = {"values": [{"type": "NoMethodError",
                                        "value": "undefined method 'price' for nil",
                                        "module": None, "stacktrace": {"frames": [
        {"filename": "app/controllers/orders_controller.rb", "function": "create",
         "lineno": 14, "in_app": True},
        {"filename": "app/models/order.rb", "function": "total", "lineno": 40,
         "in_app": True}]}}]}
    return detect_and_normalise(payload)


def test_ruby_prints_file_line_in_method_newest_first():
    assert format_stack(ruby_event()) == (
        "app/models/order.rb:40:in 'total': undefined method 'price' for nil (NoMethodError)\n"
        "\tfrom app/controllers/orders_controller.rb:14:in 'create'")


def test_php_prints_a_numbered_stack_trace():
    frames = [Frame(abs_path="/var/www/app/public/index.php", function="App\\Kernel::handle",
                    lineno=12),
              Frame(abs_path="/var/www/app/src/Cart.php", function="App\\Cart::total",
                    lineno=40)]
    exc = ExceptionInfo(type="TypeError", value="Unsupported operand types: string + int",
                        frames=frames)
    assert format_stack(event([exc], "php")) == (
        "TypeError: Unsupported operand types: string + int in /var/www/app/src/Cart.php:40\n"
        "Stack trace:\n"
        "#0 /var/www/app/src/Cart.php(40): App\\Cart::total()\n"
        "#1 /var/www/app/public/index.php(12): App\\Kernel::handle()\n"
        "#2 {main}")


def test_dotnet_prints_at_method_in_file_line():
    frames = [Frame(abs_path="/src/Shop/Program.cs", module="Shop.Program", function="Main",
                    lineno=9),
              Frame(abs_path="/src/Shop/Cart.cs", module="Shop.Cart", function="Total",
                    lineno=40)]
    exc = ExceptionInfo(type="NullReferenceException", module="System",
                        value="Object reference not set to an instance of an object.",
                        frames=frames)
    assert format_stack(event([exc], "csharp")) == (
        "System.NullReferenceException: Object reference not set to an instance of an object.\n"
        "   at Shop.Cart.Total() in /src/Shop/Cart.cs:line 40\n"
        "   at Shop.Program.Main() in /src/Shop/Program.cs:line 9")


def test_an_unknown_runtime_gets_a_neutral_listing_that_says_its_order():
    frames = [Frame(filename="lib/shop/cart.ex", function="total/1", lineno=7, in_app=True),
              Frame(filename="lib/enum.ex", function="reduce/3", lineno=2, in_app=False)]
    exc = ExceptionInfo(type="ArithmeticError", value="bad argument", frames=frames)
    assert format_stack(event([exc], "elixir")) == (
        "ArithmeticError: bad argument\n"
        "Stack, oldest call first, crash last:\n"
        "  lib/shop/cart.ex:7 in total/1\n"
        "  lib/enum.ex:2 in reduce/3 (library)")


@pytest.mark.parametrize(("platform", "tags", "files", "language"), [
    ("python", {}, ["a.js"], "python"),  # the platform wins over the files
    ("node", {}, [], "javascript"),
    ("android", {}, [], "java"),
    ("ruby", {}, [], "ruby"),
    ("csharp", {}, [], "dotnet"),
    (None, {"source": "php"}, [], "php"),  # a Datadog source tag
    (None, {}, ["src/a.go", "src/b.go", "x.py"], "go"),  # most frames' extension
    (None, {}, ["C:\\src\\Cart.cs"], "dotnet"),
    (None, {}, ["https://shop.example/static/app.js?v=3"], "javascript"),
    ("cocoa", {}, ["main.m"], "neutral"),
    (None, {}, [], "neutral"),
])
def test_the_language_is_chosen_by_platform_tags_then_frame_files(platform, tags, files,
                                                                   language):
    exc = ExceptionInfo(type="E", frames=[Frame(filename=name) for name in files])
    assert stack_language(event([exc], platform, tags)) == language


def test_a_datadog_log_with_a_go_stack_prints_as_go():
    item = recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][0]
    attributes = item["attributes"]
    attributes["tags"] = ["env:production", "service:checkout"]
    attributes["attributes"]["error"] = {"kind": "panic", "message": "index out of range",
                                         "stack": GO}
    stack = format_stack(from_datadog_log(item))
    assert stack.startswith("panic: ") and "\tat " not in stack and "Traceback" not in stack


def test_the_fix_prompt_prints_the_stack_in_its_language():
    [playbook, *_] = load_playbooks(load_settings(None).playbooks_dir)
    context = sample_context().model_copy(update={"event": parsed(NODE, "node")})
    prompt = render_prompt(playbook, context)
    block = prompt.split("<untrusted-event-data>")[1].split("</untrusted-event-data>")[0]
    assert "The stack, as javascript prints it:" in block
    assert "    at getUser (/app/src/users.js:14:22)" in block
    assert "Traceback" not in prompt


def test_a_javascript_alert_becomes_a_ticket_with_a_v8_stack(tmp_path):
    app = make_app(tmp_path)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    drain(app)
    [ticket] = sorted((tmp_path / "tickets").rglob("*.md"))
    stack = ticket.read_text().split("## Stack trace\n```\n")[1].split("\n```")[0]
    header, *frames = stack.splitlines()
    assert header.startswith("ReferenceError: ") and len(frames) >= 2
    assert all(line.startswith("    at ") for line in frames)
    assert "Traceback" not in stack
    app.close()


def test_javascript_frames_without_a_file_or_column_still_read_as_v8():
    frames = [Frame(function="runMicrotasks", lineno=3), Frame(filename="/app/a.js", lineno=1)]
    exc = ExceptionInfo(type="Error", value="boom", frames=frames)
    assert format_stack(event([exc], "javascript")) == (
        "Error: boom\n    at /app/a.js:1\n    at runMicrotasks")
