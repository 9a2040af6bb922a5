"""Which files each runner collects as tests (pure).

pytest collects the modules its `python_files` globs match: `test_*.py` and `*_test.py` unless
the repository sets them in `pytest.ini`, `.pytest.ini`, `pyproject.toml`
(`[tool.pytest.ini_options]`), `tox.ini` (`[pytest]`) or `setup.cfg` (`[tool:pytest]`), the
first of these that configures pytest winning, as in pytest. unittest discovers `test*.py`;
Django's runner is unittest's discovery, so an app's `tests.py` and its `tests/test*.py` count.
JavaScript runners take `*.test.*`, `*.spec.*` and anything under `__tests__/`; Go takes
`*_test.go`. A glob without `/` matches the file name, one with `/` the whole path.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Callable

PYTEST_DEFAULT = ["test_*.py", "*_test.py"]
UNITTEST_DEFAULT = ["test*.py"]
# Without configuration or a known runner: pytest's defaults, and Django's `tests.py`.
PYTHON_DEFAULT = [*PYTEST_DEFAULT, "tests.py"]
CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_INI_SECTIONS = {"pytest.ini": "pytest", ".pytest.ini": "pytest", "tox.ini": "pytest",
                 "setup.cfg": "tool:pytest"}


def pytest_python_files(read: Callable[[str], str | None]) -> list[str] | None:
    """`python_files` as the repository configures it (`read(path)` gives a file's text, or
    None), or None when the first pytest configuration found does not set it."""
    for name in CONFIG_FILES:
        text = read(name)
        if text is None:
            continue
        configured, value = _python_files(name, text)
        if configured:
            return value
    return None


def python_test_patterns(runner: str | None, read: Callable[[str], str | None]) -> list[str]:
    """The globs that name Python test modules for `runner` in the repository `read` shows."""
    if runner in ("unittest", "django"):
        return list(UNITTEST_DEFAULT)
    configured = pytest_python_files(read)
    if configured is not None:
        return configured
    return list(PYTEST_DEFAULT) if runner == "pytest" else list(PYTHON_DEFAULT)


def _python_files(name: str, text: str) -> tuple[bool, list[str] | None]:
    """Whether `name` configures pytest at all, and the `python_files` it sets."""
    if name == "pyproject.toml":
        try:
            options = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options")
        except (tomllib.TOMLDecodeError, AttributeError):
            return False, None
        if not isinstance(options, dict):
            return False, None
        value = options.get("python_files")
        if isinstance(value, str):
            return True, value.split()
        return True, [str(v) for v in value] if isinstance(value, list) else None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False, None
    section = _INI_SECTIONS[name]
    if not parser.has_section(section):
        # pytest.ini configures pytest even when empty; the others only with their section.
        return name.endswith("pytest.ini"), None
    value = parser.get(section, "python_files", fallback=None)
    return True, value.split() if value else None
