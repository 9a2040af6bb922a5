"""Reading the host's package-index configuration: pip's variables and configuration files,
npm's registry settings, Go's proxy, and the certificate bundles they name.

Only the keys that say where packages come from are read (`index-url`, `extra-index-url`,
`find-links`, `trusted-host`, `cert`, npm's `registry` keys, `GOPROXY`, `GOSUMDB`); what
`worker.env.indexes` makes of them is what a setup sees. Files are read the way each tool reads
them, later ones overriding earlier ones, and the tool's variables over both.
"""

from __future__ import annotations

import configparser
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from worker.env.indexes import CERT_VARIABLES, HostIndexes

_PIP_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "cert")


def read_host_indexes(environ: Mapping[str, str] | None = None, home: Path | None = None,
                      etc: Path = Path("/etc")) -> HostIndexes:
    """The host's index configuration (`environ` defaults to this process's variables, `home`
    to its HOME; `etc` is where system-wide files are)."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("HOME") or Path.home()) if home is None else home
    pip = _pip_files(env, home, etc)
    for key in _PIP_KEYS:
        variable = "PIP_" + key.upper().replace("-", "_")
        if env.get(variable):
            pip[key] = env[variable]
    certs = {name: env[name] for name in CERT_VARIABLES if env.get(name)}
    if "cert" in pip:
        certs["PIP_CERT"] = pip["cert"]
    go = _go_env(env, home)
    return HostIndexes(
        pip_index_url=pip.get("index-url") or None,
        pip_extra_index_urls=pip.get("extra-index-url", "").split(),
        pip_find_links=pip.get("find-links", "").split(),
        pip_trusted_hosts=pip.get("trusted-host", "").split(),
        cert_files=certs, npm_registries=_npm_registries(env, home, etc),
        goproxy=env.get("GOPROXY") or go.get("GOPROXY"),
        gosumdb=env.get("GOSUMDB") or go.get("GOSUMDB"))


def _pip_files(env: Mapping[str, str], home: Path, etc: Path) -> dict[str, str]:
    """pip's configuration files in its order (global, user, site, PIP_CONFIG_FILE), the
    [install] section over [global]."""
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return {}  # pip's documented way of loading no configuration file
    dirs = env.get("XDG_CONFIG_DIRS") or str(etc / "xdg")
    files = [*(Path(d) / "pip" / "pip.conf" for d in dirs.split(":") if d), etc / "pip.conf",
             home / ".pip" / "pip.conf",
             Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf",
             Path(sys.prefix) / "pip.conf", *([Path(config_file)] if config_file else [])]
    values: dict[str, str] = {}
    for file in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(file, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeError):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                values |= {key: " ".join(parser.get(section, key).split())
                           for key in _PIP_KEYS if parser.has_option(section, key)}
    return values


def _npm_registries(env: Mapping[str, str], home: Path, etc: Path) -> dict[str, str]:
    """npm's `registry` and `@scope:registry` settings: global npmrc, user npmrc, variables."""
    npm = shutil.which("npm", path=env.get("PATH"))
    prefix = Path(npm).resolve().parents[1] if npm else None
    lowered = {key.lower(): value for key, value in env.items()}
    files = [Path(lowered.get("npm_config_globalconfig") or
                  (prefix / "etc" / "npmrc" if prefix else etc / "npmrc")),
             Path(lowered.get("npm_config_userconfig") or home / ".npmrc")]
    found: dict[str, str] = {}
    for file in files:
        for key, value in _ini_lines(file).items():
            if key.endswith("registry"):
                found[key] = value
    for key, value in lowered.items():
        name = key.removeprefix("npm_config_")
        if key.startswith("npm_config_") and name.endswith("registry"):
            found[name] = value
    # A value still naming a variable is most likely a token's place; it is not a registry.
    return {key: value for key, value in found.items() if "${" not in value}


def _go_env(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """`go env -w` settings: GOENV, else the user's go/env file."""
    file = env.get("GOENV") or str(Path(env.get("XDG_CONFIG_HOME") or home / ".config")
                                   / "go" / "env")
    return {} if file == "off" else _ini_lines(Path(file))


def _ini_lines(file: Path) -> dict[str, str]:
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", ";")):
            values[key.strip()] = value.strip().strip("\"'")
    return values
