"""pytest fixtures for aws (servers on 127.0.0.1).

- `moto_stock` / `moto_patched`: a moto server subprocess (stock, or with the patches of PATCHED: BucketRegion,
  DynamoDB replicas, tagging regions, Config replication), reset and with an empty request log at the start of
  every test. One process per kind serves the whole session; a test that stops or kills it gets a fresh one next time.
- `moto_estate`: a patched server of its own, seeded once per module with `demo.aws_estate.seed_aws_estate`;
  yields `SeededMoto(server, estate)`. Tests must not mutate it.
- `scan_kinds(tmp_path, services, regions, waive)`: scan the management account's `services` in `regions` (home EU,
  owner Acme Europe GmbH, DE) with the reach of the `waive` jurisdictions waived, for the per-kind tests.
- `aws_env`: isolates boto3 from the developer's AWS config and credentials (testing/testing, us-east-1, no
  profile, no config files, no instance metadata) and returns a function that points AWS_ENDPOINT_URL at a
  server: `aws_env(moto_patched)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, AwsEstate, seed_aws_estate
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import MotoServer, start_moto
from runtime.cli import prepare, scan_once
from scanner.model import DataStore, ScanResult
from tests.fault_proxy import Fault, FaultProxy, Request

PATCHED = ESTATE_PATCHES

# Variables that would send boto3 elsewhere or give it other credentials.
AWS_ENV_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CA_BUNDLE",
)


class _ServerPool:
    """One server per patch set for the session, replaced if a test stopped or killed it."""

    def __init__(self) -> None:
        self._servers: dict[tuple[str, ...], MotoServer] = {}

    def fresh(self, patches: tuple[str, ...]) -> MotoServer:
        server = self._servers.get(patches)
        if server is None or not server.alive():
            if server is not None:
                server.stop()
            server = self._servers[patches] = start_moto(patches)
        server.reset()
        server.clear_log()
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def _moto_pool() -> Iterator[_ServerPool]:
    pool = _ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def moto_stock(_moto_pool: _ServerPool) -> MotoServer:
    """Stock moto 5.2.5: no patches, with the gaps tests/test_moto_emulator.py documents."""
    return _moto_pool.fresh(())


@pytest.fixture
def moto_patched(_moto_pool: _ServerPool) -> MotoServer:
    """moto with the `bucket_region` and `dynamodb_replicas` patches (see demo/moto_patches.py)."""
    return _moto_pool.fresh(PATCHED)


@dataclass(frozen=True)
class SeededMoto:
    server: MotoServer
    estate: AwsEstate


@pytest.fixture(scope="module")
def moto_estate() -> Iterator[SeededMoto]:
    """A patched server holding the demo estate (organization, 3 members, buckets, replicas), per module."""
    with start_moto(PATCHED) as server:
        estate = seed_aws_estate(server.url)
        server.clear_log()
        yield SeededMoto(server, estate)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[MotoServer | str], dict[str, str]]:
    """Isolate boto3 from the machine's AWS setup; call the result with a server (or URL) to point boto3 at it."""
    for name in [*AWS_ENV_CLEARED, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL"))]:
        monkeypatch.delenv(name, raising=False)
    fixed = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in fixed.items():
        monkeypatch.setenv(name, value)

    def point_at(target: MotoServer | str) -> dict[str, str]:
        url = target if isinstance(target, str) else target.url
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        return {**fixed, "AWS_ENDPOINT_URL": url}

    return point_at


def scan_kinds(tmp_path: Path, services: list[str], regions: list[str], waive: frozenset[str] = frozenset()
               ) -> tuple[ScanResult, dict[str, DataStore]]:
    """Scan `services` in `regions` of the management account (owned by Acme Europe GmbH, DE; home EU), with every
    finding of the `waive` jurisdictions on an AWS store waived; the stores by name."""
    waivers = [{"store": "arn:aws:*", "jurisdiction": code, "reason": "test: reach through AWS's control",
                "approver": "dpo@example.com", "expires": "2099-12-31"} for code in sorted(waive)]
    (tmp_path / "waivers.yaml").write_text(yaml.safe_dump({"waivers": waivers}))
    config = {
        "home": "EU",
        "policies": [str(tmp_path / "waivers.yaml")],
        "companies": [{"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE"}],
        "accounts": {MANAGEMENT_ACCOUNT_ID: {"owner": "acme-europe"}},
        "providers": {"aws": {"services": services, "regions": regions, "max_attempts": 1}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result, stores = scan_once(prepare(str(path), []), state=None)
    with stores:
        return result, {store.name: store for store in stores}


def scan_kinds_denying(moto_url: str, point_at: Callable[[str], object], tmp_path: Path, services: list[str],
                       regions: list[str], matches: Callable[[Request], bool], fault: Fault
                       ) -> tuple[ScanResult, dict[str, DataStore], list[str]]:
    """`scan_kinds` through a fault proxy in front of moto that answers `fault` to every request `matches` picks;
    `point_at`: the `aws_env` fixture, pointed at the proxy. Also the operations the proxy saw."""
    proxy = FaultProxy(moto_url).start()
    proxy.deny(matches, fault)
    try:
        point_at(proxy.url)
        result, stores = scan_kinds(tmp_path, services, regions)
        return result, stores, list(proxy.operations)
    finally:
        proxy.stop()


def places(store: DataStore) -> set[tuple[str, str, str]]:
    """(region, role, country) of each of a store's locations."""
    return {(loc.region, loc.role, loc.country) for loc in store.locations}


def control_reach(store: DataStore, home: frozenset[str] = frozenset({"EU", "DE", "IE"})) -> frozenset[str]:
    """The jurisdictions other than home that reach a store: waived, they let a store with only EU copies pass."""
    return frozenset(reach.jurisdiction for reach in store.reachable_by) - home
