"""The review pages over FastAPI's TestClient: login, what each page shows, escaping and
scrubbing, and the actions with their form tokens and refusals."""

from __future__ import annotations

import re
import warnings

import pytest

from tests.pages_seed import HOSTILE_TITLE, PNG, SECRET, Clock, event, new_run, seed, walk
from tests.support import drain, make_app
from worker import stages
from worker.models import ClusterStatus, RunState
from worker.web.pages.auth import SESSION_COOKIE

with warnings.catch_warnings():
    # Starlette 1.x would rather its test client ran on `httpx2`; with `httpx` it works the same.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "pages-test-token-0123456789"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    app = make_app(tmp_path, clock=clock, settings={"pages": {"token": TOKEN}})
    yield app
    app.close()


@pytest.fixture
def seeded(app, clock):
    shots = tuple(app.deps.artifacts.put(1, f"replay-{label}.png", PNG, "image/png").url
                  for label in ("base", "fix"))
    return seed(app.store, clock, shots)


def client_of(app) -> TestClient:
    return TestClient(app.web(), follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def log_in(client: TestClient, name: str = "Dana Oncall", token: str = TOKEN):
    form = client.get("/login")
    assert form.status_code == 200
    return client.post("/login", data={"csrf": csrf_of(form.text), "name": name,
                                       "token": token, "next": "/"})


@pytest.fixture
def signed_in(app, seeded):
    client = client_of(app)
    assert log_in(client).status_code == 303
    return client


def test_without_a_token_or_header_the_pages_are_off(tmp_path):
    app = make_app(tmp_path)
    client = client_of(app)
    assert client.get("/").status_code == 404
    assert client.get("/login").status_code == 404
    assert client.post("/runs/1/retry", data={"csrf": "x"}).status_code == 404
    app.close()


def test_a_stranger_is_sent_to_login_and_learns_nothing(app, seeded):
    client = client_of(app)
    for path in ("/", f"/runs/{seeded.proposed}", "/clusters/999999", "/reviews", "/skips"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert client.get(f"/runs/{seeded.proposed}/timeline").status_code == 401


def test_login_sets_a_strict_http_only_signed_session(app, seeded):
    client = client_of(app)
    answer = log_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(h for h in answer.headers.get_list("set-cookie")
                  if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Dana Oncall" in page.text


def test_a_wrong_token_or_a_forged_login_form_is_refused(app, seeded):
    client = client_of(app)
    assert log_in(client, token="guess").status_code == 401
    assert "that is not the token" in log_in(client, token="guess").text
    form = client.get("/login")
    forged = client.post("/login", data={"csrf": "0" * 64, "name": "x", "token": TOKEN})
    assert forged.status_code == 403 and "login form token" in forged.text
    assert csrf_of(form.text)  # a real form was there
    assert log_in(client, name="   ").status_code == 400


def test_a_tampered_or_expired_session_is_not_a_login(app, seeded, clock):
    client = client_of(app)
    log_in(client)
    value = client.cookies[SESSION_COOKIE]
    body, signature = value.split(".")
    client.cookies.set(SESSION_COOKIE, body + "." + signature[::-1])
    assert client.get("/").status_code == 303
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/").status_code == 200
    clock.advance(hours=13)
    assert client.get("/").status_code == 303


def test_login_only_goes_back_to_this_site(app, seeded):
    client = client_of(app)
    form = client.get("/login?next=//evil.example/x")
    answer = client.post("/login", data={"csrf": csrf_of(form.text), "name": "Dana",
                                         "token": TOKEN, "next": "//evil.example/x"})
    assert answer.headers["location"] == "/"


def test_the_clusters_page_lists_counts_and_latest_runs_newest_first(signed_in, seeded):
    page = signed_in.get("/")
    assert page.status_code == 200
    text = page.text
    assert "7 clusters" in text
    assert text.index("ValueError in coupons") < text.index("KeyError")  # last seen first
    assert f'href="/runs/{seeded.proposed}"' in text and "proposed" in text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_hostile_titles_are_escaped_and_secrets_scrubbed_everywhere(signed_in, seeded, app):
    run = app.store.get_run(seeded.proposed)
    assert app.store.get_cluster(run.cluster_id).title == HOSTILE_TITLE  # stored as sent
    for path in ("/", f"/clusters/{run.cluster_id}", f"/runs/{seeded.proposed}", "/reviews"):
        text = signed_in.get(path).text
        assert "<script>alert" not in text, path
        assert "&lt;script&gt;alert(" in text, path
        assert SECRET not in text, path
        assert "[REDACTED:github-token]" in text, path


def test_the_run_page_shows_the_whole_record(signed_in, seeded):
    text = " ".join(signed_in.get(f"/runs/{seeded.proposed}").text.split())
    for expected in ("draft pull request opened", "4f2c9e1d8b7a", "touched shop/pricing.py:9",
                     "Ann Lee", "toolloop", "agent command exited with code 2",
                     "1 test(s): 1 red on base, 1 green on the fix, 1 reproduce the crash",
                     "6 passed on base", "1 file(s), 3 changed line(s)", "replay confirms the fix",
                     f"/artifacts/{seeded.proposed}/replay-base.png", "read_file shop/pricing.py",
                     "python -m pytest -q", "http://127.0.0.1:9001",
                     "https://github.example/acme/shop/pull/7", "Guarded the empty basket."):
        assert expected in text, expected
    assert "fix 1 of 10 today" in text  # the timeline has every transition


def test_screenshots_are_served_from_the_artifact_store(signed_in, seeded):
    image = signed_in.get(f"/artifacts/{seeded.proposed}/replay-base.png")
    assert image.status_code == 200 and image.content == PNG


def test_a_live_run_polls_its_timeline_and_a_finished_one_does_not(signed_in, seeded, app):
    live = signed_in.get(f"/runs/{seeded.fixing}").text
    assert "<script nonce=" in live and f"/runs/{seeded.fixing}/timeline" in live
    assert "<script" not in signed_in.get(f"/runs/{seeded.failed}").text
    fragment = signed_in.get(f"/runs/{seeded.fixing}/timeline")
    assert fragment.headers["x-run-terminal"] == "0" and "fix 3 of 10 today" in fragment.text
    app.store.transition(seeded.fixing, RunState.FIXING, RunState.PATCHED, "a patch at last")
    fragment = signed_in.get(f"/runs/{seeded.fixing}/timeline")
    assert "a patch at last" in fragment.text and fragment.headers["x-run-state"] == "patched"


def test_reviews_lists_proposed_runs_with_their_age(signed_in, seeded, clock):
    clock.advance(hours=10)
    text = signed_in.get("/reviews").text
    assert f'href="/runs/{seeded.proposed}"' in text
    assert "11 h 30 min" in text  # proposed 1.5 h before the seeding ended, then ten hours


def test_skips_are_grouped_by_reason_with_counts(signed_in, seeded):
    text = signed_in.get("/skips").text
    assert "3 skipped runs" in text
    first = text.index("<b>2</b> × ")
    assert first < text.index("<b>1</b> × ") and "is on the ignore list" in text


def test_retry_resumes_a_failed_run_where_it_stopped_and_records_who(signed_in, seeded, app):
    page = signed_in.get(f"/runs/{seeded.failed}")
    answer = signed_in.post(f"/runs/{seeded.failed}/retry",
                            data={"csrf": csrf_of(page.text), "note": "endpoint is back"})
    assert answer.status_code == 303
    assert app.store.get_run(seeded.failed).state == RunState.FIXING
    last = app.store.transitions(seeded.failed)[-1]
    assert last.from_state == "failed" and "Dana Oncall" in last.reason
    assert "endpoint is back" in last.reason
    assert app.broker.queues["agent"].qsize() == 1  # fix_run sent again


def test_retry_of_a_proposed_run_makes_a_new_attempt_for_the_same_pull_request(
        signed_in, seeded, app):
    csrf = csrf_of(signed_in.get(f"/runs/{seeded.proposed}").text)
    signed_in.post(f"/runs/{seeded.proposed}/retry", data={"csrf": csrf, "note": "use Decimal"})
    run = app.store.get_run(seeded.proposed)
    assert run.state == RunState.CORRELATED and run.record.follow.retry_pending
    assert run.record.follow.review == ["Dana Oncall: use Decimal"]
    assert "Dana Oncall: use Decimal" in signed_in.get(f"/runs/{seeded.proposed}").text
    assert app.broker.queues["agent"].qsize() == 1


def test_retry_of_a_run_in_progress_is_refused_with_why(signed_in, seeded, app):
    csrf = csrf_of(signed_in.get(f"/runs/{seeded.fixing}").text)
    answer = signed_in.post(f"/runs/{seeded.fixing}/retry", data={"csrf": csrf})
    assert answer.status_code == 409 and "still in progress (fixing)" in answer.text
    assert app.store.get_run(seeded.fixing).state == RunState.FIXING
    assert app.broker.queues["agent"].qsize() == 0


@pytest.mark.parametrize("csrf", [None, "", "f" * 64])
def test_a_post_without_the_right_form_token_is_403_and_changes_nothing(signed_in, seeded,
                                                                        app, csrf):
    data = {"note": "x"} if csrf is None else {"csrf": csrf}
    answer = signed_in.post(f"/runs/{seeded.failed}/retry", data=data)
    assert answer.status_code == 403 and "form token" in answer.text
    assert "REDACTED" not in answer.text  # suture's own reason reads as written
    assert f'href="/runs/{seeded.failed}"' in answer.text  # back to where it came from
    assert app.store.get_run(seeded.failed).state == RunState.FAILED


def test_a_post_without_login_is_403(app, seeded):
    answer = client_of(app).post(f"/runs/{seeded.failed}/retry", data={"csrf": "x"})
    assert answer.status_code == 403 and "not signed in" in answer.text


def test_a_form_token_of_another_session_is_refused(app, seeded):
    first, second = client_of(app), client_of(app)
    log_in(first, name="Ann")
    log_in(second, name="Bob")
    stolen = csrf_of(first.get("/").text)
    answer = second.post(f"/runs/{seeded.failed}/retry", data={"csrf": stolen})
    assert answer.status_code == 403


def test_bad_form_bodies_get_4xx_with_a_reason(signed_in, seeded):
    url = f"/runs/{seeded.failed}/retry"
    assert signed_in.post(url, json={"csrf": "x"}).status_code == 415
    assert signed_in.post(url, content=b"csrf=" + b"a" * 9000, headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 413
    assert signed_in.post(url, content=b"csrf=%ff%fe", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert signed_in.get("/runs/99999999999999").status_code == 422
    assert signed_in.get("/runs/424242").status_code == 404


def test_ignore_records_who_and_why_and_triage_then_skips_the_cluster(signed_in, seeded, app):
    fresh = app.store.get_run(seeded.fresh)
    csrf = csrf_of(signed_in.get(f"/clusters/{fresh.cluster_id}").text)
    assert signed_in.post(f"/clusters/{fresh.cluster_id}/ignore",
                          data={"csrf": csrf, "why": ""}).status_code == 400
    answer = signed_in.post(f"/clusters/{fresh.cluster_id}/ignore",
                            data={"csrf": csrf, "why": "known flaky coupon import"})
    assert answer.status_code == 303
    assert app.store.get_cluster(fresh.cluster_id).status == ClusterStatus.IGNORED
    noted = app.store.transitions(seeded.fresh)[-1]
    assert "Dana Oncall" in noted.reason and "known flaky coupon import" in noted.reason
    assert stages.triage(app.deps, seeded.fresh) == RunState.SKIPPED
    skipped = app.store.get_run(seeded.fresh)
    assert skipped.reason == "the cluster is ignored"
    again = app.store.record_event(event("fp-fresh-2", "ValueError in coupons"), "fp-fresh",
                                   sample_size=5)
    assert again.cluster_id == fresh.cluster_id and again.run_id is None
    refused = signed_in.post(f"/runs/{seeded.fresh}/retry", data={"csrf": csrf})
    assert refused.status_code == 409 and "cluster is ignored" in refused.text
    assert signed_in.post(f"/clusters/{fresh.cluster_id}/ignore",
                          data={"csrf": csrf, "why": "again"}).status_code == 409


def test_a_trusted_proxy_header_signs_in_without_a_token(tmp_path, clock):
    app = make_app(tmp_path, clock=clock,
                   settings={"pages": {"trusted_header": "X-Forwarded-User"}})
    seeded = seed(app.store, clock)
    client = client_of(app)
    assert client.get("/").status_code == 401
    assert client.get("/login").status_code == 401
    headers = {"X-Forwarded-User": "erin"}
    page = client.get(f"/runs/{seeded.failed}", headers=headers)
    assert page.status_code == 200 and "erin" in page.text
    answer = client.post(f"/runs/{seeded.failed}/retry", headers=headers,
                         data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303
    assert "erin" in app.store.transitions(seeded.failed)[-1].reason
    other = client.post(f"/runs/{seeded.failed}/retry", headers={"X-Forwarded-User": "mallory"},
                        data={"csrf": csrf_of(page.text)})
    assert other.status_code == 403
    app.close()



def test_a_retried_run_goes_through_the_real_pipeline_again(tmp_path):
    app = make_app(tmp_path, settings={"pages": {"token": TOKEN}})
    run_id = new_run(app.store, "fp-again", "ZeroDivisionError in average")
    walk(app.store, run_id, (RunState.FAILED, "triage: the database went away", None))
    client = client_of(app)
    log_in(client)
    csrf = csrf_of(client.get(f"/runs/{run_id}").text)
    assert client.post(f"/runs/{run_id}/retry", data={"csrf": csrf}).status_code == 303
    drain(app)
    steps = [(t.from_state, t.to_state) for t in app.store.transitions(run_id)]
    assert steps[2:5] == [("failed", RunState.NEW), ("new", RunState.TRIAGED),
                          ("triaged", RunState.CORRELATED)]
    assert app.store.get_run(run_id).state == RunState.TICKETED  # no service: a ticket
    assert len(list((tmp_path / "tickets").rglob("*.md"))) == 1
    app.close()


def test_wrong_tokens_from_one_address_are_throttled_for_a_while(app, seeded, clock):
    client = client_of(app)
    for _ in range(10):
        assert log_in(client, token="guess").status_code == 401
    throttled = log_in(client)  # even the right token: the address must wait
    assert throttled.status_code == 429 and "too many wrong tokens" in throttled.text
    clock.advance(minutes=11)
    assert log_in(client).status_code == 303


def test_logging_out_needs_the_form_token_and_ends_the_session_in_the_browser(signed_in):
    assert signed_in.post("/logout", data={"csrf": "wrong"}).status_code == 403
    answer = signed_in.post("/logout", data={"csrf": csrf_of(signed_in.get("/").text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert SESSION_COOKIE not in signed_in.cookies
    assert signed_in.get("/").status_code == 303
