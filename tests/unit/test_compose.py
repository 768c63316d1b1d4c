"""The compose stack checked against the code (Docker does not run here; this test does).

Every service of docker-compose.yml: images pinned to exact tags, every ``aetheris …``
command parses with the real CLI and answers ``--help``, every environment variable of an
AETHERIS container a real setting (with a value the settings accept), every variable of a
third-party image one that image documents, ports, depends_on, volumes, healthchecks and
the Prometheus / Caddy / recovery-store wiring consistent with each other.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from aetheris.cli import build_parser
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}

# Variables each third-party image documents (its README / configuration reference).
IMAGE_VARIABLES: dict[str, tuple[re.Pattern[str], ...]] = {
    # apache/kafka: every KAFKA_* variable becomes a server property.
    "apache/kafka": (re.compile(r"^KAFKA_[A-Z_]+$"),),
    # timescale/timescaledb (the postgres image's entrypoint variables).
    "timescale/timescaledb": (re.compile(r"^POSTGRES_(PASSWORD|USER|DB|INITDB_ARGS)$"),),
    # grafana/grafana: GF_<SECTION>_<KEY>; POSTGRES_PASSWORD is read by our datasource file.
    "grafana/grafana": (re.compile(r"^GF_[A-Z_]+$"), re.compile(r"^POSTGRES_PASSWORD$")),
}
EXPECTED = {
    "kafka",
    "timescaledb",
    "redis",
    "init",
    "pipeline-0",
    "pipeline-1",
    "api-1",
    "api-2",
    "worker-notify",
    "worker-sync",
    "proxy",
    "prometheus",
    "grafana",
}
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")
EXAMPLE_VALUES = {
    "POSTGRES_PASSWORD": "example-password",
    "AETHERIS_SECRET_KEY": "k" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz",
    "AETHERIS_ENCRYPTION_KEYS": "unused-here",
    "GRAFANA_ADMIN_PASSWORD": "example-password",
}


def interpolate(value: object) -> str:
    """What compose puts in place of ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name in EXAMPLE_VALUES:
            return EXAMPLE_VALUES[name]
        assert kind == "-", f"${{{name}}} has no default and no example value in this test"
        return rest

    return INTERPOLATION.sub(one, str(value))


def aetheris_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in SERVICES.items() if str(s["image"]).startswith("aetheris:")}


def aetheris_commands(service: dict[str, Any]) -> list[list[str]]:
    """Each ``aetheris …`` invocation of a service, as argv without the program name."""
    command = service["command"]
    assert isinstance(command, list), "commands are exec-form lists"
    if command[:2] == ["sh", "-c"]:
        assert len(command) == 3
        parts = [shlex.split(part) for part in command[2].split("&&")]
    else:
        parts = [list(command)]
    for part in parts:
        assert part[0] == "aetheris", f"{part}: only aetheris commands run in its image"
    return [part[1:] for part in parts]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping"
    return {key: interpolate(value) for key, value in env.items()}


def test_the_stack_has_every_service_the_issue_asks_for() -> None:
    assert set(SERVICES) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_images_are_pinned_to_exact_tags(name: str) -> None:
    image = str(SERVICES[name]["image"])
    repository, _, tag = image.rpartition(":")
    assert repository and tag, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned"
    if repository == "aetheris":
        assert tag == VERSION, f"{name}: the project image is tagged with the project version"
        assert SERVICES[name]["build"]["dockerfile"] == "Dockerfile"


def test_official_images() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert SERVICES["redis"]["image"].startswith("redis:")


@pytest.mark.parametrize("name", sorted(aetheris_services()))
def test_every_aetheris_command_parses_with_the_real_cli(name: str) -> None:
    parser = build_parser()
    for argv in aetheris_commands(SERVICES[name]):
        args = parser.parse_args(argv)
        assert callable(args.func), f"{name}: {argv} selects no command"


def test_every_aetheris_command_answers_help() -> None:
    seen: set[tuple[str, ...]] = set()
    for service in aetheris_services().values():
        for argv in aetheris_commands(service):
            words = []
            for word in argv:
                if word.startswith("-"):
                    break
                words.append(word)
            seen.add(tuple(words[:2]))
    assert {
        ("pipeline", "run"),
        ("api", "serve"),
        ("worker", "notify"),
        ("worker", "sync"),
        ("db", "migrate"),
    } <= seen
    for path in sorted(seen):
        words = list(path)
        done = subprocess.run(
            [sys.executable, "-m", "aetheris.cli", *words, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"aetheris {' '.join(words)} --help: {done.stderr}"
        assert "usage: aetheris " + " ".join(words) in done.stdout


@pytest.mark.parametrize("name", sorted(aetheris_services()))
def test_aetheris_environment_is_real_settings_with_valid_values(name: str) -> None:
    env = env_of(SERVICES[name])
    unknown = set(env) - SETTING_NAMES
    assert not unknown, f"{name}: not settings of infra/settings.py: {sorted(unknown)}"
    settings = Settings.model_validate(env)
    assert settings.database_url is not None and settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.redis_url == "redis://redis:6379/0"


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPECTED if not SERVICES[n]["image"].startswith("aetheris:"))
)
def test_third_party_environment_is_documented_image_variables(name: str) -> None:
    env = SERVICES[name].get("environment") or {}
    repository = SERVICES[name]["image"].rpartition(":")[0]
    patterns = IMAGE_VARIABLES.get(repository, ())
    for key in env:
        assert any(p.match(key) for p in patterns), f"{name}: {key} is not a {repository} variable"


def test_every_interpolated_variable_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    used = set(INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()))
    names = {name for name, _, _ in used}
    assert names == documented, f"compose vs .env.example: {sorted(names ^ documented)}"
    # Secrets have no usable default: compose refuses to start without them.
    for name, kind, _ in used:
        if any(word in name for word in ("PASSWORD", "SECRET", "KEYS")):
            assert kind == "?", f"${{{name}}} must be required (:?), not defaulted"
            assert re.search(rf"^{name}=$", example, re.MULTILINE), f"{name} has a value"


def test_every_service_but_the_one_shot_has_a_healthcheck_and_restarts() -> None:
    for name, service in SERVICES.items():
        if name == "init":
            assert service["restart"] == "no"
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: no healthcheck"
        assert service["restart"] in {"unless-stopped", "always", "on-failure"}, name


def test_depends_on_names_services_and_conditions_they_can_meet() -> None:
    for name, service in SERVICES.items():
        for other, spec in (service.get("depends_on") or {}).items():
            assert other in SERVICES, f"{name} depends on unknown {other}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert SERVICES[other].get("healthcheck"), f"{other} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert SERVICES[other]["restart"] == "no", f"{other} is not one-shot"
            else:
                assert condition == "service_started"
    for name in aetheris_services():
        if name != "init":
            assert SERVICES[name]["depends_on"]["init"] == {
                "condition": "service_completed_successfully"
            }

    # No cycles: a topological order exists.
    order: list[str] = []
    pending = dict.fromkeys(SERVICES)
    while pending:
        ready = [n for n in pending if set(SERVICES[n].get("depends_on") or {}) <= set(order)]
        assert ready, f"depends_on cycle among {sorted(pending)}"
        for n in ready:
            order.append(n)
            del pending[n]


def test_volumes_are_named_or_committed_files() -> None:
    declared = set(COMPOSE["volumes"])
    used: set[str] = set()
    for name, service in SERVICES.items():
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {sorted(declared - used)}"
    for name in ("kafka", "timescaledb", "redis", "prometheus", "grafana"):
        assert any(not m.startswith("./") for m in SERVICES[name]["volumes"]), name


def test_published_host_ports_are_unique() -> None:
    host_ports: list[str] = []
    for service in SERVICES.values():
        for mapping in service.get("ports") or []:
            parts = interpolate(mapping).split(":")
            host_ports.append(parts[-2])
    assert len(host_ports) == len(set(host_ports)), host_ports


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_api_replicas_listen_where_the_proxy_and_healthchecks_look() -> None:
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddy)
    assert upstreams
    targets = upstreams.group(1).split()
    apis = sorted(n for n in SERVICES if n.startswith("api-"))
    assert len(apis) == 2
    for name in apis:
        (argv,) = aetheris_commands(SERVICES[name])
        port = option(argv, "--port")
        assert option(argv, "--host") == "0.0.0.0"
        assert "--proxy-headers" in argv
        assert argv.count("--workers") == 0 or option(argv, "--workers") == "1"
        assert f"{name}:{port}" in targets
        assert port in SERVICES[name]["expose"]
    listen = re.search(r"^:(\d+) \{", caddy, re.MULTILINE)
    assert listen
    assert any(p.split(":")[-1] == listen.group(1) for p in SERVICES["proxy"]["ports"]), (
        "the proxy publishes the port Caddy listens on"
    )
    assert f":{listen.group(1)}/api/v1/health" in " ".join(SERVICES["proxy"]["healthcheck"]["test"])


def test_pipeline_cluster_addresses_and_recovery_store_agree() -> None:
    pipelines = sorted(n for n in SERVICES if n.startswith("pipeline-"))
    assert len(pipelines) == 2
    addresses = None
    for index, name in enumerate(pipelines):
        (argv,) = aetheris_commands(SERVICES[name])
        assert option(argv, "-i") == str(index)
        listed = option(argv, "-a").split(";")
        addresses = addresses or listed
        assert listed == addresses, "every process gets the same -a list"
        host, port = listed[index].split(":")
        assert host == name and port in SERVICES[name]["expose"]
        recovery = option(argv, "--recovery-dir")
        assert any(m.endswith(":" + recovery) for m in SERVICES[name]["volumes"])
    assert addresses is not None and len(addresses) == len(pipelines)
    (*_, init_recovery) = aetheris_commands(SERVICES["init"])
    workers = 1  # `pipeline run` default; none of the services passes -w
    assert init_recovery[:2] == ["pipeline", "init-recovery"]
    assert int(option(init_recovery, "--partitions")) == workers * len(pipelines)
    assert init_recovery[2] == recovery
    assert set(SERVICES["init"]["volumes"]) == set(SERVICES[pipelines[0]]["volumes"])


def test_the_init_service_migrates_and_creates_topics() -> None:
    commands = [argv[:2] for argv in aetheris_commands(SERVICES["init"])]
    assert commands[:2] == [["db", "migrate"], ["topics", "create"]]


def test_prometheus_scrapes_every_aetheris_process_on_its_metrics_port() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    long_running = {n for n in aetheris_services() if n != "init"}
    expected = set()
    for name in long_running:
        env = env_of(SERVICES[name])
        port = env["AETHERIS_METRICS_PORT"]
        assert env["AETHERIS_METRICS_HOST"] == "0.0.0.0"
        assert port in SERVICES[name]["expose"]
        assert f"127.0.0.1:{port}/metrics" in " ".join(SERVICES[name]["healthcheck"]["test"])
        expected.add(f"{name}:{port}")
    assert targets == expected


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1))
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    assert len(stages) == 2
    assert stages[0].startswith("${PYTHON_IMAGE} AS build")
    final = stages[1]
    assert final.startswith("${PYTHON_IMAGE} AS runtime")
    assert "build-essential" in stages[0] and "apt-get install" not in final
    assert "COPY --from=build /opt/aetheris /opt/aetheris" in final
    user = re.search(r"^USER (\S+)$", final, re.MULTILINE)
    assert user and not user.group(1).startswith(("root", "0"))
    assert "pip install -r requirements.txt" in stages[0]
    assert "pip install --no-deps ." in stages[0]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)
