"""Mapping stack frames to files of a real repository: each rule of `worker.correlate.mapping`.

The repository is built once per module with files in Python, TypeScript, Java and Go, and the
frames are matched against what `git ls-files` lists, as the engine does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import GitRepoBuilder
from worker.correlate.mapping import FileIndex, clean_path, map_frame, map_frames
from worker.models import Frame

FILES = {
    "src/shop/cart.py": "def total():\n    return 1\n",
    "src/shop/__init__.py": "",
    "src/shop/payments/__init__.py": "def pay():\n    pass\n",
    "src/shop/web.py": "def handler():\n    pass\n",
    "web/src/components/Basket.ts": "export const total = () => 1;\n",
    "web/src/x.ts": "export const x = 1;\n",
    "web/static/js/app.js": "console.log(1);\n",
    "tools/build/src/x.js": "module.exports = 1;\n",
    "services/cart/src/main/java/com/acme/cart/Cart.java": "package com.acme.cart;\n",
    "services/legacy/src/main/java/com/acme/legacy/Cart.java": "package com.acme.legacy;\n",
    "internal/cart/cart.go": "package cart\n",
    "billing/util.py": "def fmt():\n    pass\n",
    "shipping/util.py": "def fmt():\n    pass\n",
    "README.md": "# shop\n",
}


@pytest.fixture(scope="module")
def repo_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`git ls-files` of a small polyglot repository."""
    builder = GitRepoBuilder(Path(tmp_path_factory.mktemp("mapping")) / "repo")
    builder.commit(FILES, "initial import")
    listed = builder.ls_files()
    assert sorted(listed) == sorted(FILES)
    return listed


def mapped(frame: Frame, files: list[str]):
    """The frame mapped alone against the files (depth numbering included)."""
    return map_frames([frame], files)[0]


def test_runtime_path_matches_repository_file_by_longest_suffix(repo_files):
    item = mapped(Frame(abs_path="/opt/deploy/releases/42/src/shop/cart.py", lineno=2),
                  repo_files)
    assert item.path == "src/shop/cart.py"
    assert item.blameable and item.depth == 0
    assert "3 path component" in item.reason


@pytest.mark.parametrize("prefix", ["/app/", "/srv/", "/usr/src/app/"])
def test_container_prefixes_are_stripped(repo_files, prefix):
    item = mapped(Frame(abs_path=f"{prefix}src/shop/web.py", filename="shop/web.py"), repo_files)
    assert item.path == "src/shop/web.py"


def test_relative_dot_slash_filename_is_matched(repo_files):
    assert clean_path("./src/shop/cart.py") == ["src", "shop", "cart.py"]
    assert mapped(Frame(filename="./src/shop/cart.py"), repo_files).path == "src/shop/cart.py"


def test_webpack_url_with_dot_segment_maps_to_the_source(repo_files):
    item = mapped(Frame(abs_path="webpack:///./src/x.ts", filename="./src/x.ts"), repo_files)
    assert item.path == "web/src/x.ts"


def test_webpack_url_without_dot_keeps_its_first_directory():
    # `webpack:///src/a.ts` has an empty host: `src` is a directory of the path, not a host.
    assert clean_path("webpack:///src/components/Basket.ts") == ["src", "components",
                                                                 "Basket.ts"]
    assert clean_path("webpack://shop-web/./src/x.ts") == ["src", "x.ts"]


def test_windows_drive_and_backslashes_are_normalised(repo_files):
    assert clean_path("C:\\build\\src\\x.js") == ["build", "src", "x.js"]
    item = mapped(Frame(abs_path="C:\\tools\\build\\src\\x.js"), repo_files)
    assert item.path == "tools/build/src/x.js"


def test_file_url_with_windows_drive_is_normalised():
    assert clean_path("file:///C:/build/src/x.js") == ["build", "src", "x.js"]


def test_url_scheme_host_and_query_are_stripped(repo_files):
    raw = "https://cdn.example/static/js/app.js?v=3#L10"
    assert clean_path(raw) == ["static", "js", "app.js"]
    assert mapped(Frame(abs_path=raw, lineno=1), repo_files).path == "web/static/js/app.js"


def test_python_module_maps_to_its_file(repo_files):
    item = mapped(Frame(module="shop.cart", function="total", lineno=2), repo_files)
    assert item.path == "src/shop/cart.py"


def test_python_package_module_maps_to_its_init(repo_files):
    item = mapped(Frame(module="shop.payments", function="pay", lineno=2), repo_files)
    assert item.path == "src/shop/payments/__init__.py"


def test_java_package_and_class_pick_the_right_file_among_same_names(repo_files):
    frame = Frame(filename="Cart.java", abs_path="Cart.java", module="com.acme.cart.Cart",
                  function="total", lineno=1)
    assert mapped(frame, repo_files).path == (
        "services/cart/src/main/java/com/acme/cart/Cart.java")
    legacy = frame.model_copy(update={"module": "com.acme.legacy.Cart"})
    assert mapped(legacy, repo_files).path == (
        "services/legacy/src/main/java/com/acme/legacy/Cart.java")


def test_java_inner_class_maps_to_the_outer_class_file(repo_files):
    frame = Frame(filename="Cart.java", module="com.acme.cart.Cart$Line", function="price",
                  lineno=1)
    assert mapped(frame, repo_files).path == (
        "services/cart/src/main/java/com/acme/cart/Cart.java")


def test_go_application_frame_maps_but_module_cache_is_library(repo_files):
    app = mapped(Frame(abs_path="/build/internal/cart/cart.go", function="cart.Total"),
                 repo_files)
    assert app.path == "internal/cart/cart.go"
    cached = mapped(Frame(abs_path="/go/pkg/mod/github.com/acme/kit@v1.2.0/internal/"
                                   "cart/cart.go", function="kit.Do"), repo_files)
    assert cached.path is None and cached.depth is None
    assert cached.reason == "library code"
    runtime = mapped(Frame(abs_path="/usr/local/go/src/runtime/panic.go"), repo_files)
    assert runtime.path is None and runtime.reason == "library code"


def test_compiled_javascript_maps_to_typescript_source(repo_files):
    item = mapped(Frame(abs_path="/srv/web/dist/components/Basket.js", lineno=1), repo_files)
    assert item.path == "web/src/components/Basket.ts"


def test_ambiguous_base_name_is_not_blamed_at_random(repo_files):
    item = mapped(Frame(abs_path="/app/util.py", function="fmt", lineno=2), repo_files)
    assert item.path is None and item.depth is None and not item.blameable
    assert "ambiguous" in item.reason
    specific = mapped(Frame(abs_path="/app/billing/util.py", lineno=2), repo_files)
    assert specific.path == "billing/util.py"


def test_deeper_tie_between_two_files_is_also_ambiguous():
    index = FileIndex(["services/a/src/app/util.py", "services/b/src/app/util.py"])
    path, _length = index.best(["srv", "src", "app", "util.py"])
    assert path is None
    assert index.best(["b", "src", "app", "util.py"])[0] == "services/b/src/app/util.py"


def test_unmappable_frame_is_kept_and_marked(repo_files):
    frame = Frame(abs_path="/app/src/shop/missing.py", function="gone", lineno=3)
    item = mapped(frame, repo_files)
    assert item.frame == frame
    assert item.path is None and item.depth is None
    assert item.reason == "no file of the repository matches"


@pytest.mark.parametrize("frame", [
    Frame(abs_path="/app/src/shop/cart.py", in_app=False),
    Frame(abs_path="/usr/local/lib/python3.11/site-packages/shop/cart.py"),
    Frame(abs_path="/app/.venv/lib/python3.11/site-packages/requests/api.py"),
    Frame(abs_path="/app/node_modules/react/index.js"),
    Frame(filename="ArrayList.java", module="java.util.ArrayList", function="get"),
    Frame(abs_path="<frozen importlib._bootstrap>"),
], ids=["in_app-false", "site-packages", "virtualenv", "node_modules", "jdk", "frozen"])
def test_library_frames_are_never_blamed(repo_files, frame):
    item = mapped(frame, repo_files)
    assert item.path is None and item.depth is None
    assert not item.blameable
    assert item.reason == "library code"


def test_site_packages_copy_of_an_app_file_is_library_even_when_it_would_match(repo_files):
    index = FileIndex(repo_files)
    item = map_frame(Frame(abs_path="/venv/lib/python3.11/site-packages/src/shop/cart.py"),
                     index)
    assert item.path is None and item.reason == "library code"


def test_depth_counts_from_the_innermost_in_app_frame(repo_files):
    frames = [  # oldest first, as events carry them
        Frame(abs_path="/app/src/shop/web.py", function="handler", lineno=1),
        Frame(abs_path="/usr/lib/python3.11/site-packages/flask/app.py", function="dispatch"),
        Frame(abs_path="/app/src/shop/cart.py", function="total", lineno=2),
        Frame(abs_path="/app/src/shop/nowhere.py", function="lost", lineno=9),
        Frame(abs_path="/usr/lib/python3.11/json/decoder.py", function="decode"),
    ]
    result = map_frames(frames, repo_files)
    assert [item.depth for item in result] == [1, None, 0, None, None]
    assert [item.path for item in result] == ["src/shop/web.py", None, "src/shop/cart.py",
                                              None, None]


def test_non_code_files_are_never_matched(repo_files):
    assert mapped(Frame(abs_path="/app/README.md", lineno=1), repo_files).path is None
