"""Hostile input to the review pages: arbitrary form bodies, cookies, header values and paths
get a 2xx, 3xx or 4xx with a reason, never a 5xx, and never change a run without the right
session and form token."""

from __future__ import annotations

import re
import warnings
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pages_seed import Clock, seed
from tests.support import make_app
from worker.models import RunState
from worker.web.pages.auth import SESSION_COOKIE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette prefers `httpx2` for its test client
    from fastapi.testclient import TestClient

TOKEN = "fuzz-token-abcdefghijklmnopqrstuvwxyz"
FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    clock = Clock()
    app = make_app(tmp_path_factory.mktemp("fuzz"), clock=clock,
                   settings={"pages": {"token": TOKEN, "trusted_header": "X-Forwarded-User"}})
    seeded = seed(app.store, clock)
    client = TestClient(app.web(), follow_redirects=False)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.post("/login", data={"csrf": csrf, "name": "fuzzer", "token": TOKEN}
                       ).status_code == 303
    yield app, seeded, client
    app.close()


def untouched(app, seeded) -> bool:
    return (app.store.get_run(seeded.failed).state == RunState.FAILED
            and app.store.get_run(seeded.proposed).state == RunState.PROPOSED)


@FUZZ
@given(body=st.binary(max_size=3000),
       kind=st.sampled_from([FORM, FORM + "; charset=latin-1", "text/plain", ""]),
       target=st.sampled_from(["/runs/2/retry", "/runs/1/retry", "/clusters/1/ignore",
                               "/login", "/logout"]))
def test_any_form_body_gets_a_4xx_or_a_redirect_never_a_5xx(site, body, kind, target):
    app, seeded, client = site
    answer = client.post(target, content=body, headers={"content-type": kind} if kind else {})
    assert answer.status_code < 500
    if answer.status_code >= 400:
        assert "Refused" in answer.text or "Log in" in answer.text or answer.json()
    assert untouched(app, seeded)


# Header bytes as they may arrive on the wire (latin-1), minus what ends a header line.
HEADER_BYTES = st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")
                                           .replace(b"\x00", b""))


@FUZZ
@given(cookie=HEADER_BYTES, user=HEADER_BYTES,
       path=st.sampled_from(["/", "/runs/1", "/runs/1/timeline", "/clusters/1", "/reviews",
                             "/skips", "/login"]))
def test_any_cookie_or_proxy_header_value_is_answered_without_a_5xx(site, cookie, user, path):
    app, _seeded, _client = site
    stranger = TestClient(app.web(), follow_redirects=False)
    headers = {"X-Forwarded-User": user, "Cookie": SESSION_COOKIE.encode() + b"=" + cookie}
    answer = stranger.get(path, headers=headers)
    assert answer.status_code < 500


@FUZZ
@given(segment=st.text(min_size=1, max_size=40))
def test_any_run_or_cluster_id_is_a_page_or_a_4xx(site, segment):
    _app, _seeded, client = site
    for prefix in ("/runs/", "/clusters/"):
        answer = client.get(prefix + quote(segment, safe=""))
        assert answer.status_code in (200, 307, 404, 422)  # 307: a trailing slash dropped
