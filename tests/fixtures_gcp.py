"""pytest fixtures for gcp (servers on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.gcp_estate import GcpEstate, start_gcp_estate
from demo.gcs_server import DeadEndpoint
from scanner.yamlfile import Node, read_yaml

# Small pages, so every listing in the tests crosses page boundaries as a large real estate would.
GCP_TEST_PAGE_SIZE = 2


@pytest.fixture
def gcp_estate() -> Iterator[GcpEstate]:
    """The demo GCP estate on fresh Cloud Storage, BigQuery and Resource Manager/Asset fakes."""
    estate = start_gcp_estate(page_size=GCP_TEST_PAGE_SIZE)
    try:
        yield estate
    finally:
        estate.stop()


@pytest.fixture
def gcp_section(tmp_path: Path) -> Callable[..., Node]:
    """Write `{providers: {gcp: section}}` to a YAML file and return the section Node, as the agent reads it."""

    def make(section: dict[str, Any] | None, name: str = "custody.yaml") -> Node:
        path = tmp_path / name
        path.write_text(yaml.safe_dump({"providers": {"gcp": section}}, sort_keys=False), encoding="utf-8")
        return read_yaml(path)["providers"]["gcp"]

    return make


@pytest.fixture
def dead_endpoint() -> Iterator[DeadEndpoint]:
    """A TCP endpoint that drops every connection and counts them."""
    endpoint = DeadEndpoint().start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
