"""AWS Config aggregator: a whole organization's stores in a few paged calls, from the delegated administrator.

Config `providers.aws.config_aggregator: <name>` (an aggregator of the account the provider runs in, in the
session's region). Once per scan (`Aggregate.read`):

1. DescribeConfigurationAggregators: whether the aggregator covers all regions (`AllAwsRegions`).
2. DescribeConfigurationAggregatorSourcesStatus: each (source account, region) and its `LastUpdateStatus`; only
   SUCCEEDED sources are read from the aggregator, every other one (FAILED, OUTDATED, absent) per account.
3. SelectAggregateResourceConfig, 100 results a page: every item of the kinds' `bulk_type` (scanner/kinds.py) and
   `AWS::KMS::Key` (who holds the keys the stores name), across all accounts and regions.

Each item goes through the builder the per-account reader uses (Config's `configuration` of a DynamoDB table or an
RDS instance or cluster is the Describe answer, with lowerCamelCase keys; an S3 bucket's replication, encryption and
tags come from its supplementary configuration and tags, as `S3Inventory` reads them from BatchGetResourceConfig).
A target (account, region, service) comes from the aggregator only where the source SUCCEEDED and every item has
what the builder needs; otherwise it is read per account, and so is: S3 of an account unless the aggregator covers
all of the account's regions (ListBuckets is the only complete list of its buckets); RDS in a region with an Aurora
global database (DescribeGlobalClusters is not in Config); a service whose store names a KMS key Config has no item
for (an alias, a key not recorded); every service without a `bulk_type`. An account every wanted target of which the
aggregator answers is not entered at all (no AssumeRole). A failed aggregator read never yields "no stores": the
whole scan falls back to the per-account path, with a note in the scan record.

Recorded per target: an aggregator target is `ok` with the note `source: AWS Config aggregator <name>`; an account
read (wholly or partly) per account gets a `config:SelectAggregateResourceConfig` note saying why.

Assumed, not checkable from the aggregator (unverified here, no real AWS): that the source accounts' recorders record
the kinds' resource types continuously (Config's item is only as fresh as its recorder); that `configuration` keys
are the Describe answer's with a lower-case first letter.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from providers.aws_keys import KeyReader
from providers.aws_kinds import rds_cluster_store, rds_instance_store, table_store
from providers.base import TargetLog
from providers.errors import describe_error
from scanner.clock import now_iso
from scanner.custody import UNKNOWN
from scanner.discovered import DiscoveredStore
from scanner.kinds import kind, kinds_of
from scanner.model import TargetResult

if TYPE_CHECKING:
    from providers.aws import Account, AwsProvider

log = logging.getLogger(__name__)

SELECT = "config:SelectAggregateResourceConfig"
PAGE_SIZE = 100  # SelectAggregateResourceConfig Limit: at most 100 (botocore config model)
KMS_TYPE = "AWS::KMS::Key"
FIELDS = ("accountId", "awsRegion", "resourceType", "resourceId", "resourceName", "arn", "configuration",
          "supplementaryConfiguration", "tags", "configurationItemStatus", "configurationItemCaptureTime")
NOT_IN_CONFIG = "not in AWS Config"  # a key (or custom key store) Config has no item for
Items = dict[str, list[dict[str, Any]]]  # resource type -> items


@dataclass
class Aggregate:
    """What one aggregator read returned: which sources it covers and every item, by (account, region)."""

    name: str
    all_regions: bool
    sources: dict[str, dict[str, str]]  # account -> region -> LastUpdateStatus
    items: dict[tuple[str, str], Items] = field(default_factory=dict)
    bucket_regions: dict[str, str] = field(default_factory=dict)  # every bucket of the organization -> its region
    read_at: str = field(default_factory=now_iso)

    @classmethod
    def read(cls, provider: AwsProvider, home: Account, record: TargetLog) -> Aggregate | None:
        """One read of the configured aggregator; None (and a note) if any of its calls failed."""
        name = provider.settings.config_aggregator
        region = home.session.region_name or "us-east-1"
        client = provider.new_client(home.session, "config", region, home.credentials)
        try:
            aggregate = cls._read(client, name, bulk_types(provider.settings.services))
        except (ClientError, BotoCoreError, LookupError, ValueError) as exc:  # refused, unreachable, or malformed
            why = describe_error(exc)[0] if isinstance(exc, (ClientError, BotoCoreError)) else f"bad answer: {exc!r}"
            note = f"fallback to per-account reads: AWS Config aggregator {name} failed ({why})"
            log.warning("aws %s: %s", home.id, note)
            record.add(TargetResult("aws", home.id, region, SELECT, "ok", note, 0))
            return None
        count = sum(len(found) for by_type in aggregate.items.values() for found in by_type.values())
        record.add(TargetResult("aws", home.id, region, SELECT, "ok", f"AWS Config aggregator {name}", count))
        return aggregate

    @classmethod
    def _read(cls, client: Any, name: str, types: tuple[str, ...]) -> Aggregate:
        described = client.describe_configuration_aggregators(ConfigurationAggregatorNames=[name])
        aggregator = described["ConfigurationAggregators"][0]
        org = aggregator.get("OrganizationAggregationSource") or {}
        all_regions = bool(org.get("AllAwsRegions")) if org else all(
            source.get("AllAwsRegions") for source in aggregator.get("AccountAggregationSources") or [{}])
        sources: dict[str, dict[str, str]] = defaultdict(dict)
        pages = client.get_paginator("describe_configuration_aggregator_sources_status").paginate(
            ConfigurationAggregatorName=name)
        for page in pages:
            for status in page.get("AggregatedSourceStatusList", []):
                sources[status["SourceId"]][status["AwsRegion"]] = status.get("LastUpdateStatus", "")
        aggregate = cls(name, all_regions, dict(sources))
        if types:
            quoted = ", ".join(f"'{t}'" for t in types)
            expression = f"SELECT {', '.join(FIELDS)} WHERE resourceType IN ({quoted})"
            pages = client.get_paginator("select_aggregate_resource_config").paginate(
                ConfigurationAggregatorName=name, Expression=expression, PaginationConfig={"PageSize": PAGE_SIZE})
            for page in pages:
                for result in page.get("Results", []):
                    aggregate._add(json.loads(result))
        return aggregate

    def _add(self, item: dict[str, Any]) -> None:
        account, region = item.get("accountId"), item.get("awsRegion")
        if self.sources.get(account or "", {}).get(region or "") != "SUCCEEDED":
            return  # only sources whose last update succeeded
        self.items.setdefault((account, region), defaultdict(list))[item.get("resourceType", "")].append(item)
        if item.get("resourceType") == kind("s3-bucket").bulk_type:
            self.bucket_regions[item.get("resourceId", "")] = region

    def covered(self, account: str) -> set[str]:
        """The account's regions whose source last updated successfully."""
        return {region for region, status in self.sources.get(account, {}).items() if status == "SUCCEEDED"}


def bulk_types(services: tuple[str, ...]) -> tuple[str, ...]:
    """The Config resource types to query for the configured services (and the KMS keys they name)."""
    types = [spec.bulk_type for spec in kinds_of("aws") if spec.service in BUILDERS and spec.service in services]
    return (*types, KMS_TYPE) if types else ()


class ConfigKeys(KeyReader):
    """The KMS keys an account's stores name, from AWS Config's `AWS::KMS::Key` items (configuration: DescribeKey's
    KeyMetadata) instead of DescribeKey. A key Config has no item for, or a custom key store, is unknown here; the
    view then reads that service per account."""

    def __init__(self, items: dict[str, Items]):  # region -> its items
        self._keys: dict[tuple[str, str], dict[str, Any]] = {}
        for region, by_type in items.items():
            for item in by_type.get(KMS_TYPE, []):
                metadata = configuration(item)
                for ref in (item.get("resourceId"), item.get("arn"), metadata.get("Arn"), metadata.get("KeyId")):
                    if ref:
                        self._keys[(region, ref)] = metadata

    def _describe(self, region: str, key: str) -> dict[str, Any] | str:
        return self._keys.get((region, key), f"{NOT_IN_CONFIG} ({KMS_TYPE} items)")

    def _custom_key_stores(self, region: str) -> dict[str, dict[str, Any]] | str:
        return f"{NOT_IN_CONFIG} (custom key stores)"


class AccountView:
    """One account as the aggregator sees it: a `StoreMaker` for the shared builders, and which targets it answers."""

    def __init__(self, provider: AwsProvider, aggregate: Aggregate, account: Account):
        self.provider = provider
        self.settings = provider.settings
        self.aggregate = aggregate
        self.account = account
        self.via = f" (AWS Config aggregator {aggregate.name})"
        self.regions = aggregate.covered(account.id)
        self._items = {region: items for (owner, region), items in aggregate.items.items() if owner == account.id}
        self.keys = ConfigKeys(self._items)
        self.guard = SimpleNamespace(denied={})  # no region is denied to the aggregator (S3Inventory asks)
        self.answered: list[TargetResult] = []
        self.per_account: list[str] = []  # why targets were left to the per-account path

    def store(self, arn: str, kind: str, name: str, region: str, tags: dict[str, str]) -> DiscoveredStore:
        return DiscoveredStore(id=arn, provider="aws", account=self.account.id, kind=kind, name=name,
                               region=region, tags=tags)

    def regional(self, region: str, service: str) -> list[DiscoveredStore] | None:
        """The service's stores in the region from the aggregator; None where they must be read per account."""
        if service not in BUILDERS or service == "s3":
            self._why(service, "*", "not read from AWS Config" if service != "s3" else "read per account")
            return None
        if region not in self.regions:
            self._why(service, region, "not covered by the aggregator")
            return None
        items = self._items.get(region, {})
        try:
            stores = BUILDERS[service](self, items, region)
        except (KeyError, TypeError, ValueError) as exc:  # an item without a field the builder needs
            stores, why = None, f"an item lacks {exc}"
        else:
            why = "an item lacks a needed field" if stores is None else _unknown_key(stores)
        if stores is None or why:
            self._why(service, region, why or "an item lacks a needed field")
            return None
        self.answered.append(TargetResult("aws", self.account.id, region, service, "ok",
                                          f"source: AWS Config aggregator {self.aggregate.name}", len(stores)))
        return stores

    def s3(self) -> list[DiscoveredStore] | None:
        """Every bucket of the account, where the aggregator covers all its regions; else None."""
        statuses = self.aggregate.sources.get(self.account.id, {})
        if not self.aggregate.all_regions or not statuses or set(statuses.values()) != {"SUCCEEDED"}:
            self._why("s3", "*", "the aggregator does not cover all of the account's regions")
            return None
        stores = s3_stores(self, {region: items.get(kind("s3-bucket").bulk_type, [])
                                  for region, items in self._items.items()})
        why = "an item lacks its replication or encryption" if stores is None else _unknown_key(stores)
        if stores is None or why:
            self._why("s3", "*", why)
            return None
        self.answered.append(TargetResult("aws", self.account.id, "global", "s3", "ok",
                                          f"source: AWS Config aggregator {self.aggregate.name}", len(stores)))
        return stores

    def complete(self) -> list[DiscoveredStore] | None:
        """Every wanted store of the account, if the aggregator answers every target (no per-account read); else None
        (the per-account scan then asks `regional` and `s3` target by target)."""
        services = self.settings.services
        wanted = list(self.settings.regions) or (sorted(self.regions) if self.aggregate.all_regions else [])
        if not wanted or any(service not in BUILDERS for service in services):
            return None
        stores: list[DiscoveredStore] = []
        for region in wanted:
            for service in (s for s in services if s != "s3"):
                found = self.regional(region, service)
                if found is None:
                    self.answered.clear()
                    return None
                stores += found
        if "s3" in services:
            buckets = self.s3()
            if buckets is None:
                self.answered.clear()
                return None
            stores += buckets
        return stores

    def record(self, log: TargetLog) -> None:
        for result in self.answered:
            log.add(result)
        if self.per_account:
            note = "per account: " + "; ".join(dict.fromkeys(self.per_account))
            log.add(TargetResult("aws", self.account.id, "*", SELECT, "ok", note, 0))

    def _why(self, service: str, region: str, reason: str) -> None:
        self.per_account.append(f"{service} in {region} ({reason})")


def configuration(item: dict[str, Any]) -> dict[str, Any]:
    """An item's `configuration` as the Describe answer spells it (a JSON string accepted; keys' first letter upper)."""
    raw = item.get("configuration")
    while isinstance(raw, str):
        raw = json.loads(raw)
    return upper_camel(raw or {})


def upper_camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: upper_camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [upper_camel(item) for item in value]
    return value


def item_tags(item: dict[str, Any]) -> dict[str, str]:
    """Config's `tags`: a list of {key, value} (advanced query) or a map (configuration items)."""
    tags = item.get("tags") or {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {tag["key"]: tag.get("value", "") for tag in tags}


def _unknown_key(stores: list[DiscoveredStore]) -> str:
    """Why the stores cannot come from Config: one names a KMS key Config does not describe ('' if none)."""
    for store in stores:
        facts = store.encryption
        if facts is not None and facts.custody == UNKNOWN and NOT_IN_CONFIG in (facts.reason or ""):
            return f"{store.name}'s KMS key: {facts.reason}"
    return ""


# -- the builders: Config items through the per-account readers' functions ------------------------------------
def _tables(view: AccountView, items: Items, region: str) -> list[DiscoveredStore]:
    return [table_store(view, configuration(item), item_tags(item), region, view.via)
            for item in items.get(kind("dynamodb-table").bulk_type, [])]


def _databases(view: AccountView, items: Items, region: str) -> list[DiscoveredStore] | None:
    instances = [dict(configuration(item), TagList=_tag_list(item))
                 for item in items.get(kind("rds-instance").bulk_type, [])]
    clusters = [dict(configuration(item), TagList=_tag_list(item))
                for item in items.get(kind("rds-cluster").bulk_type, [])]
    if any(cluster.get("GlobalClusterIdentifier") for cluster in clusters):
        return None  # an Aurora global database: its members come from DescribeGlobalClusters only
    return ([rds_instance_store(view, db, region, view.via) for db in instances]
            + [rds_cluster_store(view, cluster, region, {}, view.via) for cluster in clusters])


def _tag_list(item: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in item_tags(item).items()]


def s3_stores(view: AccountView, items: dict[str, list[dict[str, Any]]]) -> list[DiscoveredStore] | None:
    """The account's buckets through `S3Inventory`'s own store builder, filled from Config's items; None if an
    item does not say where the bucket replicates or how it is encrypted."""
    from providers.aws import BucketFacts, S3Inventory, _config_encryption, _config_replication

    inventory = S3Inventory(view)  # type: ignore[arg-type]
    inventory.listed_at = view.aggregate.read_at
    learned = f"{SELECT} awsRegion"
    for region, found in items.items():
        inventory.tags_listed.add(region)
        for item in found:
            name = item["resourceId"]
            replication, sse = _config_replication(item), _config_encryption(item)
            if replication is None or sse is None:
                return None
            replication = dataclasses.replace(replication, learned_from=f"{SELECT} BucketReplicationConfiguration")
            sse = dataclasses.replace(sse, learned_from=f"{SELECT} ServerSideEncryptionConfiguration")
            unknowns, replica_regions = [], []
            for target in replication.targets:
                target_region = view.aggregate.bucket_regions.get(target)
                if target_region:
                    replica_regions.append(target_region)
                else:
                    unknowns.append(f"replica bucket {target}: region unreadable (not in the aggregator)")
            inventory.regions[name], inventory.learned[name] = region, learned
            inventory.tags[name] = item_tags(item)
            inventory.facts[name] = BucketFacts(None, replica_regions, unknowns, replication,
                                                inventory.key_facts(sse, region))
    return inventory.stores()


BUILDERS: dict[str, Callable[[AccountView, Items, str], list[DiscoveredStore] | None]] = {
    "dynamodb": _tables,
    "rds": _databases,
    "s3": lambda view, items, region: None,  # per account, never per region: see AccountView.s3
}
