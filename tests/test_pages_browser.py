"""The review pages in real headless Chromium (Debian's, through Playwright's
`executable_path`) against the app served over HTTP: log in, clusters → cluster → run, a live
timeline, a retry recorded in the store, and refusals without a login or with a wrong form
token. Full-page screenshots are saved in the test's folder and their paths printed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from integrations.browser.screenshot import find_chromium
from tests.pages_seed import PNG, Clock, seed
from tests.support import make_app
from worker.models import RunState
from worker.web.server import serve_in_thread

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="chromium is not installed (apt-get install chromium)")
TOKEN = "browser-test-token-9876543210"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # As integrations/browser/screenshot.py launches it: the system Chromium, its sandbox
        # off only as root (where it cannot start), no proxy.
        launched = playwright.chromium.launch(
            executable_path=find_chromium(), headless=True,
            chromium_sandbox=os.geteuid() != 0, args=["--no-proxy-server"])
        print(f"chromium {launched.version}")
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    app = make_app(tmp_path, clock=clock,
                   settings={"pages": {"token": TOKEN, "refresh_seconds": 1}})
    shots = tuple(app.deps.artifacts.put(1, f"replay-{label}.png", PNG, "image/png").url
                  for label in ("base", "fix"))
    seeded = seed(app.store, clock, shots)
    server, url = serve_in_thread(app.web(), log_level="critical")
    yield app, seeded, url
    server.should_exit = True
    app.close()


def log_in(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login?next=%2F")
    page.get_by_label("Your name").fill("Dana Oncall")
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/")


def test_on_call_reviews_a_run_and_retries_it_in_chromium(browser, site, tmp_path):
    app, seeded, url = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, url)
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    page.screenshot(path=str(tmp_path / "clusters.png"), full_page=True)

    page.get_by_role("link", name="KeyError: 'sku'").click()
    expect(page.get_by_role("heading", name="KeyError: 'sku'")).to_be_visible()
    page.screenshot(path=str(tmp_path / "cluster.png"), full_page=True)
    page.get_by_role("link", name=f"run {seeded.failed}", exact=True).click()
    expect(page).to_have_url(f"{url}/runs/{seeded.failed}")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("fix: the agent endpoint refused the request")
    expect(timeline).to_contain_text("new cluster")

    page.get_by_placeholder("note for the new attempt (optional)").fill("endpoint is back")
    page.get_by_role("button", name="Retry run").click()
    expect(page.get_by_role("status")).to_contain_text("Retry started")
    run = app.store.get_run(seeded.failed)
    assert run.state == RunState.FIXING
    assert "retry asked for by Dana Oncall" in run.reason and "endpoint is back" in run.reason
    # The retried run is live: its page follows the timeline as the stage moves it on.
    expect(page.locator("#live")).to_be_visible()
    app.store.transition(seeded.failed, RunState.FIXING, RunState.PATCHED, "patched meanwhile")
    expect(timeline).to_contain_text("patched meanwhile")

    page.goto(f"{url}/runs/{seeded.proposed}")
    expect(page.locator("#suspects")).to_contain_text("4f2c9e1d8b7a")
    expect(page.locator("img[alt='base preview screenshot']")).to_have_js_property(
        "naturalWidth", 1)
    shot = tmp_path / "run-page.png"
    page.screenshot(path=str(shot), full_page=True)
    for name in ("reviews", "skips"):
        page.get_by_role("link", name={"reviews": "Awaiting review", "skips": "Skips"}[name],
                         exact=True).click()
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    for taken in sorted(tmp_path.glob("*.png")):
        print(f"screenshot: {taken}")

    # A wrong form token, sent by the page's own form: 403 with the reason on the page.
    page.goto(f"{url}/runs/{seeded.proposed}")
    page.locator("#retry input[name=csrf]").evaluate("field => field.value = 'f'.repeat(64)")
    with page.expect_response(f"{url}/runs/{seeded.proposed}/retry") as sent:
        page.get_by_role("button", name="Retry run").click()
    assert sent.value.status == 403
    expect(page.locator("#reason")).to_have_text(
        "the form token is wrong (or was made for another sign-in); reload the page and try again")
    page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)
    assert app.store.get_run(seeded.proposed).state == RunState.PROPOSED

    # Without the login (a fresh browser context has no session): 403, nothing changes.
    stranger = browser.new_context()
    answer = stranger.request.post(f"{url}/runs/{seeded.proposed}/retry",
                                   form={"csrf": "anything"})
    assert answer.status == 403 and "not signed in" in answer.text()
    assert app.store.get_run(seeded.proposed).state == RunState.PROPOSED
    stranger.close()
    context.close()
