"""Choosing a repository's setup from its tracked files (each ecosystem, with and without the
optional tools), the `.suture.yml` and settings overrides, and the cache key."""

from __future__ import annotations

import pytest

from worker.env.detect import detect_setup, plan_setup
from worker.env.key import environment_key
from worker.env.models import ENV_DIR
from worker.playbooks.catalogue import PlaybookError
from worker.settings import load_settings

RUNTIME = {"python": "3.11.7", "platform": "linux-x86_64"}


def tree(files: dict[str, str]):
    """Tracked paths and a reader over them, as the engine passes them."""
    return list(files), files.get


def test_requirements_files_and_an_editable_project_with_its_test_extras():
    files = {
        "requirements.txt": "flask==3.0\n", "requirements-dev.txt": "pytest\n",
        "requirements-docs.txt": "sphinx\n", "sub/requirements.txt": "nested\n",
        "pyproject.toml": '[project]\nname = "shop"\nversion = "1"\n'
                          '[project.optional-dependencies]\ntest = ["hypothesis"]\n'
                          'gpu = ["torch"]\n',
        "README.md": "hello",
    }
    plan = detect_setup(*tree(files))

    assert plan.commands == ["python -m pip install -r requirements-dev.txt -r requirements.txt",
                             "python -m pip install -e '.[test]'"]
    assert plan.source == ("detected from requirements-dev.txt, requirements.txt and "
                           "pyproject.toml: pip into a virtualenv")
    assert plan.files == ["requirements-dev.txt", "requirements.txt", "pyproject.toml"]
    assert plan.python and not plan.node and not plan.go and plan.keep == []


def test_pytest_is_added_when_no_dependency_file_names_it():
    plan = detect_setup(*tree({"requirements.txt": "tomli-w\n", "test_x.py": ""}))

    assert plan.commands == ["python -m pip install -r requirements.txt",
                             "python -m pip install pytest"]
    assert plan.source == ("detected from requirements.txt: pip into a virtualenv; pytest "
                           "added, since no dependency file names it")


def test_pep_621_dependencies_with_dependency_groups_expanded():
    pyproject = """
[project]
name = "lib"
version = "1"
dependencies = ["attrs"]
[project.optional-dependencies]
Testing = ["coverage"]
[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
docs = ["mkdocs"]
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""
    plan = detect_setup(*tree({"pyproject.toml": pyproject}))

    assert plan.commands == ["python -m pip install -e '.[Testing]' 'pytest>=8' ruff"]
    assert plan.source == "detected from pyproject.toml: pip into a virtualenv"


UV_LOCK = """
version = 1
[[package]]
name = "lib"
version = "1"
source = { editable = "." }
[[package]]
name = "Attrs"
version = "24.2.0"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "pytest"
version = "8.3.3"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "numpy"
version = "2.1.0"
source = { registry = "https://pypi.org/simple" }
"""
PEP621 = ('[project]\nname = "lib"\nversion = "1"\ndependencies = ["attrs", "numpy"]\n'
          '[dependency-groups]\ndev = ["pytest"]\n')


def test_uv_lock_with_uv_installed_syncs_frozen():
    plan = detect_setup(*tree({"uv.lock": UV_LOCK, "pyproject.toml": PEP621}), tools={"uv"})

    assert plan.commands == ["uv sync --frozen --group dev"]
    assert plan.source == "detected from uv.lock: uv sync --frozen --group dev"
    assert plan.files == ["uv.lock", "pyproject.toml"] and plan.generated == {}


def test_uv_lock_without_uv_pins_pip_to_the_lock():
    plan = detect_setup(*tree({"uv.lock": UV_LOCK, "pyproject.toml": PEP621}), tools=set())

    assert plan.commands == [
        f"python -m pip install -c {ENV_DIR}/setup/constraints.txt -e . pytest"]
    # numpy is locked at two versions (a platform fork): one constraint cannot say that.
    assert plan.generated == {"setup/constraints.txt": "attrs==24.2.0\npytest==8.3.3\n"}
    assert "uv is not installed: pip installs the project's dependencies at the lock's " \
           "versions" in plan.source


POETRY_PYPROJECT = """
[tool.poetry]
name = "svc"
version = "1"
[tool.poetry.dependencies]
python = "^3.11"
requests = "^2.31"
[tool.poetry.group.dev.dependencies]
pytest = "^8"
[tool.poetry.group.docs]
optional = true
[tool.poetry.group.docs.dependencies]
mkdocs = "*"
[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""
POETRY_LOCK = """
[[package]]
name = "requests"
version = "2.32.3"
[[package]]
name = "pytest"
version = "8.3.3"
[[package]]
name = "internal"
version = "0.1"
[package.source]
type = "git"
url = "https://git.example/internal.git"
"""


def test_poetry_lock_with_and_without_poetry():
    files = {"poetry.lock": POETRY_LOCK, "pyproject.toml": POETRY_PYPROJECT}

    with_poetry = detect_setup(*tree(files), tools={"poetry"})
    without = detect_setup(*tree(files))

    assert with_poetry.commands == ["poetry install --no-interaction"]
    assert without.commands == [
        f"python -m pip install -c {ENV_DIR}/setup/constraints.txt -e . pytest"]
    assert without.generated["setup/constraints.txt"] == "pytest==8.3.3\nrequests==2.32.3\n"
    assert "poetry is not installed" in without.source


@pytest.mark.parametrize(("lock", "tools", "command"), [
    ("package-lock.json", set(), "npm ci"),
    ("pnpm-lock.yaml", {"pnpm"}, "pnpm install --frozen-lockfile"),
    ("pnpm-lock.yaml", {"corepack"}, "corepack pnpm install --frozen-lockfile"),
    ("yarn.lock", {"yarn"}, "yarn install --frozen-lockfile --non-interactive"),
    (None, set(), "npm install"),
])
def test_node_lock_files(lock, tools, command):
    files = {"package.json": "{}", **({lock: "x"} if lock else {})}
    plan = detect_setup(*tree(files), tools=tools)

    assert plan.commands == [command]
    assert plan.node and plan.keep == ["node_modules"] and not plan.python
    assert plan.files == ["package.json", *([lock] if lock else [])]
    assert plan.source.startswith(f"detected from package.json{' and ' + lock if lock else ''}")


def test_go_module_and_a_missing_go_sum():
    with_sum = detect_setup(*tree({"go.mod": "module x\n", "go.sum": ""}))
    without = detect_setup(*tree({"go.mod": "module x\n"}))

    assert with_sum.commands == ["go mod download"] and with_sum.go
    assert not with_sum.go_mod_mod and without.go_mod_mod
    assert with_sum.source == "detected from go.mod and go.sum: go mod download"


def test_several_ecosystems_and_nothing_to_set_up():
    mixed = detect_setup(*tree({"requirements.txt": "pytest\n", "package.json": "{}",
                                "package-lock.json": "{}"}))
    empty = detect_setup(*tree({"README.md": "", "src/main.c": ""}))

    assert mixed.commands == ["python -m pip install -r requirements.txt", "npm ci"]
    assert mixed.source == ("detected from requirements.txt: pip into a virtualenv; "
                            "detected from package.json and package-lock.json: npm ci")
    assert empty.commands == [] and empty.source.startswith("nothing to set up")


def test_suture_yml_setup_wins_over_the_service_settings_and_detection():
    files = {"requirements.txt": "pytest\n",
             ".suture.yml": "test_command: make test\nsetup:\n  - make deps\n"}

    from_repo = plan_setup(*tree(files), configured=["pip install ."])
    from_service = plan_setup(*tree({"requirements.txt": "pytest\n"}),
                              configured=["pip install ."])
    detected = plan_setup(*tree({"requirements.txt": "pytest\n"}))

    assert from_repo.commands == ["make deps"]
    assert from_repo.source == "configured in .suture.yml (1 command)"
    assert from_repo.python and from_repo.files == ["requirements.txt"]
    assert from_service.commands == ["pip install ."]
    assert from_service.source == "configured for the service (1 command)"
    assert detected.commands == ["python -m pip install -r requirements.txt"]


def test_an_invalid_suture_yml_setup_is_an_error():
    with pytest.raises(PlaybookError, match="setup"):
        plan_setup(*tree({".suture.yml": "setup: make deps\n"}))


def test_setup_commands_in_the_service_settings(monkeypatch):
    monkeypatch.setenv("SUTURE_SERVICES", '[{"name": "shop", "repository": ".", '
                                          '"setup": ["npm ci", "npm run build"]}]')
    monkeypatch.setenv("SUTURE_ENV__MAX_CACHE_MB", "512")
    monkeypatch.delenv("SUTURE_ENV__CACHE_DIR", raising=False)  # the tests' shared cache
    settings = load_settings()

    assert settings.services[0].setup == ["npm ci", "npm run build"]
    assert settings.env.max_cache_mb == 512 and settings.env.cache_dir is None
    monkeypatch.setenv("SUTURE_ENV__CACHE_DIR", "")  # as env.example leaves it: the default
    assert load_settings().env.cache_dir is None


def test_the_key_follows_the_dependency_files_and_commands_only():
    files = {"requirements.txt": "tomli-w\n", "README.md": "one", "app.py": "x = 1\n"}
    plan = detect_setup(*tree(files))

    def key(changed: dict[str, str], commands: list[str] | None = None,
            runtime: dict[str, str] = RUNTIME) -> str:
        read = {**files, **changed}
        chosen = plan if commands is None else plan.model_copy(update={"commands": commands})
        return environment_key(chosen, {name: read.get(name) for name in chosen.files}, runtime)

    first = key({})
    assert key({}) == first
    assert key({"README.md": "two", "app.py": "x = 2\n"}) == first
    assert key({"requirements.txt": "tomli-w==1.2.0\n"}) != first
    assert key({}, commands=["python -m pip install -r requirements.txt"]) != first
    assert key({}, runtime={**RUNTIME, "python": "3.12.1"}) != first
    assert len(first) == 64
