"""Incremental rescans (issue 7, item 6): a process scanning again reuses per-bucket replication answers while
ListBuckets shows the bucket unchanged, and every location says when it was observed.

Scans run against a patched moto server without an AWS Config recorder (so every bucket's replication is read
with GetBucketReplication) through tests/fault_proxy.py, which records each operation and injects denials.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from demo.aws_estate import SeededStore, create_bucket, seed_buckets
from demo.moto_server import MotoServer
from providers.aws import REPLICATION_CACHE, REPLICATION_CACHED, REPLICATION_READ, Replication, ReplicationCache
from runtime.cli import prepare, scan_once
from scanner.clock import now_iso
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from tests.fault_proxy import DENIED, FaultProxy

REGIONS = ["eu-central-1", "us-east-1"]
ACCOUNT = "123456789012"
PER_BUCKET = "s3:GET ?replication"
DAEMON_AGE = 360


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts and ends with nothing kept (moto reuses bucket names from test to test)."""
    REPLICATION_CACHE.clear()
    yield
    REPLICATION_CACHE.clear()


@pytest.fixture
def proxy(moto_patched: MotoServer) -> Iterator[FaultProxy]:
    running = FaultProxy(moto_patched.url).start()
    yield running
    running.stop()


def seed(server: MotoServer, aws_env, n: int = 24) -> list[SeededStore]:
    aws_env(server)
    seeded = seed_buckets(server.url, n, REGIONS, replicate_fraction=0.25, workers=4)
    assert sum(1 for s in seeded if s.replica_regions) >= 3  # the checks below must see replicating buckets
    return seeded


def write_config(tmp_path: Path, max_age: object) -> Path:
    config = {"home": "EU", "companies": [{"id": "acme", "name": "Acme", "country": "DE"}],
              "accounts": {ACCOUNT: {"owner": "acme"}},
              "providers": {"aws": {"services": ["s3"], "max_attempts": 1, "replication_max_age_minutes": max_age}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def scan(tmp_path: Path, aws_env, proxy: FaultProxy, max_age: int) -> tuple[ScanResult, dict[str, DataStore],
                                                                            list[str]]:
    """One scan as the daemon runs it (the config read and the providers built afresh); its stores by name and
    the operations it made."""
    aws_env(proxy.url)
    before = len(proxy.operations)
    result, stores = scan_once(prepare(str(write_config(tmp_path, max_age)), []), state=None)
    return result, {store.name: store for store in stores}, proxy.operations[before:]


def replicas(store: DataStore) -> set[tuple[str, str, str | None]]:
    return {(loc.region, loc.learned_from, loc.observed_at) for loc in store.locations if loc.role == "replica"}


def next_second(after: str) -> None:
    """Wait until now_iso() is past `after`, so that a fresh observation cannot share its timestamp."""
    while now_iso() <= after:
        time.sleep(0.1)


def s3(server: MotoServer, region: str):
    return boto3.client("s3", endpoint_url=server.url, region_name=region)


# -- every location says when it was observed -------------------------------------------------------------------


def test_every_location_carries_when_it_was_observed(tmp_path, moto_patched, proxy, aws_env):
    seeded = seed(moto_patched, aws_env)
    started = now_iso()
    result, stores, calls = scan(tmp_path, aws_env, proxy, 0)
    finished = now_iso()
    assert result.status == "complete" and set(stores) == {s.name for s in seeded}
    assert calls.count(PER_BUCKET) == len(seeded)
    for expected in seeded:
        store = stores[expected.name]
        assert {(loc.region, loc.role) for loc in store.locations} == {
            (expected.region, "primary"), *((r, "replica") for r in expected.replica_regions)}
        assert all(started <= str(loc.observed_at) <= finished for loc in store.locations), store.locations
        assert {loc.learned_from for loc in store.locations if loc.role == "replica"} <= {REPLICATION_READ}
    document = next(s for s in stores.values() if replicas(s)).to_dict()
    assert DataStore.from_dict(document).locations[-1].observed_at == document["locations"][-1]["observed_at"]


# -- a second scan of the same process ---------------------------------------------------------------------------


def test_a_rescan_reuses_replication_of_unchanged_buckets_with_the_first_observation_time(
        tmp_path, moto_patched, proxy, aws_env):
    seeded = seed(moto_patched, aws_env)
    _, first, calls = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert calls.count(PER_BUCKET) == len(seeded)
    next_second(max(loc.observed_at or "" for store in first.values() for loc in store.locations))
    result, second, calls = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert result.status == "complete"
    assert PER_BUCKET not in calls
    for expected in seeded:
        before, after = first[expected.name], second[expected.name]
        assert {(r, at) for r, _, at in replicas(after)} == {(r, at) for r, _, at in replicas(before)}
        assert {learned for _, learned, _ in replicas(after)} <= {REPLICATION_CACHED}
        assert {r for r, _, _ in replicas(after)} == set(expected.replica_regions)
        primary = next(loc for loc in after.locations if loc.role == "primary")
        assert primary.observed_at and primary.observed_at > next(
            loc.observed_at or "" for loc in before.locations if loc.role == "primary")  # listed again: fresh
        assert not [u for u in after.unknowns if "replica" in u], after.unknowns


@pytest.mark.parametrize("move", [True, False], ids=["other-region", "same-region"])
def test_a_bucket_deleted_and_recreated_between_scans_is_read_afresh(tmp_path, moto_patched, proxy, aws_env, move):
    seeded = seed(moto_patched, aws_env)
    source = next(s for s in seeded if s.replica_regions)
    _, first, _ = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert replicas(first[source.name])
    region = next(r for r in REGIONS if r != source.region) if move else source.region
    next_second(now_iso())  # a same-region recreation must differ in CreationDate (to the second)
    client = s3(moto_patched, source.region)
    client.delete_bucket_replication(Bucket=source.name)
    client.delete_bucket(Bucket=source.name)
    create_bucket(lambda r: s3(moto_patched, r), source.name, region)  # recreated without replication
    _, second, calls = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert calls.count(PER_BUCKET) == 1  # that bucket alone
    assert replicas(second[source.name]) == set()  # the answer kept for the old bucket is not reused
    assert second[source.name].region == region
    unchanged = [s for s in seeded if s.replica_regions and s.name != source.name]
    assert all({learned for _, learned, _ in replicas(second[s.name])} == {REPLICATION_CACHED} for s in unchanged)


def test_max_age_zero_reads_every_bucket_every_scan(tmp_path, moto_patched, proxy, aws_env):
    seeded = seed(moto_patched, aws_env)
    for _ in range(2):
        _, stores, calls = scan(tmp_path, aws_env, proxy, 0)
        assert calls.count(PER_BUCKET) == len(seeded)
        assert all(learned == REPLICATION_READ for store in stores.values() for _, learned, _ in replicas(store))


def test_a_failed_read_is_not_kept_and_is_read_again(tmp_path, moto_patched, proxy, aws_env):
    seeded = seed(moto_patched, aws_env)
    source = next(s for s in seeded if s.replica_regions)
    proxy.deny(lambda r: r.method == "GET" and r.path.startswith(f"/{source.name}?replication"), DENIED)
    result, first, calls = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert result.status == "complete" and calls.count(PER_BUCKET) == len(seeded)
    assert replicas(first[source.name]) == set()
    assert any(u.startswith("replication unreadable (AccessDenied") for u in first[source.name].unknowns)
    proxy.rules.clear()
    _, second, calls = scan(tmp_path, aws_env, proxy, DAEMON_AGE)
    assert calls.count(PER_BUCKET) == 1  # the denied bucket alone: its unknown was not kept as "no replication"
    assert {(r, learned) for r, learned, _ in replicas(second[source.name])} == {
        (r, REPLICATION_READ) for r in source.replica_regions}
    assert not [u for u in second[source.name].unknowns if "replica" in u]


# -- the cache and the setting ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_answer_expires_at_the_maximum_age_and_with_its_signature():
    clock = Clock()
    cache = ReplicationCache(clock)
    account, signature = ("aws", ACCOUNT), ("eu-central-1", "2026-11-27T10:00:00+00:00")
    answer = Replication(("dr",), REPLICATION_READ, "2026-11-27T10:00:01+00:00")
    cache.put(account, "b", signature, answer, clock.now)
    clock.now += 59.0
    assert cache.get(account, "b", signature, 60.0) == answer
    assert cache.get(account, "b", ("us-east-1", signature[1]), 60.0) is None  # moved
    assert cache.get(account, "b", (signature[0], "2026-11-27T11:00:00+00:00"), 60.0) is None  # recreated
    assert cache.get(("aws", "222222222222"), "b", signature, 60.0) is None  # another account's bucket
    clock.now += 1.0
    assert cache.get(account, "b", signature, 60.0) is None  # expired
    cache.keep_only(account, ["other"])
    assert cache.get(account, "b", signature, 3600.0) is None  # gone from the listing: forgotten


@pytest.mark.parametrize("value", [-1, "six hours", 1.5, True])
def test_a_bad_max_age_is_one_line_naming_the_file_and_line(tmp_path, value):
    path = write_config(tmp_path, value)
    with pytest.raises(InputError) as caught:
        prepare(str(path), [])
    message = str(caught.value)
    assert "providers.aws.replication_max_age_minutes" in message and "\n" not in message
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "replication_max_age" in text)
    assert f"{path}:{line}" in message
