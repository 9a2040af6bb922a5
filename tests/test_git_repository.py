"""The git adapter on real repositories: `GitRepository` questions, their cache, and `GitMirror`.

Calls to git are counted by wrapping `run_git` where the adapter looks it up, so "served from
the cache" is observed rather than assumed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.git import GitMirror, GitRepository, mirror, repository
from integrations.git.parse import parse_log, parse_log_patch, parse_patch
from tests.gitrepo import GitRepoBuilder, git, lines
from worker.ports import HistoryWindow, PermanentError

ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")


@pytest.fixture
def calls(monkeypatch) -> Counter[str]:
    """Counts of git subcommands the repository adapter runs."""
    counted: Counter[str] = Counter()
    real = repository.run_git

    def counting(path, *args, **kwargs):
        counted[args[0]] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(repository, "run_git", counting)
    return counted


@pytest.fixture
def builder(tmp_path) -> GitRepoBuilder:
    return GitRepoBuilder(tmp_path / "repo")


def test_not_a_repository_is_a_permanent_error(tmp_path):
    with pytest.raises(PermanentError, match="not a git repository"):
        GitRepository(tmp_path)


def test_resolve_gives_full_sha_and_rejects_bad_revisions(builder):
    first = builder.commit({"a.py": "x = 1\n"}, "one")
    builder.tag("v1.0")
    repo = GitRepository(builder.path)
    assert repo.resolve("v1.0") == first
    assert repo.resolve(first[:10]) == first
    assert repo.resolve("HEAD") == first
    for bad in ("v9.9", "no-such-branch", "0" * 40, "--all", "HEAD~5"):
        with pytest.raises(PermanentError, match="names no commit"):
            repo.resolve(bad)


def test_files_are_cached_by_the_commit_head_points_at(builder, calls):
    builder.commit({"a.py": "a = 1\n", "pkg/b.py": "b = 1\n"}, "one")
    repo = GitRepository(builder.path)
    assert sorted(repo.files("HEAD")) == ["a.py", "pkg/b.py"]
    assert sorted(repo.files("HEAD")) == ["a.py", "pkg/b.py"]
    assert calls["ls-tree"] == 1  # the same HEAD: served from the cache
    builder.commit({"pkg/c.py": "c = 1\n"}, "two", date="2026-01-02T00:00:00Z")
    assert sorted(repo.files("HEAD")) == ["a.py", "pkg/b.py", "pkg/c.py"]
    assert calls["ls-tree"] == 2  # HEAD moved: asked again, never a stale answer


def test_files_match_git_ls_files(builder):
    builder.commit({"src/x.py": "", "src/deep/y.ts": "", "README.md": "# r\n"}, "one")
    assert sorted(GitRepository(builder.path).files("HEAD")) == sorted(builder.ls_files())


def test_read_gives_text_and_none_for_absent_or_binary(builder, calls):
    first = builder.commit({"a.py": "print('hi')\n", "logo.png": "\0PNG\0"}, "one")
    builder.commit({"a.py": "print('bye')\n"}, "two", date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    assert repo.read("HEAD", "a.py") == "print('bye')\n"
    assert repo.read(first, "a.py") == "print('hi')\n"
    assert repo.read("HEAD", "missing.py") is None
    assert repo.read("HEAD", "logo.png") is None
    assert repo.read_many(first, ["a.py", "missing.py"]) == {"a.py": "print('hi')\n",
                                                             "missing.py": None}
    before = calls["rev-parse"]
    assert repo.read(first, "a.py") == "print('hi')\n"
    assert calls["rev-parse"] == before  # a full sha already resolved is not asked again


def test_history_lists_commits_touching_the_paths_newest_first(builder):
    one = builder.commit({"app/cart.py": lines("a", "b"), "app/web.py": lines("w")}, "one")
    two = builder.commit({"app/web.py": lines("w", "x")}, "web only",
                         date="2026-01-02T00:00:00Z")
    three = builder.commit({"app/cart.py": lines("a", "B", "c"), "docs/x.md": "doc\n",
                            "app/other.py": lines("o")}, "cart and more",
                           author=GRACE, date="2026-01-03T00:00:00Z")
    repo = GitRepository(builder.path)
    history = repo.history("HEAD", ["app/cart.py"], HistoryWindow())
    assert [c.sha for c in history] == [three, one]
    assert two not in {c.sha for c in history}
    latest = history[0]
    assert (latest.author, latest.email, latest.summary) == ("Grace Hopper", "grace@example.com",
                                                             "cart and more")
    assert latest.timestamp == datetime(2026, 1, 3, tzinfo=UTC)
    assert latest.parents == [two]
    # A path-limited read: only the asked paths, marked incomplete...
    assert [(c.path, c.added, c.deleted) for c in latest.changes] == [("app/cart.py", 2, 1)]
    assert latest.complete is False
    # ...and `describe` gives every file of such a commit.
    (full,) = repo.describe([three])
    assert full.complete is True
    assert sorted(c.path for c in full.changes) == ["app/cart.py", "app/other.py", "docs/x.md"]


def test_history_window_excludes_the_previous_release_and_old_commits(builder):
    builder.commit({"a.py": lines("1")}, "old", date="2025-01-01T00:00:00Z")
    builder.tag("v1")
    mid = builder.commit({"a.py": lines("2")}, "mid", date="2025-12-01T00:00:00Z")
    new = builder.commit({"a.py": lines("3")}, "new", date="2026-01-01T00:00:00Z")
    repo = GitRepository(builder.path)
    assert [c.sha for c in repo.history("HEAD", ["a.py"], HistoryWindow(exclude="v1"))] == [
        new, mid]
    since = HistoryWindow(since=datetime(2025, 11, 15, tzinfo=UTC))
    assert [c.sha for c in repo.history("HEAD", ["a.py"], since)] == [new, mid]
    assert [c.sha for c in repo.history("HEAD", ["a.py"], HistoryWindow(max_commits=1))] == [new]
    assert repo.history("HEAD", [], HistoryWindow()) == []


def test_touching_lists_commits_in_folders_by_name_only(builder, calls):
    one = builder.commit({"app/cart.py": lines("a"), "docs/x.md": "doc\n"}, "one",
                         date="2026-01-01T00:00:00Z")
    two = builder.commit({"app/web.py": lines("w"), "lib/z.py": lines("z")}, "web",
                         date="2026-01-02T00:00:00Z")
    builder.commit({"docs/x.md": "more\n"}, "docs", date="2026-01-03T00:00:00Z")
    repo = GitRepository(builder.path)
    found = repo.touching("HEAD", ["app"], HistoryWindow())
    assert [c.sha for c in found] == [two, one]
    assert [c.path for c in found[0].changes] == ["app/web.py"]  # only the asked folder
    assert all(c.complete is False for c in found)
    assert [c.sha for c in repo.touching("HEAD", ["app"], HistoryWindow(max_commits=1))] == [two]
    before = calls["log"]
    repo.touching("HEAD", ["app"], HistoryWindow())
    assert calls["log"] == before  # cached
    assert repo.touching("HEAD", [], HistoryWindow()) == []


def test_history_of_a_renamed_file_includes_the_rename(builder):
    original = builder.commit({"src/cart.py": lines("def total():", "    return 1")}, "add")
    moved = builder.commit(rename={"src/cart.py": "src/basket.py"}, message="rename cart",
                           date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    history = repo.history("HEAD", ["src/basket.py"], HistoryWindow())
    assert [c.sha for c in history] == [moved]
    assert [c.path for c in history[0].changes] == ["src/basket.py"]
    (described,) = repo.describe([moved])
    assert [c.path for c in described.changes] == ["src/basket.py"]  # the new name
    # blame follows the rename back to the commit that wrote the line
    assert repo.blame("HEAD", "src/basket.py", [(2, 2)])[2].sha == original


def test_hunks_carry_function_context_for_each_language(builder):
    before = {
        "shop/cart.py": lines("class Cart:", "    @property", "    def total(self):",
                              "        s = 0", "        for i in self.items:",
                              "            s += i", "        return s"),
        "src/com/acme/Cart.java": lines(
            "package com.acme;", "", "public class Cart {",
            "    public int total(List<Line> lines) {", "        int s = 0;",
            "        for (Line l : lines) {", "            s += l.price();", "        }",
            "        return s;", "    }", "}"),
        "cart/cart.go": lines("package cart", "", "func (c *Cart) Total() int {", "\ts := 0",
                              "\tfor _, i := range c.items {", "\t\ts += i", "\t}",
                              "\treturn s", "}"),
        "web/cart.js": lines("export function total(items) {", "  let s = 0;",
                             "  if (items.length) {", "    s = 1;", "  }", "  return s;", "}",
                             "", "const area = (w, h) => {", "  const x = w;",
                             "  return x * h;", "};", "", "class Cart {", "  sum(extra) {",
                             "    for (const i of this.items) {", "      extra += i;", "    }",
                             "    return extra;", "  }", "}"),
    }
    builder.commit(before, "one")
    after = {
        "shop/cart.py": before["shop/cart.py"].replace("s += i", "s += i.price"),
        "src/com/acme/Cart.java": before["src/com/acme/Cart.java"].replace("l.price()",
                                                                           "l.cost()"),
        "cart/cart.go": before["cart/cart.go"].replace("\t\ts += i", "\t\ts += i * 2"),
        "web/cart.js": before["web/cart.js"].replace("s = 1;", "s = 2;").replace(
            "x * h;", "x * h * 1;").replace("extra += i;", "extra -= i;"),
    }
    second = builder.commit(after, "two", date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    hunks = [h for h in repo.hunks("HEAD", sorted(after), HistoryWindow()) if h.sha == second]
    headers = {(h.path, h.new_start): h.function for h in hunks}
    assert headers == {
        ("shop/cart.py", 6): "def total(self):",
        ("src/com/acme/Cart.java", 7): "public int total(List<Line> lines) {",
        ("cart/cart.go", 6): "func (c *Cart) Total() int {",
        ("web/cart.js", 4): "export function total(items) {",
        ("web/cart.js", 11): "const area = (w, h) => {",
        ("web/cart.js", 17): "sum(extra) {",
    }
    (python,) = [h for h in hunks if h.path == "shop/cart.py"]
    assert python.added == ["            s += i.price"]
    assert python.removed == ["            s += i"]
    assert (python.old_start, python.old_count, python.new_count) == (6, 1, 1)


def test_blame_asks_once_for_several_ranges_and_clamps_past_the_end(builder, calls):
    first = builder.commit({"a.py": lines("l1", "l2", "l3", "l4", "l5", "l6")}, "one",
                           author=ADA)
    second = builder.commit({"a.py": lines("l1", "L2", "l3", "l4", "L5", "l6")}, "two",
                            author=GRACE, date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    found = repo.blame("HEAD", "a.py", [(1, 2), (5, 9), (40, 50)])
    assert calls["blame"] == 1
    assert sorted(found) == [1, 2, 5, 6]
    assert {n: b.sha for n, b in found.items()} == {1: first, 2: second, 5: second, 6: first}
    assert (found[2].author, found[2].email) == ("Grace Hopper", "grace@example.com")
    assert found[2].timestamp == datetime(2026, 1, 2, tzinfo=UTC)
    assert repo.blame("HEAD", "a.py", [(40, 50)]) == {}
    assert repo.blame("HEAD", "missing.py", [(1, 3)]) == {}
    assert repo.blame("HEAD", "a.py", [(5, 9), (1, 2)]) == found
    assert calls["blame"] == 1  # same ranges at the same commit: cached


def test_blame_credits_the_root_commit(builder):
    root = builder.commit({"a.py": lines("only", "commit")}, "initial import")
    found = GitRepository(builder.path).blame("HEAD", "a.py", [(1, 2)])
    assert {n: b.sha for n, b in found.items()} == {1: root, 2: root}


def test_blame_since_leaves_out_lines_older_than_the_window(builder):
    builder.commit({"a.py": lines("old", "old")}, "old", date="2024-01-01T00:00:00Z")
    builder.commit({"a.py": lines("old", "mid")}, "mid", date="2025-01-01T00:00:00Z")
    new = builder.commit({"a.py": lines("old", "mid", "new")}, "new",
                         date="2026-01-01T00:00:00Z")
    found = GitRepository(builder.path).blame("HEAD", "a.py", [(1, 3)],
                                              since=datetime(2025, 6, 1, tzinfo=UTC))
    assert {n: b.sha for n, b in found.items()} == {3: new}


def test_describe_reads_named_commits_with_all_their_files(builder):
    one = builder.commit({"a.py": "1\n", "b.py": "1\n"}, "one")
    two = builder.commit({"b.py": "2\n", "c/d.py": "2\n"}, "two", author=GRACE,
                         date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    described = {c.sha: c for c in repo.describe([two, one, two])}
    assert set(described) == {one, two}
    assert sorted(c.path for c in described[two].changes) == ["b.py", "c/d.py"]
    assert sorted(c.path for c in described[one].changes) == ["a.py", "b.py"]
    assert described[two].summary == "two" and described[two].author == "Grace Hopper"
    assert repo.describe([]) == []


def test_patch_parser_keeps_added_lines_that_look_like_file_headers():
    sha = "a" * 40
    text = (f"\x01{sha}\ndiff --git a/x.md b/x.md\n--- a/x.md\n+++ b/x.md\n"
            "@@ -1,2 +1,2 @@ intro\n--- old rule\n-plain\n+++ new rule\n+plain2\n"
            "@@ -9 +9 @@ later\n-z\n+Z\n")
    hunks = parse_patch(text)
    assert [(h.path, h.function) for h in hunks] == [("x.md", "intro"), ("x.md", "later")]
    assert hunks[0].added == ["++ new rule", "plain2"]
    assert hunks[0].removed == ["-- old rule", "plain"]


def test_control_characters_in_content_are_not_records(builder):
    first = builder.commit({"a.py": lines("x = 1")}, "one")
    second = builder.commit({"a.py": lines("x = 1", "y = '\x01" + "f" * 40 + "'")},
                            "two", date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    assert [c.sha for c in repo.history("HEAD", ["a.py"], HistoryWindow())] == [second, first]
    (added,) = [h for h in repo.hunks("HEAD", ["a.py"], HistoryWindow()) if h.sha == second]
    assert added.added == ["y = '\x01" + "f" * 40 + "'"]
    commits, _hunks = parse_log_patch("")
    assert commits == []


def test_hunks_of_a_file_whose_name_holds_a_space(builder):
    builder.commit({"src/my cart.py": lines("def total():", "    return 1")}, "one")
    second = builder.commit({"src/my cart.py": lines("def total():", "    return 2")}, "two",
                            date="2026-01-02T00:00:00Z")
    repo = GitRepository(builder.path)
    hunks = repo.hunks("HEAD", ["src/my cart.py"], HistoryWindow())
    assert {(h.sha, h.path) for h in hunks if h.sha == second} == {(second, "src/my cart.py")}
    assert [c.path for c in repo.history("HEAD", ["src/my cart.py"], HistoryWindow())[0].changes
            ] == ["src/my cart.py"]


def test_log_parser_reads_renames_in_both_notations():
    sha = "b" * 40
    text = (f"\x01{sha}\x00{'c' * 40}\x00Ada\x00ada@example.com\x001767225600\x00move\n\n"
            "0\t0\tsrc/{cart.py => basket.py}\n1\t2\told/a.py => new/a.py\n-\t-\tlogo.png\n")
    (commit,) = parse_log(text)
    assert [(c.path, c.added, c.deleted) for c in commit.changes] == [
        ("src/basket.py", 0, 0), ("new/a.py", 1, 2), ("logo.png", None, None)]


# --- the mirror ----------------------------------------------------------------------------


@pytest.fixture
def mirror_calls(monkeypatch) -> list[str]:
    """git subcommands the mirror runs, in order."""
    seen: list[str] = []
    real = mirror.run_git

    def counting(path, *args, **kwargs):
        seen.append(args[0])
        return real(path, *args, **kwargs)

    monkeypatch.setattr(mirror, "run_git", counting)
    return seen


def test_mirror_uses_a_local_work_tree_as_it_is(builder, tmp_path, mirror_calls):
    builder.commit({"a.py": "1\n"}, "one")
    assert GitMirror(tmp_path / "cache").ensure(str(builder.path)) == builder.path
    assert mirror_calls == []


def test_mirror_rejects_a_path_that_is_not_a_repository(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(PermanentError, match="not a git repository"):
        GitMirror(tmp_path / "cache").ensure(str(tmp_path / "plain"))


def test_mirror_clones_a_url_once_then_only_fetches(builder, tmp_path, mirror_calls):
    first = builder.commit({"a.py": "1\n"}, "one")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(builder.path), str(bare))
    url = bare.as_uri()
    cache = GitMirror(tmp_path / "cache", max_age_seconds=0)
    local = cache.ensure(url)
    assert local.parent == tmp_path / "cache" and local.name.endswith(".git")
    assert GitRepository(local).resolve("main") == first
    second = builder.commit({"a.py": "2\n"}, "two", date="2026-01-02T00:00:00Z")
    git(builder.path, "push", "-q", str(bare), "main")
    assert cache.ensure(url) == local
    assert cache.ensure(url) == local
    assert mirror_calls == ["clone", "fetch", "fetch"]
    assert GitRepository(local).resolve("main") == second


def test_mirror_skips_the_fetch_while_fresh(builder, tmp_path, mirror_calls):
    builder.commit({"a.py": "1\n"}, "one")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(builder.path), str(bare))
    cache = GitMirror(tmp_path / "cache", max_age_seconds=3600)
    assert cache.ensure(bare.as_uri()) == cache.ensure(bare.as_uri())
    assert mirror_calls == ["clone"]


def test_mirror_of_an_unreachable_url_is_a_permanent_error(tmp_path):
    with pytest.raises(PermanentError):
        GitMirror(tmp_path / "cache").ensure((tmp_path / "nowhere.git").as_uri())


def test_repository_accepts_a_bare_mirror(builder, tmp_path: Path):
    sha = builder.commit({"a.py": "1\n"}, "one")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(builder.path), str(bare))
    repo = GitRepository(bare)
    assert repo.resolve("HEAD") == sha and repo.files(sha) == ["a.py"]


def test_versions_give_each_file_before_and_after_its_commits(builder):
    first = builder.commit({"a.py": "x = 1\n"}, "one")
    second = builder.commit({"a.py": "x = 2\n", "b.py": "y = 1\n"}, "two")
    repo = GitRepository(builder.path)
    found = repo.versions([(second, "a.py"), (second, "b.py"), (first, "a.py")])
    assert found[(second, "a.py")] == ("x = 1\n", "x = 2\n")
    assert found[(second, "b.py")] == (None, "y = 1\n")  # created by the commit
    assert found[(first, "a.py")] == (None, "x = 1\n")  # the root commit has no parent
    assert repo.versions([]) == {}


def test_removed_lists_every_line_a_commit_removed_even_from_deleted_files(builder):
    builder.commit({"a.py": lines("def f():", "    return 1", "-- a comment line"),
                    "b.py": "x = 1\n"}, "one")
    second = builder.commit({"b.py": "x = 2\n", "c.py": "def f():\n"}, "move", delete=("a.py",))
    third = builder.commit({"d.py": "new\n"}, "only adds")
    found = GitRepository(builder.path).removed([second, third])
    # A removed `-- a comment line` prints as `--- a comment line`: still content, not a header.
    assert sorted(found[second]) == ["    return 1", "-- a comment line", "def f():", "x = 1"]
    assert found[third] == []
    assert GitRepository(builder.path).removed([]) == {}
