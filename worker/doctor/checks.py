"""One check per concern of a setup, each a pure function of the settings and the probes.

Every result names what was found and, unless it is ok, one concrete line saying how to fix it.
A probe that raises becomes an error result, never an exception: the checks run before anything
else and must explain a broken machine, not crash on it.
"""

from __future__ import annotations

import re
from pathlib import Path

from worker.doctor.model import Check, Probes, RepositoryProbe, SandboxProbe, Status
from worker.settings import ServiceSettings, Settings

OK, WARNING, ERROR = Status.OK, Status.WARNING, Status.ERROR

INSTALL_BWRAP = "install bubblewrap: apt-get install -y bubblewrap"
# bubblewrap's words when the kernel (or a container's seccomp/AppArmor policy) refuses it the
# user namespace it needs: "No permissions to creating new namespace", "setting up uid map:
# Permission denied", "Creating new namespace failed: Operation not permitted", "loopback:
# Failed RTM_NEWADDR".
USERNS_WORDS = re.compile(r"namespace|uid map|gid map|RTM_NEWADDR|Operation not permitted", re.I)
USERNS_FIXES = {
    "kernel.unprivileged_userns_clone":
        "allow user namespaces: sysctl -w kernel.unprivileged_userns_clone=1",
    "user.max_user_namespaces": "allow user namespaces: sysctl -w user.max_user_namespaces=15000",
    "kernel.apparmor_restrict_unprivileged_userns":
        "give bwrap an AppArmor profile that allows user namespaces, or "
        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
}
USERNS_IN_CONTAINER = ("allow user namespaces: run the container with --security-opt "
                       "seccomp=unconfined --security-opt apparmor=unconfined (or enable them on "
                       "the host)")


def redact(url: str) -> str:
    """`url` with any password replaced by `***`."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def is_remote(location: str) -> bool:
    """True for a clone URL, False for a local path (the rule `GitMirror` follows)."""
    return "://" in location or location.startswith("git@")


def said(exc: BaseException) -> str:
    """What `exc` says, on one line of at most 400 characters (never empty)."""
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", str(exc))
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:399] + "…"


def check_git(probes: Probes) -> Check:
    """git is installed and runs."""
    try:
        return Check("git", OK, probes.git_version())
    except Exception as exc:
        return Check("git", ERROR, f"git cannot run: {said(exc)}",
                     "install git: apt-get install -y git")


def check_sandbox(settings: Settings, probes: Probes) -> Check:
    """bubblewrap is installed and can make a sandbox (needed only when the fix loop is on)."""
    if not settings.fix.enabled:
        return Check("sandbox", OK, "not needed: the fix loop is off (fix.enabled = false)")
    try:
        probe = probes.sandbox()
    except Exception as exc:
        probe = SandboxProbe(installed=True, error=said(exc))
    return sandbox_result(probe)


def sandbox_result(probe: SandboxProbe) -> Check:
    """The sandbox check's verdict on what the probe saw."""
    if not probe.installed:
        return Check("sandbox", ERROR, f"bubblewrap is not installed: {probe.error}".rstrip(": "),
                     INSTALL_BWRAP)
    if not probe.error:
        return Check("sandbox", OK, "bubblewrap ran `true` in a sandbox")
    if USERNS_WORDS.search(probe.error):
        setting = f" ({probe.userns_setting})" if probe.userns_setting else ""
        key = probe.userns_setting.partition(" =")[0]
        return Check("sandbox", ERROR,
                     f"bubblewrap cannot create a sandbox: unprivileged user namespaces are "
                     f"disabled{setting}: {probe.error}",
                     USERNS_FIXES.get(key, USERNS_IN_CONTAINER))
    return Check("sandbox", ERROR, f"bubblewrap cannot create a sandbox: {probe.error}",
                 "see bubblewrap's message; `suture sandbox exec --worktree . -- true` "
                 "reproduces it")


def no_services() -> Check:
    """The repositories check when no service is configured."""
    return Check("repositories", WARNING, "no services configured: events are ticketed without "
                 "suspect commits or fixes",
                 "add a [[services]] table with its name and repository")


def check_repository(service: ServiceSettings, probes: Probes, remote_timeout: float) -> Check:
    """One service's repository and its default branch: a local path must be a git repository,
    a clone URL must answer `git ls-remote` within `remote_timeout` seconds."""
    name = f"repository {service.name}"
    remote = is_remote(service.repository)
    where = redact(service.repository)
    if not remote and not Path(service.repository).expanduser().is_absolute():
        where += f" ({Path(service.repository).expanduser().absolute()})"
    try:
        if remote:
            probe = probes.remote_repository(service.repository, service.default_branch,
                                             remote_timeout)
        else:
            probe = probes.local_repository(Path(service.repository).expanduser(),
                                            service.default_branch)
    except Exception as exc:
        probe = RepositoryProbe(error=said(exc))
    return _repository_result(name, service, where, remote, probe, remote_timeout)


def _repository_result(name: str, service: ServiceSettings, where: str, remote: bool,
                       probe: RepositoryProbe, timeout: float) -> Check:
    setting = f'repository of service "{service.name}"'
    said = redact(probe.error)
    if probe.timed_out:
        return Check(name, WARNING, f"{where} did not answer within {timeout:g} s: {said}",
                     "check that this machine reaches the code host (DNS, proxy, firewall); "
                     "clones and fetches will stall the same way")
    if probe.error and remote:
        return Check(name, ERROR, f"{where} cannot be read: {said}",
                     f"check the URL ({setting}) and that this user's git credentials "
                     "(credential helper, SSH key) can read it")
    if probe.error:
        return Check(name, ERROR, f"{where}: {said}",
                     f"set the {setting} to a clone's top folder (holding .git) or a clone URL")
    branch = service.default_branch
    if probe.has_branch:
        return Check(name, OK, f"{where}: a git repository with branch {branch}")
    instead = (f'set default_branch = "{probe.head_branch}" for service "{service.name}"'
               if probe.head_branch and probe.head_branch != branch
               else f'set default_branch of service "{service.name}" to an existing branch')
    if remote:
        return Check(name, ERROR, f"{where}: branch {branch} does not exist", instead)
    # A local clone may be checked out anywhere (a CI checkout is often detached); runs use HEAD.
    return Check(name, WARNING, f"{where}: branch {branch} does not exist; runs start from HEAD",
                 instead)


def check_forge(settings: Settings, probes: Probes) -> Check:
    """The forge tickets go to has what it needs: a GitHub token, or a writable tickets folder."""
    if settings.forge == "github":
        if settings.github.token is None:
            return Check("forge", ERROR, 'forge = "github" but no GitHub token is configured',
                         "set SUTURE_GITHUB__TOKEN (github.token) to a token that can create "
                         "issues")
        unslugged = [s.name for s in settings.services if not s.slug and "/" not in s.name]
        if unslugged:
            return Check("forge", WARNING,
                         f"GitHub at {settings.github.base_url}, but services without a slug "
                         f"file tickets in a repository named after them: {', '.join(unslugged)}",
                         'set slug = "owner/name" on each of those services')
        return Check("forge", OK, f"GitHub at {settings.github.base_url}, token set")
    try:
        problem = probes.unwritable(settings.tickets_dir)
    except Exception as exc:
        problem = said(exc)
    if problem:
        return Check("forge", ERROR, f"tickets folder {settings.tickets_dir}: {problem}",
                     "set SUTURE_TICKETS_DIR (tickets_dir) to a folder this user can write")
    return Check("forge", OK, f"Markdown tickets in {settings.tickets_dir} (writable)")


def check_database(settings: Settings, probes: Probes) -> Check:
    """The database answers and its schema is at the code's Alembic head."""
    where = redact(settings.database_url)
    upgrade = "run `suture db upgrade` (run, web and worker also upgrade it when they start)"
    try:
        state = probes.database(settings.database_url)
    except Exception as exc:
        return Check("database", ERROR, f"cannot use {where}: {said(exc)}",
                     "start the database or correct SUTURE_DATABASE_URL (database_url)")
    if not state.exists:
        return Check("database", OK, f"{where}: not created yet; `suture db upgrade` or the "
                                     "first start creates it")
    if state.current is None:
        return Check("database", WARNING, f"{where}: connected, no schema yet", upgrade)
    if not state.known:
        return Check("database", ERROR,
                     f"{where}: schema revision {state.current} is not one this suture knows "
                     f"(its head is {state.head}): a newer suture migrated it",
                     "run the suture version that migrated it, or use another database_url")
    if state.current != state.head:
        return Check("database", WARNING,
                     f"{where}: schema at {state.current}, behind head {state.head}", upgrade)
    return Check("database", OK, f"{where}: schema at head ({state.head})")


def check_broker(settings: Settings, probes: Probes) -> Check:
    """The Redis or RabbitMQ broker answers, when one is configured."""
    if not settings.broker_url:
        return Check("broker", OK, "not configured: in-memory broker (embedded `suture run`)")
    where = redact(settings.broker_url)
    try:
        probes.broker(settings.broker_url)
    except Exception as exc:
        return Check("broker", ERROR, f"{where} does not answer: {said(exc)}",
                     "start the broker (Redis or RabbitMQ) or correct SUTURE_BROKER_URL "
                     "(broker_url)")
    return Check("broker", OK, f"{where} answers")


def check_playbooks(settings: Settings, probes: Probes) -> Check:
    """The playbooks load."""
    directory = settings.playbooks_dir
    try:
        count = probes.playbooks(directory)
    except Exception as exc:
        problems = getattr(exc, "problems", None) or [said(exc)]
        shown = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)"
                                            if len(problems) > 3 else "")
        return Check("playbooks", ERROR, f"{directory}: {shown}",
                     "fix those playbooks (`suture playbooks check` lists every problem) or "
                     "correct SUTURE_PLAYBOOKS_DIR")
    if not count:
        return Check("playbooks", ERROR, f"{directory}: no playbooks",
                     "point SUTURE_PLAYBOOKS_DIR (playbooks_dir) at a folder of playbooks")
    return Check("playbooks", OK, f"{count} playbooks load from {directory}")
