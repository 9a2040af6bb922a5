"""What of the host's package-index configuration a setup may see.

A setup may need the host's indexes (a company mirror) and its certificate bundle (HTTPS may be
intercepted by a corporate proxy), but never a credential: user:password is stripped from every
index URL, queries and fragments are dropped, and only named variables are passed (never a
token such as NPM_TOKEN or an `_authToken` line). Local indexes (`file://` URLs, find-links
folders) and certificate bundles are shown read-only under `HOST_FILES_DIR` when they exist and
dropped otherwise; the hosts of the remaining URLs join the default index hosts in the egress
allowlist.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from worker.env.models import HOST_FILES_DIR, IndexConfig
from worker.fix.models import Mount

DEFAULT_HOSTS = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org",
                 "registry.yarnpkg.com", "repo.yarnpkg.com", "proxy.golang.org", "sum.golang.org")
# Each names a CA bundle file; a variable left unset gets the host's full bundle when there is one.
CERT_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
_FULL_BUNDLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT")
_GO_KEYWORDS = ("direct", "off")


class HostIndexes(BaseModel):
    """The host's index configuration as read from its variables and files; it may hold
    credentials, so it is never passed on as it is."""

    pip_index_url: str | None = None
    pip_extra_index_urls: list[str] = Field(default_factory=list)
    pip_find_links: list[str] = Field(default_factory=list)
    pip_trusted_hosts: list[str] = Field(default_factory=list)
    cert_files: dict[str, str] = Field(default_factory=dict)  # variable → configured path
    npm_registries: dict[str, str] = Field(default_factory=dict)  # `registry`, `@s:registry`
    goproxy: str | None = None
    gosumdb: str | None = None


class _Builder:
    def __init__(self, exists: Callable[[str], bool]) -> None:
        self.exists = exists
        self.hosts: list[str] = list(DEFAULT_HOSTS)
        self.mounts: list[Mount] = []
        self.notes: list[str] = []
        self._shown: dict[str, str] = {}  # host path → sandbox path

    def show(self, path: str, kind: str) -> str:
        """The sandbox path of host file or folder `path`, mounted read-only once."""
        if path not in self._shown:
            name = posixpath.basename(path.rstrip("/")) or kind
            target = f"{HOST_FILES_DIR}/{kind}/{len(self._shown)}-{name}"
            self.mounts.append(Mount(source=path, target=target))
            self._shown[path] = target
        return self._shown[path]

    def url(self, raw: str, what: str) -> str | None:
        """`raw` as a setup may use it, or None (dropped, with a note why)."""
        text = raw.strip()
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.hostname:
            if parts.username or parts.password:
                self.notes.append(f"{what}: credentials removed from the URL for "
                                  f"{parts.hostname}")
            name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            self.hosts.append(name + (f":{parts.port}" if parts.port else ""))
            netloc = parts.netloc.rsplit("@", 1)[-1]
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        path = parts.path if parts.scheme == "file" else text if text.startswith("/") else ""
        if path and parts.netloc in ("", "localhost") and self.exists(path):
            path = posixpath.normpath(path)
            # A PEP 503 folder's pages link to files beside it (`../../files/x.whl`): show the
            # folder that holds `simple/`.
            folder, leaf = posixpath.split(path)
            nested = leaf == "simple" and folder != "/"
            shown = self.show(folder, "index") + "/simple" if nested else self.show(path, "index")
            return f"file://{shown}" if parts.scheme == "file" else shown
        self.notes.append(f"{what}: {_safe(text)} dropped: not reachable from the sandbox")
        return None


def index_config(host: HostIndexes, exists: Callable[[str], bool]) -> IndexConfig:
    """The allowlist, variables and read-only files a setup gets from `host`'s configuration
    (`exists` tells whether a host path exists)."""
    build = _Builder(exists)
    env: dict[str, str] = {}
    if host.pip_index_url and (url := build.url(host.pip_index_url, "pip index-url")):
        env["PIP_INDEX_URL"] = url
    for name, values in (("PIP_EXTRA_INDEX_URL", host.pip_extra_index_urls),
                         ("PIP_FIND_LINKS", host.pip_find_links)):
        kept = [u for v in values if (u := build.url(v, name.lower().replace("_", "-")))]
        if kept:
            env[name] = " ".join(kept)
    trusted = [h.rsplit("@", 1)[-1] for h in host.pip_trusted_hosts if h.strip()]
    if trusted:
        env["PIP_TRUSTED_HOST"] = " ".join(trusted)
    env |= _certificates(host.cert_files, build)
    for key, raw in sorted(host.npm_registries.items()):
        if key.endswith("registry") and (url := build.url(raw, f"npm {key}")):
            env[f"npm_config_{key}"] = url
    if host.goproxy and (proxy := _goproxy(host.goproxy, build)):
        env["GOPROXY"] = proxy
    if host.gosumdb:
        env["GOSUMDB"] = _gosumdb(host.gosumdb, build)
    return IndexConfig(allow_hosts=list(dict.fromkeys(build.hosts)), env=env,
                       mounts=build.mounts, notes=build.notes)


def _certificates(files: dict[str, str], build: _Builder) -> dict[str, str]:
    present = {name: path for name, path in files.items()
               if name in CERT_VARIABLES and path.startswith("/") and build.exists(path)}
    bundle = next((present[name] for name in _FULL_BUNDLES if name in present), None)
    env = {}
    for name in CERT_VARIABLES:
        path = present.get(name) or bundle
        if path:
            env[name] = build.show(path, "certs")
    return env


def _goproxy(value: str, build: _Builder) -> str:
    kept: list[str] = []
    for raw in value.replace("|", ",").split(","):
        entry = raw.strip()
        if entry in _GO_KEYWORDS:
            kept.append(entry)
        elif entry and (url := build.url(entry, "GOPROXY")):
            kept.append(url)
    return ",".join(kept)


def _gosumdb(value: str, build: _Builder) -> str:
    """GOSUMDB is `off`, `name`, `name+key` or `name+key url`; its host joins the allowlist."""
    name, _, url = value.strip().partition(" ")
    if name == "off":
        return "off"
    if url:
        clean = build.url(url, "GOSUMDB")
        return f"{name} {clean}" if clean else name
    build.hosts.append(name.split("+", 1)[0])
    return name


def _safe(text: str) -> str:
    """A dropped location as a note may name it: without anything before an `@`."""
    parts = urlsplit(text)
    if parts.netloc:
        return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    return text
