"""The readers of AWS's in-memory and search stores: ElastiCache replication groups, MemoryDB clusters and
OpenSearch Service domains (scanner/kinds.py), each with the copies its service keeps in other regions.

- ElastiCache: a replication group in a global datastore (`GlobalReplicationGroupInfo`) is one member of it;
  DescribeGlobalReplicationGroups (ShowMemberInfo) names every member's region and role: the PRIMARY member's region
  is the primary, each SECONDARY's a replica, on every member's store.
- MemoryDB: a cluster in a multi-region cluster (`MultiRegionClusterName`) is one regional member;
  DescribeMultiRegionClusters (ShowClusterDetails) names the members' regions, each a primary (active-active).
- OpenSearch: cross-cluster replication runs over a connection the follower makes to the leader. An outbound
  connection (this region's domain is the follower) gives the follower its leader's region; an inbound one (this
  region's domain is the leader) gives the leader its follower's region as a replica. The API does not say whether
  a connection replicates or only searches, so every live connection counts (fail closed).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import botocore.session

from providers.aws_kinds import listing, read_all, reader, tag_list
from scanner.discovered import DiscoveredStore
from scanner.kinds import kind
from scanner.model import Role

if TYPE_CHECKING:
    from providers.aws import AccountScan

DOMAINS_PER_CALL = 5  # DescribeDomains: at most 5 domain names (OpenSearch API reference)
DEAD_CONNECTIONS = {"VALIDATION_FAILED", "REJECTING", "REJECTED", "DELETING", "DELETED"}  # carry no data


# -- ElastiCache ---------------------------------------------------------------------------------------------
@reader("elasticache")
def elasticache_groups(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    spec = kind("elasticache-replication-group")
    client = scan.client(spec.api, region)
    groups = list(listing(scan, spec, region))
    global_ids = {_global_id(group) for group in groups} - {None}
    members = _global_members(scan, region) if global_ids else {}
    stores = []
    for group in groups:
        tags = tag_list(client.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList"))
        store = scan.store(group["ARN"], spec.kind, group["ReplicationGroupId"], region, tags)
        global_id = _global_id(group)
        for member_region, role in members.get(global_id, []) if global_id else []:  # the primary member first
            store.add_location(member_region, role, "DescribeGlobalReplicationGroups.Members" + (
                ".Role PRIMARY" if role == "primary" else ".ReplicationGroupRegion (Role SECONDARY)"))
        if global_id and global_id not in members:
            store.unknowns.append(f"global datastore {global_id} was not listed by DescribeGlobalReplicationGroups: "
                                  "the regions of its other members are unknown")
        store.add_location(region, "primary", "DescribeReplicationGroups.ARN")
        stores.append(store)
    return stores


def _global_id(group: dict[str, Any]) -> str | None:
    return (group.get("GlobalReplicationGroupInfo") or {}).get("GlobalReplicationGroupId") or None


def _global_members(scan: AccountScan, region: str) -> dict[str, list[tuple[str, Role]]]:
    """Each global datastore's members: (region, role), the primary first."""
    members: dict[str, list[tuple[str, Role]]] = {}
    for datastore in read_all(scan, "elasticache", "DescribeGlobalReplicationGroups", "GlobalReplicationGroups",
                              region, ShowMemberInfo=True):
        listed = sorted(datastore.get("Members") or [], key=lambda member: member.get("Role") != "PRIMARY")
        members[datastore["GlobalReplicationGroupId"]] = [
            (m["ReplicationGroupRegion"], "primary" if m.get("Role") == "PRIMARY" else "replica")
            for m in listed if m.get("ReplicationGroupRegion")]
    return members


# -- MemoryDB ------------------------------------------------------------------------------------------------
@reader("memorydb")
def memorydb_clusters(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    spec = kind("memorydb-cluster")
    if not offered(spec.api, region):
        return []  # MemoryDB is not offered in the region: no cluster can be there
    client = scan.client(spec.api, region)
    clusters = list(listing(scan, spec, region))
    regions: dict[str, list[str]] = {}
    if any(cluster.get("MultiRegionClusterName") for cluster in clusters):
        regions = {multi["MultiRegionClusterName"]: [member["Region"] for member in multi.get("Clusters") or []]
                   for multi in read_all(scan, spec.api, "DescribeMultiRegionClusters", "MultiRegionClusters", region,
                                         ShowClusterDetails=True)}
    stores = []
    for cluster in clusters:
        tags = tag_list(client.list_tags(ResourceArn=cluster["ARN"]).get("TagList"))
        store = scan.store(cluster["ARN"], spec.kind, cluster["Name"], region, tags)
        store.add_location(region, "primary", "DescribeClusters.ARN")
        multi = cluster.get("MultiRegionClusterName")
        for member_region in regions.get(multi, []) if multi else []:
            store.add_location(member_region, "primary", "DescribeMultiRegionClusters.Clusters.Region")
        if multi and multi not in regions:
            store.unknowns.append(f"multi-region cluster {multi} was not listed by DescribeMultiRegionClusters: the "
                                  "regions of its other members are unknown")
        stores.append(store)
    return stores


@functools.cache
def _regions(api: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the regions botocore's endpoint data offers the service in, every region it knows), over all partitions."""
    session = botocore.session.get_session()
    partitions = session.get_available_partitions()
    return (frozenset(r for p in partitions for r in session.get_available_regions(api, p)),
            frozenset(r for p in partitions for r in session.get_available_regions("ec2", p)))


def offered(api: str, region: str) -> bool:
    """Whether the service is offered in the region, by botocore's endpoint data (AWS's published endpoints). A region
    botocore does not know at all (newer than it) counts as offered: it is read, never assumed empty."""
    service_regions, known = _regions(api)
    return region in service_regions or region not in known


# -- OpenSearch Service --------------------------------------------------------------------------------------
@reader("opensearch")
def opensearch_domains(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    spec = kind("opensearch-domain")
    client = scan.client(spec.api, region)
    stores: dict[str, DiscoveredStore] = {}
    for domain in _domains(client, [item["DomainName"] for item in listing(scan, spec, region)]):
        if domain.get("Deleted"):
            continue
        tags = tag_list(client.list_tags(ARN=domain["ARN"]).get("TagList"))
        store = scan.store(domain["ARN"], spec.kind, domain["DomainName"], region, tags)
        store.add_location(region, "primary", "DescribeDomains.ARN")
        stores[domain["DomainName"]] = store
    if stores:
        for local, remote in _connections(scan, region, "DescribeOutboundConnections"):
            follower = stores.get(local["DomainName"]) if _here(scan, local, region) else None
            if follower is not None and remote.get("Region"):
                follower.add_location(remote["Region"], "primary", "DescribeOutboundConnections.RemoteDomainInfo "
                                      f"(the leader it may follow: {_named(remote)})")
        for local, remote in _connections(scan, region, "DescribeInboundConnections"):
            leader = stores.get(remote["DomainName"]) if _here(scan, remote, region) else None
            if leader is not None and local.get("Region"):
                leader.add_location(local["Region"], "replica", "DescribeInboundConnections.LocalDomainInfo "
                                    f"(a follower it may replicate to: {_named(local)})")
    return list(stores.values())


def _domains(client: Any, names: list[str]) -> Iterator[dict[str, Any]]:
    for start in range(0, len(names), DOMAINS_PER_CALL):
        yield from client.describe_domains(DomainNames=names[start:start + DOMAINS_PER_CALL])["DomainStatusList"]


def _connections(scan: AccountScan, region: str, operation: str) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """(local, remote) AWSDomainInformation of every connection of the region that is not dead."""
    for connection in read_all(scan, "opensearch", operation, "Connections", region):
        if (connection.get("ConnectionStatus") or {}).get("StatusCode") in DEAD_CONNECTIONS:
            continue
        yield (_domain_info(connection, "LocalDomainInfo"), _domain_info(connection, "RemoteDomainInfo"))


def _domain_info(connection: dict[str, Any], side: str) -> dict[str, str]:
    return (connection.get(side) or {}).get("AWSDomainInformation") or {}


def _here(scan: AccountScan, domain: dict[str, str], region: str) -> bool:
    return domain.get("Region") == region and domain.get("OwnerId") in (None, scan.account.id)


def _named(domain: dict[str, str]) -> str:
    return f"{domain.get('DomainName', '?')} in {domain.get('Region', '?')}, account {domain.get('OwnerId', '?')}"
