"""The GitHub Actions workflow: valid YAML with the keys GitHub expects, the steps named,
and the service containers on the ports the test suite looks for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
MAKE_TARGETS = set(
    re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
)


def triggers() -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    found: dict[str, Any] = WORKFLOW.get("on") or WORKFLOW[True]
    return found


def test_top_level_keys() -> None:
    assert WORKFLOW["name"] == "ci"
    assert {"push", "pull_request"} <= set(triggers())
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert set(WORKFLOW["jobs"]) == {"lint", "test"}


def test_every_job_runs_on_a_pinned_runner_with_named_steps() -> None:
    for name, job in WORKFLOW["jobs"].items():
        assert re.fullmatch(r"ubuntu-\d+\.\d+", job["runs-on"]), name
        assert isinstance(job["timeout-minutes"], int)
        for step in job["steps"]:
            assert step.get("name"), f"{name}: a step without a name"
            assert ("uses" in step) != ("run" in step), f"{name}: {step['name']}"
            if "uses" in step:
                assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]


def run_lines(job: str) -> list[str]:
    return [step["run"] for step in WORKFLOW["jobs"][job]["steps"] if "run" in step]


def test_lint_job_runs_ruff_mypy_and_the_import_rule() -> None:
    lines = run_lines("lint")
    targets = [line.split()[1] for line in lines]
    assert targets == ["install", "lint", "typecheck", "imports"]
    assert set(targets) <= MAKE_TARGETS
    python = WORKFLOW["jobs"]["lint"]["steps"][1]["with"]["python-version"]
    assert python == "3.11"


def test_test_job_runs_the_whole_suite_on_service_containers() -> None:
    job = WORKFLOW["jobs"]["test"]
    assert run_lines("test")[-1] == "bash .ci/run"
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    services = job["services"]
    assert set(services) == {"postgres", "timescaledb", "redis", "kafka"}
    ports = {name: service["ports"][0] for name, service in services.items()}
    assert ports == {
        "postgres": "5432:5432",
        "timescaledb": "5433:5432",
        "redis": "6379:6379",
        "kafka": "9092:9092",
    }
    for name, service in services.items():
        assert "--health-cmd" in service["options"], name
        assert re.search(r":\d+\.\d+", service["image"]), f"{name}: {service['image']}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["env"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    env = job["env"]
    assert env["CI"] == "true"  # scripts/services.sh then insists on TimescaleDB
    assert env["AETHERIS_TEST_TIMESCALE_ADMIN_URL"].endswith("@127.0.0.1:5433/postgres")
    assert env["AETHERIS_TEST_PG_ADMIN_URL"].endswith("@127.0.0.1:5432/postgres")


def test_the_test_environment_variables_are_the_ones_the_suite_reads() -> None:
    conftests = "".join(p.read_text() for p in (ROOT / "tests").rglob("conftest.py"))
    for name in WORKFLOW["jobs"]["test"]["env"]:
        if name != "CI":
            assert f'"{name}"' in conftests, f"{name} is read by no conftest"
