"""The clustering fingerprint: equal for one bug across vendors and deploys, distinct otherwise."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from integrations.standins.base import recorded
from worker.fingerprint import fingerprint, frame_key, normalise_message
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.normalise import from_datadog_log, from_sentry_api, from_sentry_stored

NOW = datetime(2024, 1, 1, tzinfo=UTC)

JAVA_STACK = """\
java.lang.IllegalStateException: Failed to load config 7
\tat com.acme.shop.Config.read(Config.java:17)
\tat com.acme.shop.App.load(App.java:42)
\tat com.acme.shop.App.main(App.java:10)
"""


def event(kind: str = "KeyError", frames: list[Frame] | None = None, value: str = "",
          platform: str | None = "python", module: str | None = None) -> ErrorEvent:
    return ErrorEvent(
        source=Source.SENTRY, event_id="e", timestamp=NOW, platform=platform,
        exceptions=[ExceptionInfo(type=kind, module=module, value=value, frames=frames or [])],
    )


def py_frames(root: str = "/srv/", lines: tuple[int, int] = (10, 20)) -> list[Frame]:
    return [
        Frame(abs_path=f"{root}shop/views.py", function="checkout", lineno=lines[0]),
        Frame(abs_path=f"{root}shop/cart.py", function="load_basket", lineno=lines[1]),
    ]


def composed(index: int) -> dict[str, Any]:
    return recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][index]


def test_same_python_error_from_sentry_and_datadog() -> None:
    sentry = from_sentry_stored(recorded("sentry/raw-event-python.json"))
    datadog = from_datadog_log(composed(0))
    assert [frame_key(f) for f in sentry.frames] == ["main:<module>", "main:main"]
    assert fingerprint(sentry) == fingerprint(datadog)


def test_same_javascript_error_from_sentry_and_datadog() -> None:
    sentry = from_sentry_api(recorded("sentry/api-event-javascript-cloudflare.json"))
    datadog = from_datadog_log(composed(1))
    assert fingerprint(sentry) == fingerprint(datadog)


def test_same_java_error_from_sentry_and_datadog() -> None:
    # Sentry's Java SDK splits the class into package (`module`) and name, frames oldest first.
    frames = [{"module": f"com.acme.shop.{cls}", "function": fn, "filename": f"{cls}.java",
               "lineno": line, "in_app": True}
              for cls, fn, line in [("App", "main", 11), ("App", "load", 44),
                                    ("Config", "read", 18)]]
    sentry = from_sentry_stored({"platform": "java", "exception": {"values": [{
        "type": "IllegalStateException", "module": "java.lang", "value": "Failed to load config 9",
        "stacktrace": {"frames": frames}}]}})
    log = {"id": "j1", "attributes": {"timestamp": "2024-01-01T00:00:00Z", "tags": ["source:java"],
                                      "attributes": {"error": {"stack": JAVA_STACK}}}}
    datadog = from_datadog_log(log)
    assert datadog.platform == "java"
    assert fingerprint(sentry) == fingerprint(datadog)


def test_different_errors_differ() -> None:
    python = from_sentry_stored(recorded("sentry/raw-event-python.json"))
    javascript = from_sentry_api(recorded("sentry/api-event-javascript-cloudflare.json"))
    celery = from_sentry_api(recorded("sentry/api-event-python-exception-entries.json"))
    prints = {fingerprint(e) for e in (python, javascript, celery)}
    assert len(prints) == 3
    key_error, value_error = event("KeyError", py_frames()), event("ValueError", py_frames())
    assert fingerprint(key_error) != fingerprint(value_error)
    moved = py_frames()
    moved[-1] = moved[-1].model_copy(update={"function": "save_basket"})
    assert fingerprint(event(frames=py_frames())) != fingerprint(event(frames=moved))


def test_line_numbers_do_not_matter() -> None:
    assert fingerprint(event(frames=py_frames(lines=(10, 20)))) == fingerprint(
        event(frames=py_frames(lines=(310, 2))))
    shifted = recorded("sentry/raw-event-python.json")
    for frame in shifted["exception"]["values"][0]["stacktrace"]["frames"]:
        frame["lineno"] += 40
    assert fingerprint(from_sentry_stored(shifted)) == fingerprint(
        from_sentry_stored(recorded("sentry/raw-event-python.json")))


def test_container_prefixes_do_not_matter() -> None:
    prints = {fingerprint(event(frames=py_frames(root))) for root in ("/srv/", "/app/", "/",
                                                                       "/builds/ci/")}
    assert len(prints) == 1


def test_path_spellings_of_one_file_agree() -> None:
    spellings = [
        Frame(abs_path="webpack:///./src/cart.ts", function="load"),
        Frame(filename="./src/cart.js", function="load"),
        Frame(abs_path="https://cdn.shop.test/static/cart.js?v=93f1#x", function="load"),
        Frame(abs_path="C:\\build\\src\\cart.js", function="load"),
        Frame(abs_path="file:///app/src/cart.mjs", function="async load"),
        Frame(filename="cart.min.js", function="Object.load"),
    ]
    assert {frame_key(frame) for frame in spellings} == {"cart:load"}
    assert frame_key(Frame(filename="views.pyc", function="index")) == frame_key(
        Frame(filename="views.py", abs_path="/srv/app/views.py", function="index"))


def test_volatile_message_parts_do_not_matter_without_frames() -> None:
    one = event("TimeoutError", value="call 8f14e45f-ceea-467f-a8f2-2f1c3f3f9a01 to 10.0.0.7:5432 "
                                      "timed out after 3000 ms")
    two = event("TimeoutError", value="call 1c9a2b4e-0d3f-4e5a-9b8c-7d6e5f4a3b2c to 10.0.3.9:6432 "
                                      "timed out after 3001 ms")
    other = event("TimeoutError", value="lock wait timed out")
    assert fingerprint(one) == fingerprint(two) != fingerprint(other)


def test_module_prefix_is_ignored_but_jvm_packages_are_kept() -> None:
    assert fingerprint(event("builtins.KeyError", py_frames())) == fingerprint(
        event("KeyError", py_frames()))
    assert fingerprint(event("KeyError", py_frames(), module="builtins")) == fingerprint(
        event("KeyError", py_frames()))
    java = [Frame(module="com.acme.App", filename="App.java", function="run")]
    assert fingerprint(event("com.acme.NotFound", java, platform="java")) != fingerprint(
        event("org.other.NotFound", java, platform="java"))


def test_only_the_innermost_app_frames_count() -> None:
    inner = [Frame(abs_path=f"/app/m{i}.py", function=f"f{i}") for i in range(6)]
    library = Frame(abs_path="/usr/lib/python3.12/site-packages/gunicorn/w.py", function="run")
    entry_a = [Frame(abs_path="/app/cli.py", function="main"), library]
    entry_b = [Frame(abs_path="/app/wsgi.py", function="app")]
    assert fingerprint(event(frames=entry_a + inner)) == fingerprint(event(frames=entry_b + inner))
    assert fingerprint(event(frames=inner)) != fingerprint(event(frames=inner[:-1]))


def test_library_only_stacks_use_all_frames() -> None:
    base = from_sentry_api(recorded("sentry/api-event-javascript.json"))
    assert base.frames and not any(f.in_app for f in base.frames)
    renamed = copy.deepcopy(recorded("sentry/api-event-javascript.json"))
    renamed["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]["function"] = "other"
    assert fingerprint(base) != fingerprint(from_sentry_api(renamed))


def test_recursion_depth_does_not_matter() -> None:
    walk = Frame(abs_path="/app/tree.py", function="walk")
    top = Frame(abs_path="/app/tree.py", function="render")
    assert fingerprint(event(frames=[top, walk, walk, walk])) == fingerprint(
        event(frames=[top, walk]))


def test_message_placeholders() -> None:
    text = ("user 42 (ada@example.com) at 2024-01-02T03:04:05Z from 192.168.0.9:8080 and "
            "2a06:98c0:3600::103 id 550e8400-e29b-41d4-a716-446655440000 ptr 0x7ffe12 "
            "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 key 'order_7731' utf8 host db:5432")
    assert normalise_message(text) == (
        "user <n> (<email>) at <ts> from <ip>:<port> and <ip> id <uuid> ptr <hex> commit <hex> "
        "key '<id>' utf8 host db:<port>")


def test_fingerprint_is_short_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint(event()))


@given(st.text(max_size=300))
def test_normalise_message_is_idempotent(text: str) -> None:
    once = normalise_message(text)
    assert normalise_message(once) == once


@given(
    st.lists(st.sampled_from(["load", "save", "render", "<module>", "Object.fetch"]),
             min_size=1, max_size=9),
    st.lists(st.integers(min_value=1, max_value=100_000), min_size=9, max_size=9),
    st.lists(st.integers(min_value=1, max_value=100_000), min_size=9, max_size=9),
)
def test_fingerprint_ignores_line_numbers(functions: list[str], lines_a: list[int],
                                          lines_b: list[int]) -> None:
    def frames(lines: list[int]) -> list[Frame]:
        return [Frame(abs_path=f"/app/mod{i % 3}.py", function=name, lineno=line, colno=line % 80)
                for i, (name, line) in enumerate(zip(functions, lines, strict=False))]

    assert fingerprint(event(frames=frames(lines_a))) == fingerprint(event(frames=frames(lines_b)))
