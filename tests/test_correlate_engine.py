"""The correlation engine end to end: a Python crash event against a small shop repository.

The event's frames carry a container prefix (`/usr/src/app/`), a library frame and the
release as a tag; the repository has CODEOWNERS, a culprit commit before the release and a
later commit after it that must not be blamed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from integrations.git import GitRepository, repository
from tests.gitrepo import GitRepoBuilder, lines
from worker.correlate.engine import correlate
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source

FIRST_SEEN = datetime(2026, 2, 1, tzinfo=UTC)
LINUS = ("Linus Pauling", "linus@example.com")
GRACE = ("Grace Hopper", "7+grace@users.noreply.github.com")
ADA = ("Ada Lovelace", "ada@example.com")

CART_V1 = lines(
    '"""Cart arithmetic."""',
    "",
    "",
    "def total(items, discounts):",
    "    subtotal = sum(i.price for i in items)",
    "    return subtotal",
)
CART_V2 = lines(
    '"""Cart arithmetic."""',
    "",
    "",
    "def total(items, discounts):",
    "    subtotal = sum(i.price for i in items)",
    '    rate = discounts["rate"]',
    "    return subtotal - rate",
)
WEB = lines(
    "from shop.cart import total",
    "",
    "",
    "def handler(request):",
    "    return total(request.items, request.discounts)",
)


@pytest.fixture
def shop(tmp_path):
    """The shop's history: import, the culprit, an unrelated change, the release, a later fix."""
    builder = GitRepoBuilder(tmp_path / "shop")
    commits = {
        "import": builder.commit({"src/shop/__init__.py": "", "src/shop/cart.py": CART_V1,
                                  "src/shop/web.py": WEB,
                                  ".github/CODEOWNERS": lines("* @shop/maintainers",
                                                              "/src/shop/cart.py @cart-team")},
                                 "import the shop", author=LINUS, date="2025-10-01T00:00:00Z"),
        "culprit": builder.commit({"src/shop/cart.py": CART_V2}, "Apply the discount rate",
                                  author=GRACE, date="2026-01-10T00:00:00Z"),
        "readme": builder.commit({"README.md": "# shop\n"}, "Describe the shop", author=ADA,
                                 date="2026-01-20T00:00:00Z"),
    }
    builder.tag("v2.0")
    commits["after"] = builder.commit(
        {"src/shop/cart.py": CART_V2.replace('discounts["rate"]', 'discounts.get("rate", 0)')},
        "Default the rate", author=ADA, date="2026-02-05T00:00:00Z")
    return builder, commits


def key_error(release: str | None = "v2.0", *, prefix: str = "/usr/src/app/") -> ErrorEvent:
    """The KeyError a request raised in production, as normalisation gives it."""
    frames = [
        Frame(filename="flask/app.py", function="dispatch_request", lineno=880, in_app=False,
              abs_path="/usr/local/lib/python3.11/site-packages/flask/app.py",
              module="flask.app"),
        Frame(filename="shop/web.py", abs_path=f"{prefix}src/shop/web.py", module="shop.web",
              function="handler", lineno=5),
        Frame(filename="shop/cart.py", abs_path=f"{prefix}src/shop/cart.py", module="shop.cart",
              function="total", lineno=6, context_line='    rate = discounts["rate"]'),
    ]
    return ErrorEvent(source=Source.SENTRY, event_id="9f1c", release=release,
                      timestamp=FIRST_SEEN,
                      exceptions=[ExceptionInfo(type="KeyError", value="'rate'", frames=frames)])


def test_python_crash_names_the_culprit_and_the_owners(shop):
    builder, commits = shop
    repo = GitRepository(builder.path)
    found = correlate(repo, key_error(), first_seen=FIRST_SEEN)
    assert found.release == repo.resolve("v2.0")
    assert found.note == ""
    top = found.suspects[0]
    assert top.sha == commits["culprit"]
    assert (top.author, top.email, top.summary) == ("Grace Hopper",
                                                    "7+grace@users.noreply.github.com",
                                                    "Apply the discount rate")
    assert top.reasons[0] == "last changed the crashing line src/shop/cart.py:6"
    assert "added code naming discounts, rate from the error" in top.reasons
    assert top.confidence > 0.5
    assert top.date == datetime(2026, 1, 10, tzinfo=UTC)
    shas = [s.sha for s in found.suspects]
    assert commits["after"] not in shas  # after the release: cannot have caused it
    assert commits["readme"] not in shas  # touched nothing on the stack
    assert shas == sorted(shas, key=lambda sha: -next(s.score for s in found.suspects
                                                      if s.sha == sha))
    assert [(o.name, o.login, o.source) for o in found.owners] == [
        ("@cart-team", "cart-team", "codeowners"),
        ("@shop/maintainers", "shop/maintainers", "codeowners"),
        ("Grace Hopper", "grace", "blame"),  # the crashing line
        ("Linus Pauling", None, "blame"),  # the caller's line
    ]
    assert [(f.path, f.depth, f.reason) for f in found.frames] == [
        (None, None, "library code"),
        ("src/shop/web.py", 1, "matches src/shop/web.py on 3 path component(s)"),
        ("src/shop/cart.py", 0, "matches src/shop/cart.py on 3 path component(s)"),
    ]
    assert found.frames[2].function_range == (4, 7)


def test_the_first_commit_is_a_suspect_when_it_wrote_the_crashing_line(tmp_path):
    builder = GitRepoBuilder(tmp_path / "young")
    only = builder.commit({"src/shop/cart.py": CART_V2, "src/shop/web.py": WEB},
                          "initial import", author=LINUS, date="2026-01-25T00:00:00Z")
    found = correlate(GitRepository(builder.path), key_error(None), first_seen=FIRST_SEEN)
    assert [s.sha for s in found.suspects] == [only]
    assert found.suspects[0].reasons[0] == (
        "last changed the crashing line src/shop/web.py:5, src/shop/cart.py:6")
    assert [(o.name, o.source) for o in found.owners] == [("Linus Pauling", "blame")]


def test_a_release_not_in_the_repository_falls_back_to_head_with_a_note(shop):
    builder, commits = shop
    found = correlate(GitRepository(builder.path), key_error("shop@9.9.9"),
                      first_seen=FIRST_SEEN)
    assert found.release == builder.head()
    assert found.note.startswith("release 'shop@9.9.9' is not in the repository; used HEAD")
    # at HEAD the later commit rewrote the crashing line, so it leads
    assert found.suspects[0].sha == commits["after"]


def test_an_event_without_release_uses_head_and_says_so(shop):
    builder, _commits = shop
    found = correlate(GitRepository(builder.path), key_error(None), first_seen=FIRST_SEEN)
    assert found.release == builder.head()
    assert "the event names no release; used HEAD" in found.note


def test_an_explicit_release_overrides_the_events(shop):
    builder, commits = shop
    found = correlate(GitRepository(builder.path), key_error("shop@9.9.9"), release="v2.0",
                      first_seen=FIRST_SEEN)
    assert found.note == ""
    assert found.suspects[0].sha == commits["culprit"]


def test_an_event_with_no_mappable_frame_gives_a_note_and_no_suspects(shop):
    builder, _commits = shop
    event = ErrorEvent(source=Source.SENTRY, event_id="x", release="v2.0", timestamp=FIRST_SEEN,
                       exceptions=[ExceptionInfo(type="RuntimeError", value="lost", frames=[
                           Frame(abs_path="/srv/other/service/main.py", function="main",
                                 lineno=3),
                           Frame(abs_path="/usr/lib/python3.11/json/decoder.py",
                                 function="decode", lineno=9, in_app=False)])])
    found = correlate(GitRepository(builder.path), event, first_seen=FIRST_SEEN)
    assert found.suspects == [] and found.owners == []
    assert found.note == "no frame maps to a file of the repository"
    assert [f.reason for f in found.frames] == ["no file of the repository matches",
                                                "library code"]


def test_an_event_without_frames_gives_a_note(shop):
    builder, _commits = shop
    event = ErrorEvent(source=Source.SENTRY, event_id="m", release="v2.0", timestamp=FIRST_SEEN,
                       message="disk full")
    found = correlate(GitRepository(builder.path), event)
    assert found.suspects == [] and found.frames == []
    assert "no frame maps" in found.note


def test_crashing_code_older_than_the_window_and_horizon_has_no_suspects(shop):
    builder, _commits = shop
    found = correlate(GitRepository(builder.path), key_error(), first_seen=FIRST_SEEN,
                      window_days=1, horizon_days=0)
    assert found.suspects == []
    assert "no commit in the window touched the crashing code" in found.note


def test_a_naive_first_seen_is_taken_as_utc(shop):
    builder, commits = shop
    found = correlate(GitRepository(builder.path), key_error(),
                      first_seen=datetime(2026, 2, 1))
    assert found.suspects[0].sha == commits["culprit"]
    assert "committed 22 days before first seen" in found.suspects[0].reasons


def test_top_limits_the_suspects(shop):
    builder, _commits = shop
    repo = GitRepository(builder.path)
    assert len(correlate(repo, key_error(), first_seen=FIRST_SEEN, top=5).suspects) == 2
    assert len(correlate(repo, key_error(), first_seen=FIRST_SEEN, top=1).suspects) == 1


def test_configured_logins_name_the_blame_owners(tmp_path):
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/cart.py": CART_V2, "src/shop/web.py": WEB}, "import",
                   author=ADA, date="2026-01-25T00:00:00Z")
    found = correlate(GitRepository(builder.path), key_error(None), first_seen=FIRST_SEEN,
                      logins={"ada@example.com": "ada-l"})
    assert [(o.name, o.login) for o in found.owners] == [("Ada Lovelace", "ada-l")]


def test_the_repository_is_asked_a_small_batched_set_of_questions(shop, monkeypatch):
    builder, _commits = shop
    counted: Counter[str] = Counter()
    real = repository.run_git

    def counting(path, *args, **kwargs):
        counted[args[0]] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(repository, "run_git", counting)
    correlate(GitRepository(builder.path), key_error(), first_seen=FIRST_SEEN)
    assert counted["ls-tree"] == 1
    assert counted["blame"] == 2  # one per frame file, every range at once
    # History and hunks together, the names beside the stack, the older names (up to the
    # horizon), then descriptions.
    assert counted["log"] <= 5


def test_reformatting_listed_in_git_blame_ignore_revs_is_looked_through(tmp_path):
    builder = GitRepoBuilder(tmp_path / "repo")
    builder.commit({"app/cart.py": "def share(total, parts):\n    return total/parts\n"},
                   "Add share", author=ADA, date="2026-01-01T00:00:00Z")
    culprit = builder.commit(
        {"app/cart.py": "def share(total, parts):\n    return total / parts\n"
                        "\n\ndef average(xs):\n    return sum(xs)/len(xs)\n"},
        "Add average", author=GRACE, date="2026-01-10T00:00:00Z")
    reformat = builder.commit(
        {"app/cart.py": "def share(total, parts):\n    return total / parts\n"
                        "\n\ndef average(xs):\n    return sum(xs) / len(xs)\n"},
        "Reformat with a formatter", author=LINUS, date="2026-01-20T00:00:00Z")
    builder.commit({".git-blame-ignore-revs": f"# formatter\n{reformat}\n"}, "Ignore reformat",
                   author=LINUS, date="2026-01-21T00:00:00Z")
    event = ErrorEvent(source=Source.SENTRY, event_id="r1", timestamp=FIRST_SEEN,
                       exceptions=[ExceptionInfo(type="ZeroDivisionError", value="division by zero",
                                                 frames=[Frame(filename="app/cart.py",
                                                               function="average", lineno=6)])])
    found = correlate(GitRepository(builder.path), event, first_seen=FIRST_SEEN)
    assert found.suspects[0].sha == culprit
    assert reformat not in {suspect.sha for suspect in found.suspects}
