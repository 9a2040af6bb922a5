"""`suture suspects`: the JSON contract, the table, every event shape it reads, and bad input.

The event files start from recorded vendor payloads with their stack replaced by frames of a
small repository built in the test, so each shape is read exactly as production delivers it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integrations.standins.base import recorded
from tests.gitrepo import GitRepoBuilder, lines
from worker.cli import cli

WHEN = "2026-02-01T00:00:00Z"
CART = lines('"""Cart arithmetic."""', "", "", "def total(items, discounts):",
             "    subtotal = sum(i.price for i in items)", '    rate = discounts["rate"]',
             "    return subtotal - rate")
WEB = lines("from shop.cart import total", "", "", "def handler(request):",
            "    return total(request.items, request.discounts)")
STORED_FRAMES = [
    {"filename": "flask/app.py", "abs_path": "/usr/local/lib/python3.11/site-packages/flask/"
     "app.py", "module": "flask.app", "function": "dispatch_request", "lineno": 880,
     "in_app": False},
    {"filename": "shop/web.py", "abs_path": "/usr/src/app/src/shop/web.py", "module": "shop.web",
     "function": "handler", "lineno": 5, "in_app": True},
    {"filename": "shop/cart.py", "abs_path": "/usr/src/app/src/shop/cart.py",
     "module": "shop.cart", "function": "total", "lineno": 6, "in_app": True,
     "context_line": '    rate = discounts["rate"]'},
]
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.11/site-packages/flask/app.py", line 880, in dispatch_request\n'
    "    rv = self.handle_user_exception(e)\n"
    '  File "/usr/src/app/src/shop/web.py", line 5, in handler\n'
    "    return total(request.items, request.discounts)\n"
    '  File "/usr/src/app/src/shop/cart.py", line 6, in total\n'
    '    rate = discounts["rate"]\n'
    "KeyError: 'rate'"
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A repository with an old import, the culprit, a docs change and the release tag."""
    builder = GitRepoBuilder(tmp_path_factory.mktemp("cli") / "shop")
    shas = {
        "import": builder.commit({"src/shop/cart.py": CART.replace(
            '    rate = discounts["rate"]\n', "").replace(" - rate", ""),
            "src/shop/web.py": WEB, "CODEOWNERS": "*.py @shop-devs\n"},
            "import the shop", author=("Linus Pauling", "linus@example.com"),
            date="2025-10-01T00:00:00Z"),
        "culprit": builder.commit({"src/shop/cart.py": CART}, "Apply the discount rate",
                                  author=("Grace Hopper", "7+grace@users.noreply.github.com"),
                                  date="2026-01-10T00:00:00Z"),
    }
    builder.commit({"README.md": "# shop\n"}, "docs", date="2026-01-20T00:00:00Z")
    builder.tag("v2.0")
    return builder.path, shas


def stored_event() -> dict[str, Any]:
    """Sentry's stored event shape (webhooks, the legacy plugin, raw samples)."""
    event = recorded("sentry/raw-event-python.json")
    event.update({"event_id": "a" * 32, "timestamp": WHEN, "release": "v2.0"})
    event["exception"] = {"values": [{"type": "KeyError", "value": "'rate'",
                                      "stacktrace": {"frames": STORED_FRAMES}}]}
    return event


def api_event() -> dict[str, Any]:
    """Sentry's REST API event shape: `entries`, camelCase frames, release as an object."""
    event = recorded("sentry/api-event-python-exception-entries.json")
    frames = [{"filename": f["filename"], "absPath": f["abs_path"], "module": f["module"],
               "function": f["function"], "lineNo": f["lineno"], "inApp": f["in_app"]}
              for f in STORED_FRAMES]
    event.update({"eventID": "b" * 32, "dateCreated": WHEN, "release": {"version": "v2.0"}})
    event["entries"] = [{"type": "exception", "data": {"values": [
        {"type": "KeyError", "value": "'rate'", "stacktrace": {"frames": frames}}]}}]
    return event


def webhook_body() -> dict[str, Any]:
    """An integration-platform `error` webhook carrying the stored event."""
    body = recorded("sentry/webhook-error-created.json")
    error = copy.deepcopy(body["data"]["error"])
    error.update({k: v for k, v in stored_event().items()
                  if k in ("event_id", "timestamp", "release", "exception")})
    error.pop("datetime", None)
    body["data"]["error"] = error
    return body


def datadog_log() -> dict[str, Any]:
    """A Datadog Logs search item whose `error.stack` is a Python traceback."""
    item = recorded("datadog/logs-search.response.error-stack.COMPOSED.json")["data"][0]
    attributes = item["attributes"]
    attributes["timestamp"] = WHEN
    attributes["tags"] = ["source:python", "env:production", "service:shop", "version:v2.0"]
    attributes["attributes"]["error"] = {"kind": "KeyError", "message": "'rate'",
                                         "stack": TRACEBACK}
    return item


SHAPES = {"sentry-stored": stored_event, "sentry-api": api_event,
          "sentry-webhook": webhook_body, "datadog-log": datadog_log}


def suspects(repo: Path, event: Path, *extra: str):
    return CliRunner().invoke(cli, ["suspects", "--repo", str(repo), "--event", str(event),
                                    *extra])


def write(tmp_path: Path, payload: Any, name: str = "event.json") -> Path:
    target = tmp_path / name
    target.write_text(json.dumps(payload), "utf-8")
    return target


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_json_contract_for_every_event_shape(shop, tmp_path, shape):
    repo, shas = shop
    result = suspects(repo, write(tmp_path, SHAPES[shape]()), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["note"] == ""  # the release tag was found
    suspect_keys = {"sha", "score", "confidence", "author", "summary", "reasons"}
    assert all(suspect_keys <= set(s) for s in found["suspects"])
    # The old import also touched the crashing file, but ranks at 0% beside the culprit: a
    # suspect without evidence is not listed.
    assert [s["sha"] for s in found["suspects"]] == [shas["culprit"]]
    top = found["suspects"][0]
    assert (top["author"], top["summary"]) == ("Grace Hopper", "Apply the discount rate")
    assert top["reasons"][0] == "last changed the crashing line src/shop/cart.py:6"
    assert 0 < top["confidence"] <= 1
    assert found["owners"][0] == {"name": "@shop-devs", "login": "shop-devs",
                                  "source": "codeowners",
                                  "reason": "CODEOWNERS line 1 (*.py) owns src/shop/cart.py"}
    assert {"name": "Grace Hopper", "login": "grace", "source": "blame",
            "reason": "last changed src/shop/cart.py:6"} in found["owners"]


def test_top_limits_the_json_list(shop, tmp_path):
    repo, shas = shop
    result = suspects(repo, write(tmp_path, stored_event()), "--json", "--top", "1")
    assert result.exit_code == 0, result.output
    assert [s["sha"] for s in json.loads(result.stdout)["suspects"]] == [shas["culprit"]]


def test_release_option_overrides_the_events(shop, tmp_path):
    repo, _shas = shop
    event = stored_event()
    event["release"] = "shop@0.0.1"
    result = suspects(repo, write(tmp_path, event), "--json")
    assert "is not in the repository; used HEAD" in json.loads(result.stdout)["note"]
    result = suspects(repo, write(tmp_path, event), "--json", "--release", "v2.0",
                      "--previous-release", "v2.0~1")
    found = json.loads(result.stdout)
    assert found["note"] == ""
    assert "new since the previous release" not in found["suspects"][0]["reasons"]


def test_table_without_json(shop, tmp_path):
    repo, shas = shop
    result = suspects(repo, write(tmp_path, stored_event()))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("release ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    row = next(line for line in text.splitlines() if shas["culprit"][:12] in line)
    assert row.lstrip().startswith("1 ") and "Grace Hopper: Apply the discount rate" in row
    assert "- last changed the crashing line src/shop/cart.py:6" in text
    assert "owners:" in text and "@shop-devs (codeowners:" in text
    assert "@grace (blame: last changed src/shop/cart.py:6)" in text


def test_an_event_without_mappable_frames_prints_the_note(shop, tmp_path):
    repo, _shas = shop
    event = stored_event()
    event["exception"]["values"][0]["stacktrace"]["frames"] = [
        {"abs_path": "/srv/elsewhere/main.py", "function": "main", "lineno": 1,
         "in_app": True}]
    result = suspects(repo, write(tmp_path, event), "--json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert found["suspects"] == [] and found["owners"] == []
    assert found["note"] == "no frame maps to a file of the repository"


@pytest.mark.parametrize("content", ["{not json", "", "[1, 2]", '{"hello": "world"}', "null",
                                     "\udcff"], ids=["garbage", "empty", "list", "unknown-shape",
                                                     "null", "undecodable"])
def test_unreadable_event_exits_1_with_a_message(shop, tmp_path, content):
    repo, _shas = shop
    target = tmp_path / "bad.json"
    target.write_bytes(content.encode("utf-8", "surrogateescape"))
    result = suspects(repo, target, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("suture: cannot read the event:")


def test_missing_event_file_exits_1(shop, tmp_path):
    repo, _shas = shop
    result = suspects(repo, tmp_path / "nowhere.json")
    assert result.exit_code == 1
    assert "suture: cannot read the event" in result.stderr
    assert "nowhere.json" in result.stderr


def test_repository_that_is_not_git_exits_1(tmp_path):
    result = suspects(tmp_path, write(tmp_path, stored_event()), "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith("suture: not a git repository")
