"""What of the host's package-index configuration a setup sees: hosts to allow, variables
without credentials, certificate bundles and local indexes shown read-only, and nothing else."""

from __future__ import annotations

from pathlib import Path

from integrations.sandbox.hostindex import read_host_indexes
from worker.env.indexes import DEFAULT_HOSTS, HostIndexes, index_config
from worker.env.models import HOST_FILES_DIR

SECRETS = ("s3cret", "npm_T0KEN", "hunter2", "user:", "bob@", "alice")


def host_files(tmp_path: Path) -> dict[str, str]:
    """A fake home with pip, npm and Go configuration naming credentials and tokens."""
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://alice:hunter2@mirror.example/simple\n"
        f"extra-index-url = file://{tmp_path}/local/simple file:///nowhere/simple\n"
        f"find-links = {tmp_path}/wheels\n"
        "[install]\ntrusted-host = mirror.example\n")
    (home / ".npmrc").write_text(
        "registry=https://bob:pw@npm.example/\n//npm.example/:_authToken=npm_T0KEN\n"
        "@acme:registry=https://npm.acme.example/\nemail=bob@example.com\n")
    (tmp_path / "local" / "simple").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    return {"HOME": str(home), "PATH": "", "XDG_CONFIG_DIRS": str(tmp_path / "none"),
            "PIP_EXTRA_INDEX_URL": "https://user:s3cret@pypi.example/simple?token=s3cret",
            "SSL_CERT_FILE": str(bundle), "NPM_TOKEN": "npm_T0KEN",
            "GOPROXY": "https://user:s3cret@goproxy.example,direct", "GOSUMDB": "off",
            "PIP_PASSWORD": "hunter2"}


def test_the_host_configuration_reaches_a_setup_without_any_credential(tmp_path):
    environ = host_files(tmp_path)
    host = read_host_indexes(environ, etc=tmp_path / "etc")
    config = index_config(host, lambda path: Path(path).exists())

    passed = " ".join([*config.env, *config.env.values(), *config.allow_hosts,
                       *(m.source + m.target for m in config.mounts)])
    assert not [secret for secret in SECRETS if secret in passed]
    assert config.env["PIP_INDEX_URL"] == "https://mirror.example/simple"
    # The variable wins over pip.conf, as it does for pip; its query (a token) is dropped.
    assert config.env["PIP_EXTRA_INDEX_URL"] == "https://pypi.example/simple"
    assert config.env["PIP_TRUSTED_HOST"] == "mirror.example"
    assert config.env["npm_config_registry"] == "https://npm.example/"
    assert config.env["npm_config_@acme:registry"] == "https://npm.acme.example/"
    assert config.env["GOPROXY"] == "https://goproxy.example,direct"
    assert config.env["GOSUMDB"] == "off"
    assert "NPM_TOKEN" not in config.env and "PIP_PASSWORD" not in config.env
    assert config.allow_hosts == [*DEFAULT_HOSTS, "mirror.example", "pypi.example",
                                  "npm.acme.example", "npm.example", "goproxy.example"]
    assert any("credentials removed" in note for note in config.notes)


def test_certificate_bundles_and_local_indexes_are_shown_read_only(tmp_path):
    environ = host_files(tmp_path)
    environ["PIP_EXTRA_INDEX_URL"] = f"file://{tmp_path}/local/simple file:///nowhere/simple"
    environ["PIP_FIND_LINKS"] = f"{tmp_path}/wheels /nowhere/wheels"
    host = read_host_indexes(environ, etc=tmp_path / "etc")
    config = index_config(host, lambda path: Path(path).exists())

    shown = {m.source: m.target for m in config.mounts}
    assert all(not m.writable and m.target.startswith(HOST_FILES_DIR + "/")
               for m in config.mounts)
    # The bundle named by SSL_CERT_FILE serves every tool's variable, at one sandbox path.
    bundle = shown[str(tmp_path / "corp-ca.pem")]
    assert {config.env[name] for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                                          "NODE_EXTRA_CA_CERTS")} == {bundle}
    # A PEP 503 folder is shown with its parent (its pages link to ../../files/).
    local = shown[str(tmp_path / "local")]
    assert config.env["PIP_EXTRA_INDEX_URL"] == f"file://{local}/simple"
    assert config.env["PIP_FIND_LINKS"] == shown[str(tmp_path / "wheels")]
    assert "/nowhere" not in " ".join(config.env.values())
    assert sum("dropped: not reachable from the sandbox" in note for note in config.notes) == 2


def test_no_configuration_gives_the_default_hosts_only():
    config = index_config(HostIndexes(), lambda path: False)

    assert config.allow_hosts == list(DEFAULT_HOSTS)
    assert config.env == {} and config.mounts == []


def test_pip_config_file_devnull_means_no_files(tmp_path):
    environ = host_files(tmp_path) | {"PIP_CONFIG_FILE": "/dev/null"}

    host = read_host_indexes(environ, etc=tmp_path / "etc")

    assert host.pip_index_url is None and host.pip_find_links == []
