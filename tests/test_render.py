"""Rendering `ticket.md.j2`: the evidence it shows, and untrusted text kept literal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError

from worker.correlate.models import Correlation, Owner, Suspect
from worker.fix.models import SuiteReport, Verification
from worker.models import (
    Cluster,
    ErrorEvent,
    ExceptionInfo,
    Frame,
    RequestData,
    RunState,
    Source,
)
from worker.render import Renderer, autolink, escape_markdown, fenced, inline_code
from worker.runs import FixOutcome, Run
from worker.settings import ServiceSettings, load_settings
from worker.stacktrace import format_stack

NOW = datetime(2025, 6, 27, 6, 48, 12, tzinfo=UTC)
MARKER = "suture:ticket:5143eaf8178c5ab6709072ec7d1fc405:1"
SHOP = ServiceSettings(name="shop", sentry_project="shop", repository="/srv/shop",
                       slug="acme/shop")
HOSTILE = "ping @octocat, see [the docs](https://evil.example) <img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_settings(None).playbooks_dir)


def make_cluster(**changes) -> Cluster:
    values = {"id": 7, "fingerprint": "5143eaf8178c5ab6709072ec7d1fc405",
              "title": "ZeroDivisionError: division by zero",
              "exception_type": "ZeroDivisionError", "culprit": "shop/cart.py in average",
              "project": "shop", "event_count": 3, "user_count": 2, "first_seen": NOW,
              "last_seen": NOW, "links": {"sentry": "https://sentry.example/issues/4201/"}}
    return Cluster(**{**values, **changes})


def make_run(episode: int = 1) -> Run:
    return Run(id=11, cluster_id=7, episode=episode, state=RunState.PUBLISHING,
               created_at=NOW, updated_at=NOW)


def make_event(value: str = "division by zero", context_line: str = "return sum(xs) / len(xs)",
               request: RequestData | None = None) -> ErrorEvent:
    frames = [
        Frame(filename="shop/web.py", function="cart_average", lineno=31,
              context_line="return average(cart.prices)"),
        Frame(filename="shop/cart.py", function="average", lineno=12, context_line=context_line),
    ]
    return ErrorEvent(
        source=Source.SENTRY, event_id="e" * 32, project="shop", timestamp=NOW,
        release="a1b2c3d4e5f6", environment="production",
        exceptions=[ExceptionInfo(type="ZeroDivisionError", value=value, frames=frames)],
        request=request or RequestData(method="GET", url="https://shop.example/cart/average",
                                       query="cart=empty"))


def render(renderer: Renderer, *, cluster: Cluster | None = None, run: Run | None = None,
           event: ErrorEvent | None = None, service: ServiceSettings | None = SHOP,
           correlation: Correlation | None = None, fix: dict | None = None,
           fix_reason: str = "") -> str:
    event = event if event is not None else make_event()
    return renderer.render("ticket.md.j2", cluster=cluster or make_cluster(),
                           run=run or make_run(), event=event, service=service,
                           stack=format_stack(event), marker=MARKER, correlation=correlation,
                           commit_url=lambda sha: f"https://github.com/acme/shop/commit/{sha}",
                           fix=FixOutcome.model_validate(fix) if fix else None,
                           fix_reason=fix_reason)


def fenced_block_after(markdown: str, heading: str) -> str:
    """The content of the first fenced block after `heading`, closed the CommonMark way."""
    lines = markdown.splitlines()
    start = lines.index(heading) + 1
    opening = re.fullmatch(r"(`{3,})\w*", lines[start])
    assert opening, f"no fence after {heading!r}: {lines[start]!r}"
    width = len(opening.group(1))
    for index in range(start + 1, len(lines)):
        if re.fullmatch(r" {0,3}`{" + str(width) + r",}\s*", lines[index]):
            return "\n".join(lines[start + 1:index])
    raise AssertionError("the fence is never closed")


def unescaped(markdown: str, char: str) -> list[int]:
    """Offsets of `char` not preceded by a backslash."""
    return [match.start() for match in re.finditer(rf"(?<!\\){re.escape(char)}", markdown)]


def test_a_ticket_shows_the_cluster_the_run_and_the_event(renderer):
    body = render(renderer)

    assert body.startswith("## What\n**ZeroDivisionError**: division by zero\n")
    assert "A new error cluster." in body and "Regression" not in body
    assert "- Service: shop (acme/shop)" in body
    assert "- Culprit: `shop/cart.py in average`" in body
    assert "- Release: `a1b2c3d4e5f6`" in body
    assert "- Environment: production" in body
    assert "- Request: `GET https://shop.example/cart/average?cart=empty`" in body
    assert "| 3 | 2 | 2025-06-27 06:48 UTC | 2025-06-27 06:48 UTC | 0 |" in body
    assert "- sentry: <https://sentry.example/issues/4201/>" in body
    assert body.rstrip().endswith(f"`5143eaf8178c`. {MARKER}</sub>")


def test_the_stack_trace_is_in_a_fence(renderer):
    event = make_event()

    block = fenced_block_after(render(renderer, event=event), "## Stack trace")

    assert block == format_stack(event)
    assert 'File "shop/cart.py", line 12, in average' in block


def test_backticks_in_the_stack_cannot_close_its_fence(renderer):
    sneaky = "```\n## Injected heading @octocat\n```"
    event = make_event(context_line="x = '```'  # ``` and ````", value=sneaky)

    body = render(renderer, event=event)
    block = fenced_block_after(body, "## Stack trace")

    assert block == format_stack(event)
    assert "## Injected heading @octocat" in block
    assert "\n## Injected heading" not in body.replace(block, "")


def test_regressions_say_so_with_the_episode(renderer):
    body = render(renderer, run=make_run(episode=3))

    assert "Regression: this bug was resolved and is back (episode 3)." in body
    assert "A new error cluster." not in body


def test_mentions_links_and_html_in_the_exception_value_stay_literal(renderer):
    body = render(renderer, event=make_event(value=HOSTILE))

    what = body.split("\n\n")[0]
    assert "@\u2060octocat" in what and "@octocat" not in what
    assert r"\[the docs\]\(https://evil.example\)" in what
    assert r"\<img src=x onerror=alert\(1\)\>" in what
    for char in "[]()<>":
        assert unescaped(what, char) == []


def test_a_blank_line_in_untrusted_text_cannot_start_new_markdown(renderer):
    hostile = "line one\n\n# Heading\n\n<script>alert(1)</script> @octocat"
    event = make_event(value=hostile, request=RequestData(
        method="GET", url="https://shop.example/cart\n\n# Owned @everyone", query="a=`b`"))
    cluster = make_cluster(culprit="cart.py in f\n\n@admin <b>bold</b>",
                           links={"sentry": "https://sentry.example/x\n\n@octocat",
                                  "other": "img"})

    body = render(renderer, cluster=cluster, event=event)
    outside_stack = body.replace(fenced_block_after(body, "## Stack trace"), "")

    assert "- Culprit: `cart.py in f @admin <b>bold</b>`" in body
    assert "- Request: `` GET https://shop.example/cart # Owned @everyone?a=`b` ``" in body
    assert "- sentry: <https://sentry.example/x%0A%0A@octocat>" in body
    assert "- other: `img`" in body
    injected = ("# Heading", "# Owned", "<script", "<b>", "@admin", "@octocat", "@everyone")
    for line in outside_stack.splitlines():
        assert not line.lstrip().startswith(injected), line


def test_a_cluster_without_an_exception_type_gets_a_readable_heading(renderer):
    body = render(renderer, cluster=make_cluster(exception_type="", title="Queue stalled",
                                                 culprit="", links={}))

    assert body.startswith("## What\n**Queue stalled**")
    assert "****" not in body
    assert "- Culprit: _unknown_" in body
    assert "- _none_" in body


def test_without_a_service_the_project_is_shown_and_without_an_event_nothing_breaks(renderer):
    body = renderer.render("ticket.md.j2", cluster=make_cluster(), run=make_run(), event=None,
                           service=None, stack="", marker=MARKER, correlation=None,
                           commit_url=lambda sha: None, fix=None, fix_reason="")

    assert "- Service: shop\n" in body
    assert "_No stack trace was captured for this error._" in body
    assert "Release" not in body and "Request" not in body
    assert MARKER in body


def test_a_missing_variable_fails_instead_of_printing_nothing(renderer):
    with pytest.raises(UndefinedError, match="marker"):
        renderer.render("ticket.md.j2", cluster=make_cluster(), run=make_run(),
                        event=make_event(), service=SHOP, stack="", correlation=None,
                        commit_url=lambda sha: None, fix=None, fix_reason="")


def test_a_missing_attribute_fails_too(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "typo.md.j2").write_text("{{ cluster.fingerprnt }}\n")

    with pytest.raises(UndefinedError, match="fingerprnt"):
        Renderer(tmp_path).render("typo.md.j2", cluster=make_cluster())


def test_escape_markdown_flattens_whitespace_and_escapes_every_special_character():
    assert escape_markdown("a\n\n  b") == "a b"
    assert escape_markdown("*_`#|~!+{}") == r"\*\_\`\#\|\~\!\+\{\}"
    assert escape_markdown(42) == "42"


@given(st.text())
def test_inline_code_is_one_span_the_text_cannot_close(text):
    span = inline_code(text)
    flat = " ".join(text.split())
    if not flat:
        assert span == ""
        return
    delimiter = re.match(r"`+", span).group()
    assert "\n" not in span and span.endswith(delimiter)
    inner = span[len(delimiter):-len(delimiter)]
    assert delimiter not in re.findall(r"`+", inner)
    # The renderer strips one space from each side when both are there.
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    assert inner == flat


@given(st.text())
def test_a_fence_is_longer_than_any_backtick_run_inside(text):
    block = fenced(text)
    fence = block.split("\n", 1)[0]
    assert len(fence) >= 3 and set(fence) == {"`"}
    assert all(len(run) < len(fence) for run in re.findall(r"`+", text))
    assert block == f"{fence}\n{text}\n{fence}"


def test_autolink_encodes_what_would_end_the_link():
    assert autolink("https://a.example/p q<r>") == "<https://a.example/p%20q%3Cr%3E>"
    assert autolink("javascript:alert(1)") == "`javascript:alert(1)`"


def test_suspects_and_owners_are_listed_with_links_and_reasons(renderer):
    correlation = Correlation(release="f" * 40, suspects=[Suspect(
        sha="a" * 40, score=9.5, confidence=0.87, author="Grace | Hopper",
        summary="Show the *average* price", reasons=["last changed the crashing line"])],
        owners=[Owner(name="Ada", login="ada", source="codeowners", reason="line 3 owns x")])
    body = render(renderer, correlation=correlation)
    assert "[`aaaaaaaaaaaa`](https://github.com/acme/shop/commit/" + "a" * 40 + ")" in body
    assert "87%" in body and r"Grace \| Hopper" in body and r"\*average\*" in body
    assert "last changed the crashing line" in body and "@ada (codeowners" in body


def test_without_correlation_the_ticket_says_so(renderer):
    body = render(renderer, correlation=Correlation(release="f" * 40, note="no frame maps"))
    assert "_no frame maps_" in body and "_none found_" in body


def test_a_verified_patch_is_shown_as_a_diff_and_a_rejection_with_its_reason(renderer):
    patch = "--- a/shop/pricing.py\n+++ b/shop/pricing.py\n@@ -1 +1 @@\n-a\n+b\n"
    verification = Verification(verified=True, suite=SuiteReport(ran=True))
    chosen = {"agent": "templates", "patch": patch, "changed_lines": 2,
              "verification": verification}
    body = render(renderer, fix={"chosen": chosen, "attempts": [{"agent": "templates"}]})
    assert "```diff\n" + patch in body and "`templates` agent" in body
    assert "the test suite no\nworse than before" in body
    rejected = render(renderer, fix={"attempts": [{"agent": "templates"}]},
                      fix_reason="tests fail on the fix")
    assert "_No patch passed verification._ tests fail on the fix" in rejected


def test_a_patch_verified_without_the_suite_says_the_suite_did_not_run(renderer):
    patch = "--- a/shop/pricing.py\n+++ b/shop/pricing.py\n@@ -1 +1 @@\n-a\n+b\n"
    off = Verification(verified=True, suite=SuiteReport(note="switched off by the playbook"))
    body = render(renderer, fix={"chosen": {"agent": "templates", "patch": patch,
                                            "changed_lines": 2, "verification": off}})
    assert "The test suite did\nnot run: switched off by the playbook." in body
    assert "no\nworse than before" not in body


def test_the_commit_bisection_found_is_shown_with_its_link_and_the_runs_it_took(renderer):
    sha = "c" * 40
    bisection = {"culprit": sha, "good": "d" * 40, "author": "Grace Hopper",
                 "summary": "Simplify [average](https://evil.example)",
                 "reason": f"the reproduction fails at {sha[:12]} and passes at its parent",
                 "probes": [{"sha": sha, "verdict": "bad", "detail": ""}] * 3, "searched": 9}
    body = render(renderer, fix={"bisection": bisection})
    line = next(x for x in body.splitlines() if x.startswith("**Found by bisection"))
    assert f"[`{sha[:12]}`](https://github.com/acme/shop/commit/{sha})" in line
    assert "Simplify \\[average\\]\\(https://evil.example\\)" in line
    assert line.endswith("passes at its parent, 3 runs; not among the suspects below.")
    correlation = Correlation(release="f" * 40, suspects=[
        Suspect(sha=s, score=1.0, confidence=0.5, author="A", summary="x", reasons=[])
        for s in ("a" * 40, sha)])
    ranked = render(renderer, fix={"bisection": bisection}, correlation=correlation)
    assert "3 runs; suspect 2 below." in ranked
    absent = render(renderer, fix={"bisection": {**bisection, "good_verdict": "absent"}})
    assert "**The crash is as old as the code it runs, by bisection with a reproduction " \
           "test:** [`cccccccccccc`]" in absent


def test_a_bisection_that_found_nothing_says_why(renderer):
    bisection = {"culprit": None, "good": None, "author": "", "summary": "", "probes": [],
                 "reason": "no commit within 40 commits of history passes the reproduction",
                 "searched": 41}
    body = render(renderer, fix={"bisection": bisection})
    assert ("_Bisection with a reproduction test found no culprit: no commit within 40 "
            "commits of history passes the reproduction._") in body
    assert "Found by bisection" not in render(renderer)


def test_the_ticket_shows_the_verdict_counts_and_every_rejected_attempt_with_its_reasons(
        renderer):
    patch = "--- a/shop/pricing.py\n+++ b/shop/pricing.py\n@@ -1 +1 @@\n-a\n+b\n"
    counts = {"passed_on_base": 412, "failing_on_base": 3, "broken": 0, "fixed": 0,
              "ran_on_base": 415, "ran_on_fix": 416}
    verified = {"verified": True, "suite": {"ran": True, "counts": counts},
                "reproduction": {"ran": True, "counts": {"tests": 1, "reproduced": 1}}}
    body = render(renderer, fix={"chosen": {"agent": "templates", "patch": patch,
                                            "changed_lines": 2, "verification": verified}})
    assert ("Evidence: reproduction: 1 of 1 test\\(s\\) red on base, green on fix; suite: 412 "
            "passed on base and on fix, 3 failing on both \\(415 ran on base, 416 on the "
            "fix\\).") in body
    rejected = {"agent": "toolloop", "verified": False, "status": "rejected",
                "reasons": ["reproduction test passes on base: t::a", "second", "third", "4th"],
                "suite": {"ran": True, "counts": counts}}
    stuck = {"agent": "cli", "verified": False, "status": "could not verify",
             "reasons": ["no test ran on base: 1 test module(s) could not be loaded"]}
    body = render(renderer, fix={
        "attempts": [{"agent": "templates", "error": "no rewrite for this crash"},
                     {"agent": "toolloop", "patch": patch}, {"agent": "cli", "patch": patch}],
        "verifications": [rejected, stuck]}, fix_reason="verification rejected every patch")
    assert "- `templates`: no patch: no rewrite for this crash" in body
    assert ("- `toolloop`: rejected: reproduction test passes on base: t::a; second; third "
            "(reproduction: no test ran; suite: 412 passed") in body
    assert "4th" not in body
    assert ("- `cli`: could not verify: no test ran on base: 1 test module\\(s\\) could not be "
            "loaded (reproduction: no test ran; suite: not run)") in body
