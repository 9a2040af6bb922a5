"""The GitHub preview provider through PyGithub against the GitHub stand-in over real HTTP: it
waits (on a fake clock, sleeping no more than the poll interval and never past the deadline)
for the commit's deployment in a matching environment to succeed and takes its
`environment_url`, else its `target_url`; a failed deployment and a timeout are PreviewErrors; a
bad token is a PermanentError at once. The stand-in's deployment routes answer in GitHub's
shapes: filters, statuses newest first, `auto_inactive`, unknown refs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github, GithubException
from github.Repository import Repository

from integrations.preview import GitHubPreview
from integrations.standins.github import GitHubStandIn
from worker.ports import PermanentError, Preview, PreviewError
from worker.preview.models import PreviewTarget
from worker.preview.settings import PreviewSettings

TOKEN = "ghp_test_token"
REPO = "acme/shop"
SHA = "3f2a9c" + "0" * 34
OTHER = "b" * 40
PREVIEW_URL = "https://shop-git-suture-3f2a9c-acme.vercel.app"


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN, repos=[REPO]) as running:
        for sha in (SHA, OTHER):
            running.add_commit("acme", "shop", sha, email="dev@example.com")
        yield running  # type: ignore[misc]


def client(standin: GitHubStandIn, token: str = TOKEN) -> Github:
    return Github(auth=Auth.Token(token), base_url=standin.url, retry=None,
                  seconds_between_requests=0, seconds_between_writes=0)


@pytest.fixture
def repo(standin: GitHubStandIn) -> Repository:
    return client(standin).get_repo(REPO)


class Clock:
    """Fake time: `sleep` advances it and runs what was scheduled for that sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: list[Callable[[], Any]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def provider(standin: GitHubStandIn, clock: Clock, **settings: Any) -> GitHubPreview:
    values = {"provider": "github", "environment": "Preview*", "wait_seconds": 30,
              "poll_seconds": 10, **settings}
    return GitHubPreview(client(standin), PreviewSettings.model_validate(values), clock=clock,
                         sleep=clock.sleep)


def target(**overrides: Any) -> PreviewTarget:
    return PreviewTarget(**{"sha": SHA, "name": "fix", "branch": "suture/3f2a9c",
                            "repo": REPO, **overrides})


def deployment(repo: Repository, environment: str = "Preview", ref: str = SHA, **status: Any):
    """A preview deployment of `ref` as Vercel makes one, with a first status if given."""
    made = repo.create_deployment(ref=ref, environment=environment, auto_merge=False,
                                  required_contexts=[], transient_environment=False,
                                  production_environment=environment == "Production")
    if status:
        made.create_status(**status)
    return made


def test_waits_for_the_matching_deployment_to_succeed_and_takes_its_environment_url(
        standin, repo):
    clock = Clock()
    deployment(repo, "Production", state="success", environment_url="https://shop.acme.com")
    deployment(repo, "Preview", ref=OTHER, state="success", environment_url="https://old.app")
    preview = deployment(repo, "Preview", state="in_progress", description="Building")
    clock.on_sleep.append(lambda: preview.create_status(
        "success", target_url="https://vercel.com/acme/shop/dpl_1",
        environment_url=PREVIEW_URL, description="Deployment has completed"))
    github = provider(standin, clock)
    assert isinstance(github, Preview)

    with github.deploy(target()) as ready:
        assert ready.url == PREVIEW_URL
        assert (ready.provider, ready.environment) == ("github", "Preview")
        assert ready.ready_seconds == 10 and ready.log == "Deployment has completed"
    assert clock.sleeps == [10]


def test_without_an_environment_url_the_target_url_is_taken(standin, repo):
    deployment(repo, "Preview – shop", state="success", target_url="https://shop-pr-7.onrender.com")

    with provider(standin, Clock(), environment=None).deploy(target()) as ready:
        assert ready.url == "https://shop-pr-7.onrender.com"


@pytest.mark.parametrize("state", ["failure", "error"])
def test_a_failed_deployment_is_a_preview_error_with_its_description(standin, repo, state):
    clock = Clock()
    deployment(repo, state=state, description="Build failed: npm ERR! missing script: build")

    with pytest.raises(PreviewError, match="npm ERR! missing script: build") as raised, \
            provider(standin, clock).deploy(target()):
        pass
    assert raised.value.failure.provider == "github"
    assert "deployment of 3f2a9c000000 in Preview failed" in raised.value.failure.reason
    assert clock.sleeps == []


def test_a_failure_waits_while_another_deployment_of_the_commit_is_pending(standin, repo):
    clock = Clock()
    deployment(repo, state="failure", description="first try failed")
    retry = deployment(repo, "Preview-2", state="queued")
    clock.on_sleep.append(lambda: retry.create_status("success", environment_url=PREVIEW_URL))

    with provider(standin, clock).deploy(target()) as ready:
        assert ready.url == PREVIEW_URL
    assert clock.sleeps == [10]


def test_no_successful_deployment_in_time_is_a_preview_error_and_no_sleep_passes_the_deadline(
        standin, repo):
    clock = Clock()
    deployment(repo, state="in_progress")

    with pytest.raises(PreviewError) as raised, \
            provider(standin, clock, wait_seconds=25).deploy(target()):
        pass
    assert clock.sleeps == [10, 10, 5]
    assert raised.value.failure.reason == (
        "no successful GitHub deployment of 3f2a9c000000 in an environment matching "
        "'Preview*' within 25s (last seen: Preview: in_progress)")


def test_a_deployment_with_no_status_yet_is_waited_for(standin, repo):
    clock = Clock()
    with pytest.raises(PreviewError, match="no deployment of the commit yet"), \
            provider(standin, clock, wait_seconds=10).deploy(target()):
        pass
    assert clock.sleeps == [10]


def test_the_branch_names_the_environment_and_an_exact_name_is_filtered_by_github(standin,
                                                                                    repo):
    deployment(repo, "pr-suture/3f2a9c", state="success", environment_url=PREVIEW_URL)
    deployment(repo, "pr-other", state="success", environment_url="https://wrong.app")

    with provider(standin, Clock(), environment="pr-{branch}").deploy(target()) as ready:
        assert ready.url == PREVIEW_URL
    listed = [call for call in standin.calls if call.path.endswith("/deployments")]
    assert listed[-1].query["environment"] == ["pr-suture/3f2a9c"]


def test_a_bad_token_is_a_permanent_error_at_once(standin):
    clock = Clock()
    github = GitHubPreview(client(standin, "ghp_wrong"), PreviewSettings(provider="github"),
                           clock=clock, sleep=clock.sleep)
    with pytest.raises(PermanentError, match="401") as raised, github.deploy(target()):
        pass
    assert not isinstance(raised.value, PreviewError) and clock.sleeps == []


def test_a_target_without_its_repository_cannot_be_previewed(standin):
    with pytest.raises(PreviewError, match="repository"), \
            provider(standin, Clock()).deploy(target(repo=None)):
        pass


def test_the_stand_in_answers_in_githubs_shapes(standin, repo):
    first = deployment(repo, "Preview", state="success", environment_url="https://one.app")
    second = deployment(repo, "Preview", state="in_progress")
    second.create_status("success", environment_url=PREVIEW_URL, target_url="https://logs/2")
    deployment(repo, "Preview", ref=OTHER)

    listed = list(repo.get_deployments(sha=SHA, environment="preview"))
    assert [d.id for d in listed] == [second.id, first.id]  # newest first
    assert listed[0].url == f"{standin.url}/repos/{REPO}/deployments/{second.id}"
    assert listed[0].creator.login == "suture-bot" and listed[0].ref == SHA
    statuses = list(second.get_statuses())
    assert [s.state for s in statuses] == ["success", "in_progress"]
    assert (statuses[0].target_url, statuses[0].log_url) == ("https://logs/2", "https://logs/2")
    assert statuses[0].environment_url == PREVIEW_URL
    # auto_inactive: the earlier success of the environment is retired.
    assert [s.state for s in first.get_statuses()] == ["inactive", "success"]
    assert repo.get_deployment(second.id).environment == "Preview"
    with pytest.raises(GithubException) as unknown:
        repo.create_deployment(ref="no-such-branch", required_contexts=[])
    assert unknown.value.status == 422
    assert unknown.value.data["message"] == "No ref found for: no-such-branch"
    with pytest.raises(GithubException) as bad_state:
        second.create_status("done")
    assert bad_state.value.status == 422
