"""Checks for proposing fixes: the code host's credentials, and what previews need (a browser
for screenshots, a writable artifact folder)."""

from __future__ import annotations

from worker.doctor.model import Check, Probes, Status
from worker.settings import Settings

OK, WARNING, ERROR = Status.OK, Status.WARNING, Status.ERROR


def check_code_host(settings: Settings, probes: Probes) -> Check:
    """The code host verified fixes are proposed on has a credential that can be read."""
    if settings.code_host == "none":
        return Check("code host", OK, "none: verified fixes are filed as tickets")
    unslugged = [service.name for service in settings.services if not service.slug]
    if settings.code_host == "gitlab":
        if settings.gitlab.token is None:
            return Check("code host", ERROR, 'code_host = "gitlab" but no GitLab token is set',
                         "set SUTURE_GITLAB__TOKEN (gitlab.token) to a project access token "
                         "with the Developer role and the api and write_repository scopes")
        found = f"GitLab at {settings.gitlab.base_url}, token set"
    else:
        github = settings.github
        if github.app_id is not None or github.app_private_key_file is not None:
            if github.app_id is None or github.app_private_key_file is None:
                return Check("code host", ERROR, "a GitHub App needs both github.app_id and "
                                                 "github.app_private_key_file",
                             "set the one that is missing, or neither to use github.token")
            problem = probes.unreadable(github.app_private_key_file)
            if problem:
                return Check("code host", ERROR, f"the GitHub App's private key: {problem}",
                             "point github.app_private_key_file at the App's .pem file, "
                             "readable by this user")
            found = f"GitHub App {github.app_id} at {github.base_url}"
        elif github.token is None:
            return Check("code host", ERROR, 'code_host = "github" but neither a GitHub App nor '
                                             "a token is configured",
                         "set github.app_id and github.app_private_key_file (preferred), or "
                         "SUTURE_GITHUB__TOKEN")
        else:
            found = f"GitHub at {github.base_url}, personal token (commit statuses, no check runs)"
    if unslugged:
        return Check("code host", WARNING, f"{found}; services without a slug get tickets: "
                                           f"{', '.join(unslugged)}",
                     'set slug = "owner/name" on each of those services')
    return Check("code host", OK, found)


def check_previews(settings: Settings, probes: Probes) -> Check:
    """Services with previews have a browser for screenshots and a folder for evidence."""
    previewed = [s.name for s in settings.services
                 if s.preview.command or s.preview.deploy_command or s.preview.provider == "github"]
    if not previewed:
        return Check("previews", OK, "no service has a preview configured (services.preview)")
    folder = settings.artifacts.dir or settings.data_dir / "artifacts"
    problem = probes.unwritable(folder)
    if problem:
        return Check("previews", ERROR, f"artifact folder {folder}: {problem}",
                     "set SUTURE_ARTIFACTS__DIR (artifacts.dir) to a folder this user can write")
    browser = probes.program(str(settings.browser.chromium_path or "chromium"))
    if browser is None:
        return Check("previews", WARNING, "no Chromium: replays run, but without screenshots",
                     "apt-get install chromium (or set browser.chromium_path)")
    return Check("previews", OK, f"{', '.join(previewed)}: screenshots with {browser}, evidence "
                                 f"in {folder}")


def check_following(settings: Settings, probes: Probes) -> Check:
    """How suture learns what happens to its pull requests, and who it tells."""
    channels = settings.notify.channels
    told = f"notices go to {', '.join(channels)}" if channels else "no notices are sent"
    if settings.code_host == "none":
        return Check("following", OK, f"no code host: nothing to follow; {told}")
    section = settings.github if settings.code_host == "github" else settings.gitlab
    hook = f"/hooks/{settings.code_host}"
    if section.webhook_secret is None:
        return Check("following", WARNING,
                     f"no {settings.code_host}.webhook_secret: pull requests are polled every "
                     f"{settings.follow.poll_seconds} s instead of reported at {hook}; {told}",
                     f"point a {settings.code_host} webhook (pull requests, reviews, comments, "
                     f"checks) at https://<suture>{hook} and set "
                     f"SUTURE_{settings.code_host.upper()}__WEBHOOK_SECRET")
    return Check("following", OK, f"webhooks at {hook}, signed; {told}")
