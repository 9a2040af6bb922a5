"""Pull requests, branches and issue comments in the GitHub stand-in.

Routes: `GET`/`POST /repos/{o}/{r}/pulls`, `GET`/`PATCH .../pulls/{n}`,
`POST .../pulls/{n}/requested_reviewers`, `GET .../branches/{branch}` and
`GET`/`POST .../issues/{n}/comments` (on issues and pull requests alike, which share numbers).
Branches and shas are read from the bare repositories, so a pull request's `head.sha` is what was
last pushed. GitHub's refusals are reproduced word for word: a second open pull request for a head
("A pull request already exists for owner:branch."), a head or base the repository does not have
(`field: head`/`base`, `code: invalid`), a head with nothing new ("No commits between ..."), a
review asked of the author or of someone who is not a collaborator. The `head` filter of the list
needs GitHub's `owner:branch` form; a bare branch name is ignored, as GitHub ignores it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from integrations.standins.base import Call, Reply
from integrations.standins.github import apps, changeshapes, conversation, shapes, wire
from integrations.standins.github.hosting import (
    REPO_PATH,
    ChangeHosting,
    comment_json,
    render,
    render_comments,
)
from integrations.standins.github.state import (
    CommentRecord,
    IssueRecord,
    PullRecord,
    RepoState,
    now_iso,
)

_DOC = "https://docs.github.com/rest/pulls"
_DOC_CREATE = f"{_DOC}/pulls#create-a-pull-request"
_DOC_REVIEWERS = f"{_DOC}/review-requests#request-reviewers-for-a-pull-request"
_DOC_COMMENTS = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
_PULL = REPO_PATH + r"/pulls/(?P<number>\d+)"
MAX_BODY = 65_536  # GitHub refuses longer pull request and comment bodies


def register(host: ChangeHosting) -> None:
    """Serve the pull request, branch and comment routes on `host` (and `conversation`'s)."""
    routes = _PullRoutes(host)
    in_repo = host._in_repo
    host._route("GET", REPO_PATH + r"/pulls", in_repo(routes.list_pulls))
    host._route("POST", REPO_PATH + r"/pulls", in_repo(routes.create_pull))
    host._route("GET", _PULL, in_repo(routes.get_pull))
    host._route("PATCH", _PULL, in_repo(routes.update_pull))
    host._route("POST", _PULL + r"/requested_reviewers", in_repo(routes.request_reviewers))
    host._route("GET", REPO_PATH + r"/branches/(?P<branch>.+)", in_repo(routes.get_branch))
    comments = REPO_PATH + r"/issues/(?P<number>\d+)/comments"
    host._route("GET", comments, in_repo(routes.list_comments))
    host._route("POST", comments, in_repo(routes.create_comment))
    conversation.register(host)  # reviews and permissions


def _payload(call: Call) -> dict[str, Any] | Reply:
    try:
        payload = call.json()
    except ValueError:
        return wire.error(400, "Problems parsing JSON")
    return payload if isinstance(payload, dict) else wire.error(400, "Problems parsing JSON")


def _invalid(field: str, code: str = "invalid") -> Reply:
    return wire.validation_failed([{"resource": "PullRequest", "field": field, "code": code}],
                                  _DOC_CREATE)


def _custom(message: str) -> Reply:
    return wire.validation_failed([{"resource": "PullRequest", "code": "custom",
                                    "message": message}], _DOC_CREATE)


class _PullRoutes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host
        self.state = host.state

    def _pull(self, call: Call, repo: RepoState) -> IssueRecord | None:
        record = repo.issues.get(int(call.params["number"]))
        return record if record is not None and record.pull is not None else None

    def list_pulls(self, call: Call, repo: RepoState) -> Reply:
        state, base = call.arg("state", "open"), call.arg("base")
        owner, colon, branch = (call.arg("head") or "").partition(":")
        with self.state.lock:
            records = [
                record for record in repo.issues.values()
                if record.pull is not None and state in ("all", record.state)
                and (not colon or (owner.lower() == repo.owner.lower()
                                   and record.pull.head == branch))
                and (base is None or record.pull.base == base)
            ]
        records.sort(key=lambda record: record.number, reverse=call.arg("direction") != "asc")
        page, links = wire.paginate(call, self.host.url, records)
        return Reply(200, [render(self.host, repo, record) for record in page], headers=links)

    def create_pull(self, call: Call, repo: RepoState) -> Reply:
        payload = _payload(call)
        if isinstance(payload, Reply):
            return payload
        for name in ("head", "base", "title"):
            if not isinstance(payload.get(name), str) or not payload[name].strip():
                return _invalid(name, "missing_field")
        if payload.get("body") is not None and (not isinstance(payload["body"], str)
                                                or len(payload["body"]) > MAX_BODY):
            return _invalid("body")
        owner, _, branch = payload["head"].rpartition(":")
        base = payload["base"]
        head_sha = self.host.head_of(repo, branch)
        if (owner and owner.lower() != repo.owner.lower()) or head_sha is None:
            return _invalid("head")  # forks are not modelled; an unknown branch is invalid
        base_sha = self.host.head_of(repo, base)
        if base_sha is None:
            return _invalid("base")
        if self.host.diffstat(repo, base_sha, head_sha)[0] == 0:
            return _custom(f"No commits between {base} and {branch}")
        login, _ = apps.caller(self.host, call)
        with self.state.lock:
            if any(record.pull is not None and record.state == "open"
                   and record.pull.head == branch for record in repo.issues.values()):
                return _custom(f"A pull request already exists for {repo.owner}:{branch}.")
            record = self.state.create_issue(repo, title=payload["title"],
                                             body=payload.get("body"), labels=(), author=login)
            record.pull = PullRecord(id=self.state.next_id(), head=branch, base=base,
                                     head_sha=head_sha, draft=payload.get("draft") is True)
        body = render(self.host, repo, record)
        return Reply(201, body, headers={"Location": body["url"]})

    def get_pull(self, call: Call, repo: RepoState) -> Reply:
        record = self._pull(call, repo)
        if record is None:
            return wire.not_found(f"{_DOC}/pulls#get-a-pull-request")
        return Reply(200, render(self.host, repo, record))

    def update_pull(self, call: Call, repo: RepoState) -> Reply:
        record = self._pull(call, repo)
        if record is None:
            return wire.not_found(f"{_DOC}/pulls#update-a-pull-request")
        payload = _payload(call)
        if isinstance(payload, Reply):
            return payload
        if payload.get("state", record.state) not in ("open", "closed"):
            return _invalid("state")
        if payload.get("state") == "open" and record.pull is not None and record.pull.merged_at:
            return _custom("state cannot be changed. The pull request has already been merged.")
        for name in ("title", "body"):
            if name in payload and not isinstance(payload[name], str):
                return _invalid(name)
        with self.state.lock:
            record.title = payload.get("title", record.title)
            record.body = payload.get("body", record.body)
            if payload.get("state", record.state) != record.state:
                record.state = payload["state"]
                record.closed_at = now_iso() if record.state == "closed" else None
            record.updated_at = now_iso()
        return Reply(200, render(self.host, repo, record))

    def request_reviewers(self, call: Call, repo: RepoState) -> Reply:
        record = self._pull(call, repo)
        if record is None or record.pull is None:
            return wire.not_found(_DOC_REVIEWERS)
        payload = _payload(call)
        if isinstance(payload, Reply):
            return payload
        logins = payload.get("reviewers") or []
        if not isinstance(logins, list) or not all(isinstance(x, str) for x in logins):
            return wire.validation_failed([{"resource": "PullRequest", "field": "reviewers",
                                            "code": "invalid"}], _DOC_REVIEWERS)
        if any(login.lower() == record.author.lower() for login in logins):
            return wire.error(422, "Review cannot be requested from pull request author.",
                              _DOC_REVIEWERS)
        allowed = repo.collaborators | {repo.owner.lower()}
        if any(login.lower() not in allowed for login in logins):
            return wire.error(422, "Reviews may only be requested from collaborators. One or "
                              "more of the users or teams you specified is not a collaborator "
                              f"of the {repo.full_name} repository.", _DOC_REVIEWERS)
        with self.state.lock:
            for login in logins:
                if login.lower() not in (known.lower() for known in record.pull.reviewers):
                    record.pull.reviewers.append(login)
            record.updated_at = now_iso()
        return Reply(201, render(self.host, repo, record))

    def get_branch(self, call: Call, repo: RepoState) -> Reply:
        name = unquote(call.params["branch"])
        sha = self.host.head_of(repo, name)
        if sha is None:
            return wire.error(404, "Branch not found",
                              "https://docs.github.com/rest/branches/branches#get-a-branch")
        record = self.host.commit_record(repo, sha)
        accounts = [self.state.account_for(email)
                    for email in (record.author_email, record.committer_email)]
        users = [None if account is None else self.host.user_json(account.login)
                 for account in accounts]
        commit = shapes.commit(self.host.url, repo.full_name, record, users[0], users[1])
        return Reply(200, changeshapes.branch(self.host.url, repo.full_name, name, commit))

    def list_comments(self, call: Call, repo: RepoState) -> Reply:
        record = repo.issues.get(int(call.params["number"]))
        if record is None:
            return wire.not_found()
        comments = render_comments(self.host, repo, record)
        page, links = wire.paginate(call, self.host.url, comments)
        return Reply(200, page, headers=links)

    def create_comment(self, call: Call, repo: RepoState) -> Reply:
        record = repo.issues.get(int(call.params["number"]))
        if record is None:
            return wire.not_found(_DOC_COMMENTS)
        payload = _payload(call)
        if isinstance(payload, Reply):
            return payload
        text = payload.get("body")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_BODY:
            code = "missing_field" if not text else "invalid"
            return wire.validation_failed([{"resource": "IssueComment", "field": "body",
                                            "code": code}], _DOC_COMMENTS)
        login, _ = apps.caller(self.host, call)
        with self.state.lock:
            comment = CommentRecord(id=self.state.next_id(), author=login, body=text)
            record.comments.append(comment)
            record.updated_at = now_iso()
            body = comment_json(self.host, repo, record, comment)
        return Reply(201, body, headers={"Location": body["url"]})
