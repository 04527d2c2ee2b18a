"""The replica deployment files say what the code does: the config they ship loads, turns the
distributed mode on against PostgreSQL, and the compose and Kubernetes files agree with it.

No compose tool or cluster runs here (docs/scaling.md); these checks keep the files from rotting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from demo.moto_server import free_port
from policies.catalog_loader import load_catalog
from runtime.agent_config import load_agent_settings
from runtime.config import load_config
from scanner.errors import InputError
from state.engine import database_url

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_the_replica_config_loads_with_the_distributed_mode_on_postgresql() -> None:
    config = load_config(str(DEPLOY / "custody.replicas.yaml"), load_catalog())
    settings = load_agent_settings(config.section("agent"))
    assert settings.distributed is not None
    assert settings.distributed.heartbeat_seconds * 2 <= settings.distributed.stalled_after_seconds
    assert database_url(config.state).get_backend_name() == "postgresql"
    assert "password" not in config.state and ":@" not in config.state  # PGPASSWORD, not the file


def test_kubernetes_replicas_ship_the_same_config_apart_from_the_database_host() -> None:
    configmap = yaml.safe_load((DEPLOY / "kubernetes/replicas/configmap.yaml").read_text())
    shipped = yaml.safe_load(configmap["data"]["custody.yaml"])
    reference = yaml.safe_load((DEPLOY / "custody.replicas.yaml").read_text())
    assert shipped["state"] != reference["state"]
    shipped["state"] = reference["state"]
    assert shipped == reference


def test_kustomize_overlay_names_files_and_objects_that_exist() -> None:
    overlay = DEPLOY / "kubernetes/replicas"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (overlay / resource).is_file(), resource
    assert "../pvc.yaml" not in kustomization["resources"]  # no volume to share between replicas
    base = yaml.safe_load((DEPLOY / "kubernetes/deployment.yaml").read_text())
    for patch in kustomization["patches"]:
        target = yaml.safe_load((overlay / patch["path"]).read_text())
        assert (target["kind"], target["metadata"]["name"]) == (base["kind"], base["metadata"]["name"])
        assert target["spec"]["replicas"] >= 2
        patched_volumes = {volume["name"] for volume in target["spec"]["template"]["spec"]["volumes"]}
        assert patched_volumes <= {volume["name"] for volume in base["spec"]["template"]["spec"]["volumes"]}


def test_compose_runs_several_replicas_after_a_healthy_database() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.replicas.yaml").read_text())
    agent, database = compose["services"]["custody"], compose["services"]["postgres"]
    assert agent["deploy"]["replicas"] >= 2
    assert agent["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in database
    assert any(volume.startswith("./custody.replicas.yaml:") for volume in agent["volumes"])
    state_host = database_url(yaml.safe_load((DEPLOY / "custody.replicas.yaml").read_text())["state"]).host
    assert state_host == "postgres"  # the compose service name


def test_distributed_mode_on_sqlite_stops_the_agent_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "custody.yaml"
    config.write_text(yaml.safe_dump({"home": ["EU"], "state": str(tmp_path / "state.db"),
                                      "agent": {"listen": f"127.0.0.1:{free_port()}", "distributed": {}}}))
    result = subprocess.run([sys.executable, str(ROOT / "agent.py"), "run", "--config", str(config)], cwd=tmp_path,
                            env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "agent.distributed" in lines[0] and "postgresql://" in lines[0] and str(config) in lines[0]


def test_heartbeat_not_shorter_than_half_the_stall_time_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "custody.yaml"
    config.write_text("home: [EU]\nagent:\n  distributed:\n    heartbeat_seconds: 20\n    stalled_after_seconds: 30\n")
    with pytest.raises(InputError) as raised:
        load_agent_settings(load_config(str(config), load_catalog()).section("agent"))
    assert f"{config}:4:" in str(raised.value) and "at most half" in str(raised.value)  # the heartbeat line
