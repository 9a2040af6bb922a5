"""Git's smart HTTP protocol for stand-ins: real bare repositories on disk, served through
`git http-backend`, so suture's real `git push` and `git fetch` run unchanged against a local
code host.

Every request must carry HTTP basic credentials that `authorize` accepts (the token is the
password, as on GitHub and GitLab); without them the answer is 401 with a `WWW-Authenticate`
challenge, which is what makes git ask its credential helper. Each push is recorded in `pushes`
with the user and the refs it moved.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integrations.git.command import call_git, run_git
from integrations.standins.base import Call, Reply

# `<repo path>.git/<git's own path>`; the repo path may have several parts (GitLab groups).
_PATH = re.compile(r"/(?P<repo>[\w.-]+(?:/[\w.-]+)+?)\.git(?P<rest>/.*)")
_SERVICES = ("git-upload-pack", "git-receive-pack")

Authorize = Callable[[str, str, str, str], bool]  # user, password, repo, service


@dataclass
class Push:
    """One push the stand-in accepted: who pushed to which repository."""

    user: str
    repo: str


class GitHttp:
    """Serves bare repositories under `root` (`<root>/<repo>.git`) over smart HTTP."""

    def __init__(self, root: Path, authorize: Authorize) -> None:
        self.root = root
        self._authorize = authorize
        self.pushes: list[Push] = []

    def repo_path(self, repo: str) -> Path:
        """The bare repository of `repo` (`owner/name`), created empty the first time."""
        path = self.root / f"{repo}.git"
        if not path.exists():
            path.mkdir(parents=True)
            run_git(path, "init", "-q", "--bare", "-b", "main")
        return path

    def branches(self, repo: str) -> dict[str, str]:
        """Branch name → sha of every branch the repository has."""
        out = run_git(self.repo_path(repo), "for-each-ref",
                      "--format=%(refname:short) %(objectname)", "refs/heads/")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def matches(self, path: str) -> bool:
        """True when `path` is a git smart HTTP path."""
        return _PATH.fullmatch(path) is not None

    def handle(self, call: Call) -> Reply:
        """Answer one git request through `git http-backend`."""
        match = _PATH.fullmatch(call.path)
        if match is None:
            return Reply(404, b"not a git path", content_type="text/plain")
        repo, rest = match["repo"], match["rest"]
        service = call.arg("service") or rest.rsplit("/", 1)[-1]
        if service not in _SERVICES:
            return Reply(403, b"only smart HTTP is served", content_type="text/plain")
        user, password = _basic(call.headers.get("authorization", ""))
        if user is None or not self._authorize(user, password or "", repo, service):
            return Reply(401, b"Authentication failed", content_type="text/plain",
                         headers={"WWW-Authenticate": 'Basic realm="stand-in"'})
        if not (self.root / f"{repo}.git").exists():
            return Reply(404, b"Repository not found", content_type="text/plain")
        query = "&".join(f"{k}={v}" for k, values in call.query.items() for v in values)
        env = {"GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": f"/{repo}.git{rest}", "REQUEST_METHOD": call.method,
               "QUERY_STRING": query, "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": call.headers.get("content-type", ""),
               "CONTENT_LENGTH": str(len(call.body)),
               "HTTP_CONTENT_ENCODING": call.headers.get("content-encoding", ""),
               "GIT_PROTOCOL": call.headers.get("git-protocol", "")}
        done = call_git(self.root, "http-backend", stdin=call.body, env=env, timeout=120)
        if call.method == "POST" and service == "git-receive-pack":
            self.pushes.append(Push(user=user, repo=repo))
        return _cgi_reply(done.stdout)


def _basic(header: str) -> tuple[str | None, str | None]:
    """User and password of a basic `Authorization` header, or (None, None)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def _cgi_reply(output: bytes) -> Reply:
    """A CGI response (headers, blank line, body) as a `Reply`."""
    head, _, body = output.partition(b"\r\n\r\n")
    if not _:
        head, _, body = output.partition(b"\n\n")
    status, headers, content_type = 200, {}, "application/octet-stream"
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name.lower() == "content-type":
            content_type = value
        elif name:
            headers[name] = value
    return Reply(status, body, headers=headers, content_type=content_type)
