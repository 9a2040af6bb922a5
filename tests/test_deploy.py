"""The deployment files: the Helm chart (linted, rendered, validated against Kubernetes' schemas),
the compose file (`docker compose config`), the systemd units (`systemd-analyze verify`) and the
Dockerfile. Each tool's test is skipped, with the reason, when the tool is not installed
(`.ci/run` installs them); the checks of the rendered manifests are the point: non-root pods,
probes, the NetworkPolicy, autoscaling on queue depth, secrets referenced and never inlined.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "suture"
SECRET_NAME = "suture-secrets"
HELM = shutil.which("helm")
needs_helm = pytest.mark.skipif(HELM is None, reason="helm is not installed (.ci/run installs it)")
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|APP_KEY|DATABASE_URL|BROKER_URL|DSN")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)


def render(*sets: str) -> list[dict[str, Any]]:
    """The chart rendered with `--set` values (an existing Secret unless told otherwise)."""
    args = ["template", "rel", str(CHART)]
    if not any(s.startswith(("existingSecret=", "secrets.")) for s in sets):
        args += ["--set", f"existingSecret={SECRET_NAME}"]
    for value in sets:
        args += ["--set", value]
    done = helm(*args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: doc["spec"]["template"]["spec"]
            for kind in ("Deployment", "Job") for name, doc in of_kind(docs, kind).items()}


@needs_helm
def test_the_chart_lints_strictly():
    done = helm("lint", "--strict", str(CHART), "--set", f"existingSecret={SECRET_NAME}")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_helm
def test_every_pod_runs_as_non_root_with_no_privileges_and_a_read_only_root():
    specs = pod_specs(render())
    assert set(specs) == {"rel-suture-web", "rel-suture-worker", "rel-suture-agent-worker",
                          "rel-suture-scheduler", "rel-suture-migrate-1"}
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["readOnlyRootFilesystem"] is True, name
            assert "resources" in container and container["resources"]["requests"], name


@needs_helm
def test_only_the_agent_worker_lifts_seccomp_and_apparmor_for_bubblewrap():
    specs = pod_specs(render("agentWorker.userNamespace=true"))
    agent = specs.pop("rel-suture-agent-worker")
    assert agent["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
    assert agent["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}
    assert agent["hostUsers"] is False
    assert agent["containers"][0]["securityContext"]["procMount"] == "Unmasked"
    assert agent["containers"][0]["args"][:3] == ["worker", "--queue", "agent"]
    for name, spec in specs.items():
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert "hostUsers" not in spec, name


@needs_helm
def test_probes_check_the_web_over_http_and_the_workers_by_their_heartbeat():
    docs = render()
    specs = pod_specs(docs)
    web = specs["rel-suture-web"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for name in ("rel-suture-worker", "rel-suture-agent-worker", "rel-suture-scheduler"):
        container = specs[name]["containers"][0]
        assert container["livenessProbe"]["exec"]["command"] == ["suture", "health",
                                                                 "--liveness"], name
        assert container["readinessProbe"]["exec"]["command"] == ["suture", "health"], name
    config = of_kind(docs, "ConfigMap")["rel-suture-config"]["data"]
    assert config["SUTURE_HEALTH__HEARTBEAT_FILE"].startswith("/var/run/suture/")
    scheduler = of_kind(docs, "Deployment")["rel-suture-scheduler"]["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"] == {"type": "Recreate"}


@needs_helm
def test_secrets_are_referenced_by_name_and_never_inlined():
    docs = render()
    assert of_kind(docs, "Secret") == {}  # existingSecret: the chart makes none
    for name, spec in pod_specs(docs).items():
        for container in spec["containers"]:
            refs = container["envFrom"]
            assert {"secretRef": {"name": SECRET_NAME}} in refs, name
            for variable in container.get("env", []):
                assert not SECRET_WORDS.search(variable["name"]), (name, variable)
    config = of_kind(docs, "ConfigMap")["rel-suture-config"]["data"]
    assert not [key for key in config if SECRET_WORDS.search(key)]

    made = render("secrets.SUTURE_GITHUB__TOKEN=ghp_not_a_real_token")
    [secret] = of_kind(made, "Secret").values()
    assert secret["stringData"] == {"SUTURE_GITHUB__TOKEN": "ghp_not_a_real_token"}
    for spec in pod_specs(made).values():
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in spec["containers"][0][
            "envFrom"]
        assert "ghp_not_a_real_token" not in yaml.safe_dump(spec)


@needs_helm
@pytest.mark.parametrize(("sets", "reason"), [
    ([], "give existingSecret"),
    (["existingSecret=s", "config.SUTURE_GITHUB__TOKEN=x"], "looks like a secret"),
    (["existingSecret=s", "autoscaling.keda.enabled=true", "autoscaling.hpa.enabled=true"],
     "not both"),
    (["existingSecret=s", "agentWorkers.replicas=2"], "additional properties"),  # a typo
    (["existingSecret=s", "secrets.GITHUB_TOKEN=x"], "GITHUB_TOKEN"),  # not a SUTURE_ variable
])
def test_the_chart_refuses_what_would_deploy_wrongly(sets, reason):
    args = ["template", "rel", str(CHART)]
    for value in sets:
        args += ["--set", value]
    done = helm(*args)
    assert done.returncode != 0 and reason in done.stderr, done.stderr


@needs_helm
def test_the_network_policy_admits_only_the_web_port_and_limits_egress():
    policies = of_kind(render(), "NetworkPolicy")
    everything = policies["rel-suture"]["spec"]
    assert everything["policyTypes"] == ["Ingress", "Egress"] and everything["ingress"] == []
    ports = {(port["port"], port["protocol"]) for rule in everything["egress"]
             for port in rule["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (443, "TCP")}
    [outside] = [rule for rule in everything["egress"] if "ipBlock" in rule["to"][0]]
    assert "10.0.0.0/8" in outside["to"][0]["ipBlock"]["except"]
    web = policies["rel-suture-web-ingress"]["spec"]
    assert web["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert [rule["ports"] for rule in web["ingress"]] == [[{"port": 8000, "protocol": "TCP"}]]


@needs_helm
def test_workers_scale_on_their_redis_queue_with_keda_or_an_external_metric_hpa():
    docs = render("autoscaling.keda.enabled=true", "config.SUTURE_BROKER__NAMESPACE=prod")
    scaled = of_kind(docs, "ScaledObject")
    lists = {name: obj["spec"]["triggers"][0]["metadata"]["listName"]
             for name, obj in scaled.items()}
    assert lists == {"rel-suture-worker": "prod:default", "rel-suture-agent-worker": "prod:agent"}
    deployments = of_kind(docs, "Deployment")
    assert "replicas" not in deployments["rel-suture-worker"]["spec"]  # KEDA owns the count
    hpas = of_kind(render("autoscaling.hpa.enabled=true"), "HorizontalPodAutoscaler")
    metric = hpas["rel-suture-agent-worker"]["spec"]["metrics"][0]["external"]["metric"]
    assert metric["selector"]["matchLabels"] == {"queue": "agent"}
    assert of_kind(render(), "ScaledObject") == {}


@needs_helm
@pytest.mark.skipif(shutil.which("kubernetes-validate") is None,
                    reason="kubernetes-validate is not installed (pip install -e '.[dev]')")
@pytest.mark.parametrize("sets", [[], ["autoscaling.hpa.enabled=true",
                                       "agentWorker.userNamespace=true",
                                       "secrets.SUTURE_BROKER_URL=redis://r:6379/0",
                                       "configToml=[fix]"]])
def test_the_rendered_manifests_pass_kubernetes_schemas(tmp_path, sets):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(render(*sets)))
    done = subprocess.run(["kubernetes-validate", "--strict", "--quiet", str(rendered)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


COMPOSE = compose_command()


def compose_config(tmp_path: Path, password: str | None) -> subprocess.CompletedProcess[str]:
    """`docker compose config` on a copy of the deploy folder with suture.env made."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", folder / "compose.yaml")
    shutil.copy(DEPLOY / "env.example", folder / "suture.env")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    if password is not None:
        env["SUTURE_POSTGRES_PASSWORD"] = password
    assert COMPOSE is not None
    return subprocess.run([*COMPOSE, "-f", str(folder / "compose.yaml"), "config"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(COMPOSE is None, reason="neither `docker compose` nor docker-compose is "
                                            "installed (.ci/run installs docker-compose)")
def test_the_compose_file_is_valid_and_every_process_is_checked(tmp_path):
    done = compose_config(tmp_path, "a-password")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"redis", "postgres", "migrate", "web", "worker", "worker-agent",
                             "scheduler"}
    for name in ("redis", "postgres", "web", "worker", "worker-agent", "scheduler"):
        assert services[name].get("healthcheck", {}).get("test"), name
    for name in ("web", "worker", "worker-agent", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("worker", "worker-agent", "scheduler"):
        test = services[name]["healthcheck"]["test"]
        assert test[-3:] == ["suture", "health", "--liveness"], name
        assert services[name]["environment"]["SUTURE_HEALTH__HEARTBEAT_FILE"], name
    assert services["worker-agent"]["command"][:3] == ["worker", "--queue", "agent"]
    assert "seccomp=unconfined" in services["worker-agent"]["security_opt"]
    assert "security_opt" not in services["worker"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "a-password"


@pytest.mark.skipif(COMPOSE is None, reason="docker compose is not installed")
def test_the_compose_file_refuses_to_start_without_a_database_password(tmp_path):
    done = compose_config(tmp_path, None)
    assert done.returncode != 0 and "SUTURE_POSTGRES_PASSWORD" in done.stderr


def test_the_compose_file_inlines_no_secret():
    text = (DEPLOY / "compose.yaml").read_text()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if SECRET_WORDS.search(key) and value.strip():
            assert value.strip().startswith("${"), line


UNITS = ("suture-web", "suture-worker", "suture-worker-agent", "suture-scheduler")


def test_the_systemd_units_are_complete_and_hardened():
    for name in UNITS:
        text = (DEPLOY / "systemd" / f"{name}.service").read_text()
        for line in ("EnvironmentFile=/etc/suture/suture.env", "User=suture",
                     "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                     "PrivateTmp=yes", "CapabilityBoundingSet=", "StateDirectory=suture"):
            assert re.search(rf"^{re.escape(line)}$", text, re.M), (name, line)
    agent = (DEPLOY / "systemd" / "suture-worker-agent.service").read_text()
    assert "--queue agent" in agent and not re.search(r"^RestrictNamespaces=", agent, re.M)
    default = (DEPLOY / "systemd" / "suture-worker.service").read_text()
    assert "--queue default" in default


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or shutil.which("suture") is None,
                    reason="systemd-analyze (or the suture command) is not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # verify checks that ExecStart's program exists: point it at this machine's `suture`.
    for name in UNITS:
        text = (DEPLOY / "systemd" / f"{name}.service").read_text()
        (tmp_path / f"{name}.service").write_text(
            text.replace("/usr/local/bin/suture", str(shutil.which("suture"))))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *[str(tmp_path / f"{name}.service") for name in UNITS]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_the_image_runs_as_a_user_with_pinned_dependencies_and_a_health_check():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", text, re.M)
    assert "-c deploy/constraints.txt" in text
    assert re.search(r"^HEALTHCHECK ", text, re.M) and "/healthz" in text
    packages = re.search(r"apt-get install[^&]*", text)
    assert packages is not None
    for package in ("bubblewrap", "chromium", "git", "tini"):
        assert package in packages.group(0), package
