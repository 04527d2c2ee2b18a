"""pytest fixtures for aws (servers on 127.0.0.1).

- `moto_stock` / `moto_patched`: a moto server subprocess (stock, or with the patches of PATCHED: BucketRegion,
  DynamoDB replicas, tagging regions, Config replication), reset and with an empty request log at the start of
  every test. One process per kind serves the whole session; a test that stops or kills it gets a fresh one next time.
- `moto_estate`: a patched server of its own, seeded once per module with `demo.aws_estate.seed_aws_estate`;
  yields `SeededMoto(server, estate)`. Tests must not mutate it.
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

from demo.aws_estate import AwsEstate, seed_aws_estate
from demo.moto_server import MotoServer, start_moto

PATCHED = ("bucket_region", "dynamodb_replicas", "s3_tagging_regions", "s3_config_replication", "efs_replication")

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
