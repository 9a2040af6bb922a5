"""Commit emails become logins: the configured map, then noreply addresses, then the code host.

Unit checks of the order on `resolve_login`; owners and suspects of a real repository through
`find_owners`, the engine and the correlate stage with a fake directory; and the composition
root's GitHub directory wired end to end against the GitHub stand-in.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.git import GitRepository
from integrations.github.accounts import GitHubAccounts
from integrations.standins.github import GitHubStandIn
from tests.gitrepo import GitRepoBuilder, lines
from tests.support import make_app
from tests.test_render import render
from worker.app.hosted import github_slug
from worker.correlate.engine import correlate as correlate_event
from worker.correlate.models import Correlation, MappedFrame, Suspect
from worker.correlate.owners import find_owners, name_suspects, resolve_login
from worker.fingerprint import fingerprint
from worker.models import ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.ports import FakeAccountDirectory, TransientError
from worker.render import Renderer
from worker.settings import ServiceSettings, load_settings
from worker.stages import correlate, ingest_events, triage

CRASHED = datetime(2026, 2, 1, tzinfo=UTC)
LINUS = ("Linus Pauling", "linus@corp.example")
GRACE = ("Grace Hopper", "grace@corp.example")
SHA = "1" * 40
NOREPLY = "7+octo@users.noreply.github.com"
CART = lines('"""Cart arithmetic."""', "", "", "def total(items, discounts):",
             "    subtotal = sum(i.price for i in items)", '    rate = discounts["rate"]',
             "    return subtotal - rate")
WEB = lines("from shop.cart import total", "", "", "def handler(request):",
            "    return total(request.items, request.discounts)")


class Refusing:
    """A directory that breaks its promise and raises one of the port's errors."""

    def login_of(self, sha: str, email: str) -> str | None:
        raise TransientError("GitHub is down")


# -- the order ----------------------------------------------------------------------------------


def test_the_configured_map_beats_noreply_beats_the_code_host():
    directory = FakeAccountDirectory(by_email={NOREPLY: "api-octo", "a@corp.example": "api-a"})
    mapped = {NOREPLY: "mapped-octo"}
    assert resolve_login(NOREPLY, SHA, mapped, directory) == "mapped-octo"
    assert resolve_login(NOREPLY, SHA, {}, directory) == "octo"
    assert directory.asked == []  # the code host is asked only when nothing else knows
    assert resolve_login(" a@corp.example ", SHA, {}, directory) == "api-a"
    assert directory.asked == [(SHA, "a@corp.example")]
    assert resolve_login("a@corp.example", SHA, {"A@CORP.example": "mapped-a"},
                         directory) == "mapped-a"


def test_the_code_host_is_not_asked_without_an_email_or_a_real_commit():
    directory = FakeAccountDirectory(by_email={"a@corp.example": "api-a"})
    assert resolve_login("", SHA, {}, directory) is None
    assert resolve_login("a@corp.example", "0" * 40, {}, directory) is None  # uncommitted
    assert resolve_login("a@corp.example", SHA, {}, None) is None
    assert directory.asked == []


def test_a_directory_error_never_fails_resolution():
    assert resolve_login("a@corp.example", SHA, {}, Refusing()) is None


def test_suspects_get_their_author_s_login():
    suspects = [Suspect(sha=SHA, score=1, confidence=0.9, email="a@corp.example"),
                Suspect(sha="2" * 40, score=1, confidence=0.5, email=NOREPLY),
                Suspect(sha="3" * 40, score=1, confidence=0.4, email="b@corp.example"),
                Suspect(sha="4" * 40, score=1, confidence=0.3, email="c@corp.example",
                        login="kept")]
    directory = FakeAccountDirectory(by_sha={SHA: "api-a"})
    named = name_suspects(suspects, {}, directory)
    assert [s.login for s in named] == ["api-a", "octo", None, "kept"]
    assert [sha for sha, _ in directory.asked] == [SHA, "3" * 40]
    assert suspects[0].login is None  # the input is not changed


# -- a real repository ----------------------------------------------------------------------------


@pytest.fixture
def shop(tmp_path) -> tuple[GitRepoBuilder, dict[str, str]]:
    builder = GitRepoBuilder(tmp_path / "shop")
    commits = {
        "import": builder.commit({"src/shop/__init__.py": "", "src/shop/web.py": WEB,
                                  "src/shop/cart.py": CART.replace(
                                      '    rate = discounts["rate"]\n', "")},
                                 "import the shop", author=LINUS, date="2025-12-01T00:00:00Z"),
        "culprit": builder.commit({"src/shop/cart.py": CART}, "Apply the discount rate",
                                  author=GRACE, date="2026-01-10T00:00:00Z"),
    }
    builder.tag("v2.0")
    return builder, commits


def key_error(release: str | None = "v2.0") -> ErrorEvent:
    frames = [Frame(abs_path="/app/src/shop/web.py", module="shop.web", function="handler",
                    lineno=5),
              Frame(abs_path="/app/src/shop/cart.py", module="shop.cart", function="total",
                    lineno=6, context_line='    rate = discounts["rate"]')]
    return ErrorEvent(source=Source.SENTRY, event_id="9f1c", project="shop", release=release,
                      timestamp=CRASHED, title="KeyError: 'rate'",
                      exceptions=[ExceptionInfo(type="KeyError", value="'rate'", frames=frames)])


def test_blame_owners_are_named_by_the_directory(shop):
    builder, commits = shop
    repo = GitRepository(builder.path)
    head = builder.head()
    app = [MappedFrame(frame=Frame(lineno=6), path="src/shop/cart.py", depth=0),
           MappedFrame(frame=Frame(lineno=5), path="src/shop/web.py", depth=1)]
    blame = {"src/shop/cart.py": repo.blame(head, "src/shop/cart.py", [(6, 6)]),
             "src/shop/web.py": repo.blame(head, "src/shop/web.py", [(5, 5)])}
    directory = FakeAccountDirectory(by_email={GRACE[1]: "ghopper", LINUS[1]: "lpauling"})
    found = find_owners(repo, head, app, blame, {LINUS[1]: "linus-mapped"}, directory)
    assert [(o.name, o.login, o.source) for o in found] == [
        ("Grace Hopper", "ghopper", "blame"), ("Linus Pauling", "linus-mapped", "blame")]
    assert directory.asked == [(commits["culprit"], GRACE[1])]


def test_the_engine_hands_the_directory_to_the_owners(shop):
    builder, _ = shop
    directory = FakeAccountDirectory(by_email={GRACE[1]: "ghopper"})
    found = correlate_event(GitRepository(builder.path), key_error(), first_seen=CRASHED,
                            accounts=directory)
    assert [o.login for o in found.owners] == ["ghopper", None]
    assert correlate_event(GitRepository(builder.path), key_error(),
                           first_seen=CRASHED).owners[0].login is None


# -- the stage ------------------------------------------------------------------------------------


SERVICE = {"name": "shop", "sentry_project": "shop", "slug": "acme/shop"}


def correlated(app, event: ErrorEvent) -> dict:
    """Ingest `event`, then triage and correlate its run; the stored correlation."""
    ingest_events(app.deps, [event])
    [run] = app.store.list_runs(app.store.find_cluster(fingerprint(event)).id)
    assert triage(app.deps, run.id) == RunState.TRIAGED
    assert correlate(app.deps, run.id) == RunState.CORRELATED
    return app.store.get_run(run.id).record.correlation


@pytest.mark.parametrize("form", ["directory", "per-service"])
def test_the_stage_names_suspects_and_owners_through_the_deps(tmp_path, shop, form):
    builder, commits = shop
    app = make_app(tmp_path, settings={"services": [{**SERVICE,
                                                     "repository": str(builder.path)}]})
    directory = FakeAccountDirectory(by_email={GRACE[1]: "ghopper"})
    asked_for: list[str] = []

    def per_service(service: ServiceSettings) -> FakeAccountDirectory:
        asked_for.append(service.name)
        return directory

    app.deps.accounts = directory if form == "directory" else per_service
    try:
        found = correlated(app, key_error())
    finally:
        app.close()
    top = found.suspects[0]
    assert (top.sha, top.login) == (commits["culprit"], "ghopper")
    assert [o.login for o in found.owners] == ["ghopper", None]
    assert asked_for == ([] if form == "directory" else ["shop"])
    assert Correlation.model_validate(found).suspects[0].login == "ghopper"


def test_the_app_reads_logins_from_github_end_to_end(tmp_path, shop):
    builder, commits = shop
    with GitHubStandIn(token="t0k", repos=["acme/shop"]) as github:
        github.add_commit("acme", "shop", commits["culprit"], email=GRACE[1], name=GRACE[0],
                          login="ghopper", message="Apply the discount rate")
        github.add_commit("acme", "shop", commits["import"], email=LINUS[1], name=LINUS[0])
        app = make_app(tmp_path, settings={
            "github": {"base_url": github.url, "token": "t0k"},
            "services": [{**SERVICE, "repository": str(builder.path)}]})
        try:
            assert isinstance(app.deps.accounts(app.settings.services[0]), GitHubAccounts)
            found = correlated(app, key_error())
        finally:
            app.close()
        reads = [c.path for c in github.calls if "/commits/" in c.path]
    assert found.suspects[0].login == "ghopper"
    assert {s.sha: s.login for s in found.suspects}[commits["import"]] is None
    assert [o.login for o in found.owners] == ["ghopper", None]
    assert len(reads) == 2  # one read per distinct email, owners and suspects together


def test_without_a_github_token_there_is_no_directory(tmp_path):
    app = make_app(tmp_path, settings={"services": [{**SERVICE, "repository": "/srv/shop"}]})
    try:
        assert app.deps.accounts(app.settings.services[0]) is None
    finally:
        app.close()


@pytest.mark.parametrize(("base_url", "repository", "slug", "expected"), [
    ("https://api.github.com", "/srv/shop", "acme/shop", "acme/shop"),
    ("https://api.github.com", "https://github.com/acme/shop.git", None, "acme/shop"),
    ("https://api.github.com", "git@github.com:acme/shop.git", None, "acme/shop"),
    ("https://api.github.com", "/srv/shop", None, None),
    ("https://api.github.com", "https://gitlab.com/acme/shop.git", None, None),
    ("https://ghe.corp.example/api/v3", "https://ghe.corp.example/acme/shop", None, "acme/shop"),
    ("https://ghe.corp.example/api/v3", "https://github.com/acme/shop", None, None),
])
def test_the_github_repository_of_a_service(base_url, repository, slug, expected):
    settings = load_settings(None, github={"base_url": base_url})
    service = ServiceSettings(name="shop", repository=repository, slug=slug)
    assert github_slug(settings, service) == expected


def test_the_ticket_shows_a_suspect_s_login():
    renderer = Renderer(load_settings(None).playbooks_dir)
    suspects = [Suspect(sha=SHA, score=2, confidence=0.8, author="Grace Hopper",
                        login="ghopper"),
                Suspect(sha="2" * 40, score=1, confidence=0.3, author="Linus Pauling")]
    body = render(renderer, correlation=Correlation(release=SHA, suspects=suspects))
    assert "| Grace Hopper @ghopper |" in body
    assert "| Linus Pauling |" in body
