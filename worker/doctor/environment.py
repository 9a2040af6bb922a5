"""Checks of what the fix loop's sandboxed runs need beyond the sandbox itself: the environment
cache, the package indexes a repository setup downloads from, and each service's test services.

All three only matter when the fix loop is on (`fix.enabled`): environments are built and tests
run only by the fix and verify stages. Hosts are asked with a plain TCP connect, all at once,
and every check returns within `CONNECT_SECONDS` and a second, whatever name resolution does.

Severity:
- environment cache: a folder that cannot be made or written is an error (every build would
  fail); less free disk space than `env.max_cache_mb` is a warning (the cache's own size is not
  counted: it is measured against the free space alone).
- package indexes: a host that does not answer is a warning; suture runs, but environments
  that need it cannot be built, so those fixes end unverified.
- test services: one that does not answer is a warning in every command, `doctor` included:
  suture runs, and the tests that need it cannot pass, so their verdicts come out "could not
  verify" until it answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from worker.doctor.checks import said
from worker.doctor.model import Check, Probes, Status
from worker.env.models import IndexConfig
from worker.settings import ServiceSettings, Settings

OK, WARNING, ERROR = Status.OK, Status.WARNING, Status.ERROR

CONNECT_SECONDS = 3.0
FIX_OFF = "not needed: the fix loop is off (fix.enabled = false)"
MB = 1024 * 1024
# The default index hosts by ecosystem (`worker.env.indexes.DEFAULT_HOSTS`): the variable of a
# setup's index configuration that replaces them, and the service languages that use them
# (None: every service, since PyPI is where a Python setup and suture's venvs come from).
INDEX_GROUPS: tuple[tuple[tuple[str, ...], str, frozenset[str] | None], ...] = (
    (("pypi.org", "files.pythonhosted.org"), "PIP_INDEX_URL", None),
    (("registry.npmjs.org", "registry.yarnpkg.com", "repo.yarnpkg.com"), "npm_config_registry",
     frozenset({"javascript", "typescript"})),
    (("proxy.golang.org",), "GOPROXY", frozenset({"go"})),
    (("sum.golang.org",), "GOSUMDB", frozenset({"go"})),
)
MIRRORS = {"PIP_INDEX_URL": "PIP_INDEX_URL (pip.conf index-url)",
           "npm_config_registry": "npm_config_registry (.npmrc registry)",
           "GOPROXY": "GOPROXY", "GOSUMDB": "GOSUMDB"}

Target = tuple[str, int]


def where(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def reach(probes: Probes, targets: Sequence[Target], timeout: float) -> dict[Target, str]:
    """Connect to every target at once: "" for each that answered, else why not. Returns
    within `timeout` and a second even when name resolution hangs (that thread is left)."""
    answers: dict[Target, str] = {}

    def connect(target: Target) -> None:
        try:
            probes.connect(target[0], target[1], timeout)
        except Exception as exc:
            answers[target] = said(exc)
        else:
            answers[target] = ""

    threads = [threading.Thread(target=connect, args=(target,), daemon=True,
                                name="doctor-connect") for target in dict.fromkeys(targets)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    seen = dict(answers)
    return {target: seen.get(target, f"no answer within {timeout:g} s") for target in targets}


def check_env_cache(settings: Settings, probes: Probes) -> Check:
    """The environment cache (`env.cache_dir`, default `<data_dir>/envs`) can be made and
    written (its nearest existing folder is looked at; nothing is created), with at least
    `env.max_cache_mb` free on its disk."""
    name = "environment cache"
    if not settings.fix.enabled:
        return Check(name, OK, FIX_OFF)
    folder = settings.env.cache_dir or settings.data_dir / "envs"
    try:
        problem = probes.unwritable(folder)
    except Exception as exc:
        problem = said(exc)
    if problem:
        return Check(name, ERROR, f"{folder}: {problem}: no environment can be built",
                     "set SUTURE_ENV__CACHE_DIR (env.cache_dir) to a folder this user can write")
    limit = settings.env.max_cache_mb
    try:
        free = probes.free_space(folder) // MB
    except Exception as exc:
        return Check(name, WARNING, f"{folder}: writable; its free space cannot be read: "
                                    f"{said(exc)}",
                     f"make sure {limit} MB (env.max_cache_mb) fit on that disk")
    if free < limit:
        return Check(name, WARNING,
                     f"{folder}: {free} MB free, less than env.max_cache_mb = {limit} MB: builds "
                     "fail once the disk is full, before the cache is trimmed",
                     f"free space there, set SUTURE_ENV__MAX_CACHE_MB to at most {free}, or "
                     "point SUTURE_ENV__CACHE_DIR at a larger disk")
    return Check(name, OK, f"{folder}: writable, {free} MB free (env.max_cache_mb = {limit})")


def index_targets(config: IndexConfig, languages: Collection[str]) -> list[Target]:
    """The hosts and ports of `config.allow_hosts` a setup downloads from: every host the
    configuration names, and the default hosts its variables do not replace (npm's and Go's only
    for a service in those `languages`). The port is the entry's own, else 80 for a host only
    named by `http://` URLs, else 443."""
    skipped: set[str] = set()
    for hosts, variable, used_by in INDEX_GROUPS:
        if variable in config.env or (used_by is not None and not used_by & set(languages)):
            skipped.update(hosts)
    plain = _plain_http_hosts(config)
    targets: list[Target] = []
    for entry in config.allow_hosts:
        host, port = _host_port(entry)
        if entry not in skipped:
            targets.append((host, port or (80 if host in plain else 443)))
    return targets


def check_package_indexes(settings: Settings, probes: Probes) -> Check:
    """The package-index hosts a repository setup may reach (the default index hosts and the
    host's own index configuration, as `worker.env.indexes` makes of it) answer a TCP connect;
    PyPI's (or the pip index configured instead) always, npm's and Go's when a service is in
    that language."""
    name = "package indexes"
    if not settings.fix.enabled:
        return Check(name, OK, FIX_OFF)
    try:
        config = probes.package_indexes()
    except Exception as exc:
        return Check(name, WARNING, f"the host's index configuration cannot be read: {said(exc)}",
                     "correct pip.conf, .npmrc or the PIP_*, npm_config_* and GO* variables")
    targets = index_targets(config, {service.language for service in settings.services})
    if not targets:
        return Check(name, OK, "no index host to reach: the configured indexes are local")
    answers = reach(probes, targets, CONNECT_SECONDS)
    down = [target for target in targets if answers[target]]
    if not down:
        return Check(name, OK, ", ".join(where(*target) for target in targets) + " answer")
    found = "; ".join(f"{where(*target)} does not answer ({answers[target]})" for target in down)
    return Check(name, WARNING, found, _index_fix([host for host, _ in down]))


def _index_fix(hosts: Sequence[str]) -> str:
    """How to fix unanswered index `hosts`: reach them, or replace or correct what names them."""
    defaults = {host for group, _, _ in INDEX_GROUPS for host in group}
    mirrors = [MIRRORS[variable] for group, variable, _ in INDEX_GROUPS if set(group) & set(hosts)]
    fix = ("environments cannot be built from them: let this machine reach them (DNS, proxy, "
           "firewall)")
    if mirrors:
        fix += f", or set {' and '.join(mirrors)} to a mirror it reaches"
    if set(hosts) - defaults:
        fix += (", or correct the index configuration that names them (pip.conf, .npmrc, PIP_*, "
                "npm_config_*, GOPROXY)")
    return fix


def _host_port(entry: str) -> tuple[str, int | None]:
    """An allowlist entry (`host`, `host:port`, `[v6]`, `[v6]:port`) as host and port."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (entry, None)


def _plain_http_hosts(config: IndexConfig) -> set[str]:
    """Hosts the configuration names only with `http://` URLs without a port."""
    schemes: dict[str, set[str]] = {}
    for value in config.env.values():
        for word in value.replace(",", " ").replace("|", " ").split():
            parts = urlsplit(word)
            if parts.scheme in ("http", "https") and parts.hostname and parts.port is None:
                schemes.setdefault(parts.hostname, set()).add(parts.scheme)
    return {host for host, seen in schemes.items() if seen == {"http"}}


def no_test_services(settings: Settings) -> Check | None:
    """The test services check when there is nothing to connect to (the fix loop is off, or no
    service declares any); None when there is."""
    if not settings.fix.enabled:
        return Check("test services", OK, FIX_OFF)
    if not any(service.test_services for service in settings.services):
        return Check("test services", OK, "none declared (a service's test_services)")
    return None


def check_test_services(service: ServiceSettings, probes: Probes) -> Check:
    """Every test service `service` declares answers a TCP connect at its host:port."""
    name = f"test services {service.name}"
    declared = [(test.name, (test.host, test.port)) for test in service.test_services]
    answers = reach(probes, [target for _, target in declared], CONNECT_SECONDS)
    down = [(label, target) for label, target in declared if answers[target]]
    if not down:
        return Check(name, OK, ", ".join(f"{label} at {where(*target)}"
                                         for label, target in declared) + " answer")
    found = "; ".join(f"{label} at {where(*target)} does not answer ({answers[target]})"
                      for label, target in down)
    it, its = ("it", "its") if len(down) == 1 else ("them", "their")
    return Check(name, WARNING, f"{found}: tests that need {it} cannot be verified",
                 "start " + ", ".join(f"{label} ({where(*target)})" for label, target in down)
                 + f' or correct {its} host and port in test_services of service "{service.name}"')
