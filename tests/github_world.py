"""A seeded GitHub stand-in for the code-host tests: repositories with real history served over
git's smart HTTP, a collaborator who may review, and a GitHub App with a key made for the test.

`acme/shop` and `acme/other` hold the same `main`; `elsewhere/private` exists but no App is
installed there. The personal token reaches every repository; the App (`suture-app[bot]`) is
installed on the repositories a test names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from integrations.github.pulls import GitHubPulls
from integrations.standins.github import GitHubStandIn
from tests.gitrepo import GitRepoBuilder
from worker.settings import GitHubSettings

TOKEN = "ghp_" + "p" * 36
OWNER, NAME = "acme", "shop"
REPO = f"{OWNER}/{NAME}"
OTHER = "acme/other"
PRIVATE = "elsewhere/private"
REVIEWER = "octocat"
APP_ID, INSTALLATION, SLUG = 4242, 77, "suture-app"


@dataclass(frozen=True)
class AppKey:
    """An RSA key pair in PEM, as GitHub hands an App's private key out."""

    private: str
    public: str


def make_key() -> AppKey:
    """A fresh 2048-bit RSA key pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return AppKey(private=private, public=public.decode())


def seed_source(folder: Path) -> GitRepoBuilder:
    """The local repository whose `main` every stand-in repository starts from."""
    source = GitRepoBuilder(folder)
    source.commit({"app.py": "def total(items):\n    return sum(items) / len(items)\n",
                   "README.md": "shop\n"}, "first")
    return source


def seeded_standin(root: Path, source: Path, *, search_lag: bool = False) -> GitHubStandIn:
    """A started stand-in with the three repositories and the reviewer."""
    standin = GitHubStandIn(token=TOKEN, repos=[REPO, OTHER, PRIVATE], git_root=root,
                            search_lag=search_lag)
    standin.start()
    for full in (REPO, OTHER, PRIVATE):
        owner, name = full.split("/")
        standin.seed_repo(owner, name, source)
    standin.add_collaborator(OWNER, NAME, REVIEWER)
    return standin


def token_settings(standin: GitHubStandIn, token: str = TOKEN) -> GitHubSettings:
    """Settings for the personal token."""
    return GitHubSettings(base_url=standin.url, token=SecretStr(token))


def app_settings(standin: GitHubStandIn, key_file: Path,
                 installation_id: int | None = None) -> GitHubSettings:
    """Settings for the App, its key in `key_file`."""
    return GitHubSettings(base_url=standin.url, app_id=APP_ID, app_private_key_file=key_file,
                          installation_id=installation_id)


def install_app(standin: GitHubStandIn, key: AppKey, folder: Path,
                repos: tuple[str, ...] = (REPO,)) -> Path:
    """Install the App on `repos`; the file holding its private key."""
    standin.add_app(APP_ID, key.public, INSTALLATION, repos, slug=SLUG)
    key_file = folder / "app.pem"
    key_file.write_text(key.private, encoding="utf-8")
    return key_file


def unpaced(settings: GitHubSettings, **options: Any) -> GitHubPulls:
    """The adapter without PyGithub's pacing, so tests run fast."""
    return GitHubPulls(settings, seconds_between_requests=0, seconds_between_writes=0, **options)


def api(standin: GitHubStandIn, method: str, path: str, token: str = TOKEN,
        **options: Any) -> httpx.Response:
    """One raw REST call to the stand-in (`headers` may replace the token's)."""
    headers = {"Authorization": f"token {token}", **options.pop("headers", {})}
    return httpx.request(method, f"{standin.url}{path}", headers=headers, timeout=30, **options)
