"""Which checks each command needs, and running them (at once, so the slowest sets the pace).

- `suture doctor` and `suture run`: all of them (the review pages' sign-in only there).
- `suture worker`: git, the repositories, the forge, the code host, the database, the broker,
  the playbooks and the error sources; the sandbox, the environment cache, the package indexes,
  the test services, the previews and the model endpoints too when it consumes the `agent`
  queue, where fixes are made and verified (without `--queue` it consumes every queue).
- `suture web` and `suture scheduler`: the database and the broker.

Repository URLs are asked with `git ls-remote` by `doctor` (20 s limit) and, to keep start-up
fast, with a 10 s limit by `run` and `worker`, every repository at once; a URL that does not
answer in time is a warning, never a refusal to start, while one that answers "no" (not found,
no access, no such branch) is an error. The database check only reads: a schema behind head is a
warning, since `run`, `web` and `worker` upgrade it when they start. Test services and package
indexes get a 3 s TCP connect each, all at once, in every command; one that does not answer is
a warning (`worker.doctor.environment`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from worker.doctor.checks import (
    check_broker,
    check_database,
    check_forge,
    check_git,
    check_playbooks,
    check_repository,
    check_sandbox,
    no_services,
)
from worker.doctor.digest import check_digest
from worker.doctor.environment import (
    check_env_cache,
    check_package_indexes,
    check_test_services,
    no_test_services,
)
from worker.doctor.model import Check, Probes
from worker.doctor.models import check_models
from worker.doctor.pages import check_pages
from worker.doctor.publishing import check_code_host, check_following, check_previews
from worker.doctor.sources import check_datadog, check_sentry
from worker.settings import Settings

ALL = ("git", "sandbox", "models", "environment cache", "package indexes", "repositories",
       "test services", "previews", "forge", "code host", "following", "database", "broker",
       "playbooks", "sentry", "datadog", "digest", "review pages")
# What only the `agent` queue's fix and verify stages use.
AGENT_ONLY = frozenset({"sandbox", "models", "environment cache", "package indexes",
                        "test services", "previews"})
# What only the web process serves (the worker has no pages to check).
WEB_ONLY = frozenset({"review pages"})
DOCTOR_REMOTE_TIMEOUT = 20.0
START_REMOTE_TIMEOUT = 10.0


def needs(command: str, queues: Collection[str] | None = None) -> tuple[str, ...]:
    """The checks `command` runs before it starts (`queues`: the worker's `--queue` values)."""
    if command in ("doctor", "run"):
        return ALL
    if command == "worker":
        agent = not queues or "agent" in queues
        return tuple(name for name in ALL
                     if name not in WEB_ONLY and (agent or name not in AGENT_ONLY))
    return ("database", "broker")


def remote_timeout(command: str) -> float:
    """How long `command` waits for a repository URL to answer."""
    return DOCTOR_REMOTE_TIMEOUT if command == "doctor" else START_REMOTE_TIMEOUT


def run_checks(settings: Settings, probes: Probes, names: Collection[str] = ALL,
               timeout: float = DOCTOR_REMOTE_TIMEOUT) -> list[Check]:
    """The named checks' results, in the order of `ALL` (one per repository, and one per service
    declaring test services)."""
    tasks: list[Callable[[], Check]] = []
    for name in (name for name in ALL if name in names):
        if name == "repositories":
            tasks += _repository_tasks(settings, probes, timeout)
        elif name == "test services":
            tasks += _test_service_tasks(settings, probes)
        else:
            tasks.append(_task(name, settings, probes))
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="doctor") as pool:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]


def _task(name: str, settings: Settings, probes: Probes) -> Callable[[], Check]:
    checks: dict[str, Callable[[], Check]] = {
        "git": lambda: check_git(probes),
        "models": lambda: check_models(settings),
        "sandbox": lambda: check_sandbox(settings, probes),
        "environment cache": lambda: check_env_cache(settings, probes),
        "package indexes": lambda: check_package_indexes(settings, probes),
        "forge": lambda: check_forge(settings, probes),
        "code host": lambda: check_code_host(settings, probes),
        "following": lambda: check_following(settings, probes),
        "previews": lambda: check_previews(settings, probes),
        "database": lambda: check_database(settings, probes),
        "broker": lambda: check_broker(settings, probes),
        "playbooks": lambda: check_playbooks(settings, probes),
        "sentry": lambda: check_sentry(settings),
        "datadog": lambda: check_datadog(settings),
        "digest": lambda: check_digest(settings),
        "review pages": lambda: check_pages(settings),
    }
    return checks[name]


def _repository_tasks(settings: Settings, probes: Probes,
                      timeout: float) -> list[Callable[[], Check]]:
    if not settings.services:
        return [no_services]
    return [partial(check_repository, service, probes, timeout) for service in settings.services]


def _test_service_tasks(settings: Settings, probes: Probes) -> list[Callable[[], Check]]:
    skipped = no_test_services(settings)
    if skipped is not None:
        return [lambda: skipped]
    return [partial(check_test_services, service, probes)
            for service in settings.services if service.test_services]
