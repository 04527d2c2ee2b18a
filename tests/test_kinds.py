"""The registry of store kinds (scanner/kinds.py) is the one list: the providers, config validation, the README's
table and `agent.py catalog kinds` all follow it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from providers import aws, azure, gcp
from providers.aws_kinds import READERS
from scanner.errors import InputError
from scanner.kinds import CLOUDS, KINDS, kinds_of, permissions, services_of
from scanner.kinds_view import KINDS_BEGIN, KINDS_END, render_kinds, with_kinds_table
from scanner.yamlfile import Node

ROOT = Path(__file__).resolve().parent.parent


def test_kinds_are_unique_and_complete():
    names = [kind.kind for kind in KINDS]
    assert len(names) == len(set(names))
    for kind in KINDS:
        assert kind.cloud in CLOUDS and kind.copies and kind.copies[0].role == "primary", kind.kind
        assert kind.list_call.permission in permissions(kind.cloud)


def test_providers_take_their_service_lists_from_the_registry():
    assert services_of("aws") == aws.SERVICES and "efs" in aws.SERVICES
    assert services_of("azure") == azure.SERVICES and services_of("gcp") == gcp.SERVICES
    regional = {kind.service for kind in kinds_of("aws") if kind.scope == "regional"}
    assert set(aws.REGIONAL_SERVICES) == regional == set(READERS), "every regional AWS service needs one reader"
    assert aws.REGIONAL_SERVICES[0] == "ebs"  # EC2 reads first: the most permitted probe of a region
    assert all(aws.API_OF[service] == kind.api for kind in kinds_of("aws") for service in [kind.service])


@pytest.mark.parametrize("cloud", CLOUDS)
def test_config_services_are_checked_against_the_registry(cloud):
    provider = {"aws": aws.AwsProvider, "azure": azure.AzureProvider, "gcp": gcp.GcpProvider}[cloud]
    section = {"services": [*services_of(cloud), "tape-library"], **({"projects": ["acme-prod"]} if cloud == "gcp"
                                                                        else {})}
    with pytest.raises(InputError) as bad:
        provider.from_config(Node(section, "config.yaml", 7, f"providers.{cloud}"))
    assert "tape-library" in str(bad.value) and services_of(cloud)[-1] in str(bad.value)
    assert "config.yaml:7" in str(bad.value)


def test_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert KINDS_BEGIN in readme and KINDS_END in readme
    assert with_kinds_table(readme) == readme, (
        "README.md's store kinds differ from scanner/kinds.py: run .venv/bin/python scripts/generate_from_kinds.py")
    assert render_kinds("markdown").strip() in readme


def test_catalog_kinds_command_lists_every_kind_with_its_calls_and_permissions():
    result = subprocess.run([sys.executable, str(ROOT / "agent.py"), "catalog", "kinds", "--format", "json"],
                            capture_output=True, text=True, timeout=60, check=True)
    listed = json.loads(result.stdout)
    assert [row["kind"] for row in listed["kinds"]] == [kind.kind for kind in KINDS]
    efs = next(row for row in listed["kinds"] if row["kind"] == "efs-file-system")
    assert {call["permission"] for call in efs["calls"]} == {
        "elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeReplicationConfigurations"}
    assert {copy["role"] for copy in efs["copies"]} == {"primary", "replica"} and efs["cannot_see"]
    assert "sts:AssumeRole" in {call["permission"] for call in listed["platform_calls"]["aws"]}
    text = subprocess.run([sys.executable, str(ROOT / "agent.py"), "catalog", "kinds", "--provider", "azure"],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert "azure-storage-account" in text and "s3-bucket" not in text
    assert "Microsoft.Storage/storageAccounts/read" in text
