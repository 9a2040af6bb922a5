"""The environment variables of a setup and of the runs that use its environment.

A setup writes what lasts under `ENV_DIR` (the virtualenv, Go's module cache) and everything
else (download caches, corepack, Go's build cache) under the sandbox's private /tmp, which goes
away with the command: a download cache shared between setups would let one repository's setup
plant files another's trusts. Runs get the environment first on PATH and no network: npm is
told it is offline and Go may not reach a proxy.
"""

from __future__ import annotations

from worker.env.models import ENV_DIR, VENV_DIR, WORKDIR, IndexConfig, SetupPlan

SCRATCH = "/tmp"  # the sandbox's private tmpfs (its TMPDIR)
GOMODCACHE = f"{ENV_DIR}/go/mod"


def search_path(plan: SetupPlan, default_path: str) -> str:
    """PATH with the environment's programs before the sandbox's `default_path`."""
    first = [*([f"{VENV_DIR}/bin"] if plan.python else []),
             *([f"{WORKDIR}/node_modules/.bin"] if plan.node else [])]
    return ":".join([*first, default_path])


def setup_env(plan: SetupPlan, index: IndexConfig, default_path: str) -> dict[str, str]:
    """Variables of every setup command: the environment active, caches in scratch, and the
    host's (credential-free) index configuration."""
    env = {"PATH": search_path(plan, default_path), "CI": "1"}
    if plan.python:
        env |= {"VIRTUAL_ENV": VENV_DIR, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_INPUT": "1", "PIP_CACHE_DIR": f"{SCRATCH}/pip-cache",
                # uv and poetry install into the active virtualenv, never one of their own.
                "UV_PROJECT_ENVIRONMENT": VENV_DIR, "UV_PYTHON_DOWNLOADS": "never",
                "UV_CACHE_DIR": f"{SCRATCH}/uv-cache", "UV_LINK_MODE": "copy",
                "POETRY_VIRTUALENVS_CREATE": "false", "POETRY_NO_INTERACTION": "1",
                "POETRY_CACHE_DIR": f"{SCRATCH}/poetry-cache"}
    if plan.node:
        env |= {"npm_config_cache": f"{SCRATCH}/npm-cache", "npm_config_fund": "false",
                "npm_config_audit": "false", "npm_config_update_notifier": "false",
                "YARN_CACHE_FOLDER": f"{SCRATCH}/yarn-cache",
                "YARN_NODE_LINKER": "node-modules",  # Yarn 2+: a node_modules folder to keep
                "COREPACK_HOME": f"{SCRATCH}/corepack", "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0"}
    if plan.go:
        # -modcacherw: Go makes its module cache read-only, which the cache could not evict.
        env |= {"GOMODCACHE": GOMODCACHE, "GOCACHE": f"{SCRATCH}/go-build",
                "GOPATH": f"{SCRATCH}/go", "GOFLAGS": "-modcacherw"}
    return env | index.env


def run_env(plan: SetupPlan, default_path: str) -> dict[str, str]:
    """Variables of a run that uses the environment (tests, an agent, a reproduction)."""
    env = {"PATH": search_path(plan, default_path)}
    if plan.python:
        env["VIRTUAL_ENV"] = VENV_DIR
    if plan.node:
        env |= {"npm_config_cache": f"{SCRATCH}/npm-cache", "npm_config_offline": "true",
                "npm_config_update_notifier": "false"}
    if plan.go:
        # The module cache is read-only in a run; Go's build cache must be writable, so it
        # starts empty in scratch. Sums were checked when the modules were downloaded.
        env |= {"GOMODCACHE": GOMODCACHE, "GOCACHE": f"{SCRATCH}/go-build",
                "GOPATH": f"{SCRATCH}/go", "GOPROXY": "off", "GOSUMDB": "off"}
        if plan.go_mod_mod:
            env["GOFLAGS"] = "-mod=mod"
    return env
