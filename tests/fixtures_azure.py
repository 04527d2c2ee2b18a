"""pytest fixtures for azure (servers on 127.0.0.1).

`arm_server` is a fresh `demo.arm_server.ArmServer` per test (its request log starts empty);
`azure_estate` seeds the demo estate into it and puts its bearer token in AZURE_ACCESS_TOKEN;
`azure_section` turns a dict into the `providers.azure` Node of a real config file, so config
errors carry a file and line as they would for a user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.arm_server import ArmServer
from demo.azure_estate import AzureEstate, seed_estate
from scanner.yamlfile import Node, read_yaml


@pytest.fixture
def arm_server() -> Iterator[ArmServer]:
    server = ArmServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def azure_estate(arm_server: ArmServer, monkeypatch: pytest.MonkeyPatch) -> AzureEstate:
    estate = seed_estate(arm_server)
    for name, value in estate.environment().items():
        monkeypatch.setenv(name, value)
    return estate


@pytest.fixture
def azure_config_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write config YAML text to a file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "custody.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def azure_section(azure_config_file: Callable[[str], Path]) -> Callable[[dict[str, Any]], Node]:
    """The `providers.azure` Node of a config file holding `section`."""

    def make(section: dict[str, Any]) -> Node:
        path = azure_config_file(yaml.safe_dump({"providers": {"azure": section}}, sort_keys=False))
        return read_yaml(path)["providers"]["azure"]

    return make
