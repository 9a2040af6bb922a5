"""CODEOWNERS with GitHub's semantics, and the owners of a crash read from a real repository.

Pattern rules follow GitHub's documented examples; the file locations, blame authors and
login resolution are exercised through `find_owners` on repositories built in the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.git import GitRepository
from tests.gitrepo import GitRepoBuilder, lines
from worker.correlate import codeowners
from worker.correlate.models import MappedFrame
from worker.correlate.owners import find_owners, login_for
from worker.models import Frame


def owners(text: str, path: str) -> tuple[str, ...]:
    """The owners CODEOWNERS `text` gives `path`."""
    return codeowners.owners_of(codeowners.parse(text), path)[1]


def test_last_matching_line_wins():
    text = lines("* @everyone", "*.py @python", "/src/shop/ @shop")
    assert owners(text, "src/shop/cart.py") == ("@shop",)
    assert owners(text, "src/other/x.py") == ("@python",)
    assert owners(text, "README.md") == ("@everyone",)
    rule, _ = codeowners.owners_of(codeowners.parse(text), "src/shop/cart.py")
    assert rule is not None and rule.line == 3 and rule.pattern == "/src/shop/"


def test_extension_pattern_matches_at_any_depth():
    text = lines("*.py @python")
    assert owners(text, "cart.py") == ("@python",)
    assert owners(text, "a/b/c/cart.py") == ("@python",)
    assert owners(text, "cart.pyc") == ()
    assert owners(text, "cart.js") == ()


def test_rooted_directory_owns_only_the_top_level_one():
    text = lines("/docs/ @doc-team")
    assert owners(text, "docs/guide.md") == ("@doc-team",)
    assert owners(text, "docs/deep/er/guide.md") == ("@doc-team",)
    assert owners(text, "src/docs/guide.md") == ()
    assert owners(text, "docs") == ()


def test_unrooted_directory_matches_at_any_depth():
    text = lines("docs/ @doc-team")
    assert owners(text, "docs/guide.md") == ("@doc-team",)
    assert owners(text, "src/app/docs/guide.md") == ("@doc-team",)
    assert owners(text, "src/docsx/guide.md") == ()


def test_apps_directory_anywhere_as_in_githubs_example():
    text = lines("apps/ @octocat")
    assert owners(text, "apps/web/index.js") == ("@octocat",)
    assert owners(text, "services/apps/api.py") == ("@octocat",)
    assert owners(text, "webapps/x.py") == ()


def test_double_star_prefix_matches_the_directory_anywhere():
    text = lines("**/logs @ops")
    assert owners(text, "logs/app.log") == ("@ops",)
    assert owners(text, "build/logs/app.log") == ("@ops",)
    assert owners(text, "deep/down/logs/x/y.log") == ("@ops",)
    assert owners(text, "catalogs/x.log") == ()


def test_rooted_nested_directory():
    text = lines("/build/logs/ @ops")
    assert owners(text, "build/logs/app.log") == ("@ops",)
    assert owners(text, "build/logs/2026/app.log") == ("@ops",)
    assert owners(text, "src/build/logs/app.log") == ()
    assert owners(text, "build/app.log") == ()


def test_trailing_lone_star_does_not_own_nested_files():
    # GitHub: `docs/*` matches docs/getting-started.md but not docs/build-app/troubleshooting.md
    text = lines("docs/* docs@example.com")
    assert owners(text, "docs/getting-started.md") == ("docs@example.com",)
    assert owners(text, "docs/build-app/troubleshooting.md") == ()
    assert owners(lines("/* @root"), "setup.py") == ("@root",)
    assert owners(lines("/* @root"), "src/setup.py") == ()


def test_matching_line_without_owners_unsets_ownership():
    text = lines("* @everyone", "/vendor/")
    rule, found = codeowners.owners_of(codeowners.parse(text), "vendor/lib.py")
    assert found == () and rule is not None and rule.line == 2
    assert owners(text, "src/app.py") == ("@everyone",)


def test_comments_and_blank_lines_are_skipped():
    text = lines("# owners of everything", "", "*.js @js  # inline note",
                 "   # indented comment", "*.go @go")
    rules = codeowners.parse(text)
    assert [(rule.pattern, rule.owners, rule.line) for rule in rules] == [
        ("*.js", ("@js",), 3), ("*.go", ("@go",), 5)]


def test_escaped_characters_are_literal():
    assert owners(lines("docs/my\\ file.md @writer"), "docs/my file.md") == ("@writer",)
    assert owners(lines("f\\*o @lit"), "f*o") == ("@lit",)
    assert owners(lines("f\\*o @lit"), "foo") == ()


def test_negation_is_ignored_as_on_github():
    assert codeowners.parse(lines("!*.py @nobody")) == []


# --- owners of a crash, read from a real repository -------------------------------------------


def frame_at(path: str, line: int, depth: int) -> MappedFrame:
    """An in-app frame mapped to `path` at `depth`."""
    return MappedFrame(frame=Frame(abs_path=f"/app/{path}", lineno=line), path=path,
                       depth=depth, reason="test")


@pytest.mark.parametrize(("present", "used"), [
    ((".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"), ".github/CODEOWNERS"),
    (("CODEOWNERS", "docs/CODEOWNERS"), "CODEOWNERS"),
    (("docs/CODEOWNERS",), "docs/CODEOWNERS"),
])
def test_codeowners_locations_are_searched_in_githubs_order(tmp_path, present, used):
    builder = GitRepoBuilder(tmp_path / "repo")
    files = {location: f"*.py @team-{index}\n" for index, location in enumerate(present)}
    builder.commit({**files, "app/cart.py": "x = 1\n"}, "owners")
    repo = GitRepository(builder.path)
    found = find_owners(repo, builder.head(), [frame_at("app/cart.py", 1, 0)], {}, {})
    expected = f"@team-{present.index(used)}"
    assert [(o.name, o.login, o.source) for o in found] == [
        (expected, expected[1:], "codeowners")]
    assert "owns app/cart.py" in found[0].reason


def test_no_codeowners_file_means_only_blame_owners(tmp_path):
    builder = GitRepoBuilder(tmp_path / "repo")
    builder.commit({"app/cart.py": "x = 1\n"}, "first",
                   author=("Grace Hopper", "grace@example.com"))
    repo = GitRepository(builder.path)
    head = builder.head()
    blame = {"app/cart.py": repo.blame(head, "app/cart.py", [(1, 1)])}
    found = find_owners(repo, head, [frame_at("app/cart.py", 1, 0)], blame, {})
    assert [(o.name, o.login, o.source) for o in found] == [("Grace Hopper", None, "blame")]
    assert found[0].reason == "last changed app/cart.py:1"


def test_blame_authors_follow_codeowners_without_duplicates(tmp_path):
    builder = GitRepoBuilder(tmp_path / "repo")
    builder.commit({".github/CODEOWNERS": lines("*.py @octo", "/app/pay.py @payments"),
                    "app/cart.py": lines("a = 1", "b = 2", "c = 3"),
                    "app/pay.py": lines("p = 1")},
                   "import", author=("Octo Cat", "123+octo@users.noreply.github.com"))
    builder.commit({"app/cart.py": lines("a = 1", "b = 20", "c = 3")}, "tweak b",
                   author=("Grace Hopper", "grace@example.com"), date="2026-01-02T00:00:00Z")
    builder.commit({"app/cart.py": lines("a = 1", "b = 20", "c = 30")}, "tweak c",
                   author=("Someone New", "new@corp.example"), date="2026-01-03T00:00:00Z")
    repo = GitRepository(builder.path)
    head = builder.head()
    app = [frame_at("app/cart.py", 2, 0), frame_at("app/pay.py", 1, 1),
           frame_at("app/cart.py", 3, 2), frame_at("app/cart.py", 1, 3)]
    blame = {"app/cart.py": repo.blame(head, "app/cart.py", [(1, 3)]),
             "app/pay.py": repo.blame(head, "app/pay.py", [(1, 1)])}
    found = find_owners(repo, head, app, blame, {"GRACE@example.com": "ghopper"})
    assert [(o.name, o.login, o.source) for o in found] == [
        ("@octo", "octo", "codeowners"),
        ("@payments", "payments", "codeowners"),
        ("Grace Hopper", "ghopper", "blame"),
        ("Someone New", None, "blame"),
    ]  # line 1 and pay.py are Octo's, already listed through CODEOWNERS
    assert found[2].reason == "last changed app/cart.py:2"


@pytest.mark.parametrize(("email", "login"), [
    ("123+octo@users.noreply.github.com", "octo"),
    ("octo@users.noreply.github.com", "octo"),
    ("45+Mona-Lisa@users.noreply.github.com", "Mona-Lisa"),
    ("mapped@corp.example", "mapped-login"),
    ("MAPPED@corp.example", "mapped-login"),
    ("unknown@corp.example", None),
    ("octo@users.noreply.gitlab.com", None),
    ("-bad@users.noreply.github.com", None),
])
def test_login_for_email(email, login):
    assert login_for(email, {"mapped@corp.example": "mapped-login"}) == login


def test_configured_map_wins_over_noreply():
    assert login_for("7+old@users.noreply.github.com",
                     {"7+old@users.noreply.github.com": "renamed"}) == "renamed"


def test_codeowners_is_read_at_the_release_not_the_work_tree(tmp_path: Path):
    builder = GitRepoBuilder(tmp_path / "repo")
    first = builder.commit({"CODEOWNERS": "*.py @before\n", "app/x.py": "x = 1\n"}, "one")
    builder.commit({"CODEOWNERS": "*.py @after\n"}, "two", date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    found = find_owners(repo, first, [frame_at("app/x.py", 1, 0)], {}, {})
    assert [o.name for o in found] == ["@before"]
