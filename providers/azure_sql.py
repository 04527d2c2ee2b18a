"""Azure SQL beyond a database's own location: SQL managed instances with their instance failover groups and
geo-redundant backups, and SQL servers' failover groups (the `sql` service's databases).

Read as ARM's JSON through the provider's read-only pipeline (`ArmJson`, providers/azure_copies.py), api-version
2023-08-01 of Microsoft.Sql, whose field names are those of the azure-rest-api-specs examples (ManagedInstanceList,
InstanceFailoverGroupList, FailoverGroupList). Store builders take the ARM item (a dict), so a bulk source whose
rows carry the same `properties` can call them.

A failover group's databases are geo-replicated through replication links, so the `sql` service's
ReplicationLinks_ListByServer already names the same partner region for each of them; the group is read as well so
that a database whose links were not listed still shows its partner, and a region seen twice is recorded once
(`DiscoveredStore.add_location` keeps the first place per region).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from providers.azure_copies import Errors, add_geo_backup, new_store, raise_partial, subscription_path
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore
from scanner.model import Role

if TYPE_CHECKING:
    from providers.azure import AzureProvider

SQL_VERSION = "2023-08-01"
MANAGED_INSTANCES = "Microsoft.Sql/managedInstances"
MI_KIND = "azure-sql-managed-instance"
MI_BACKUP_FIELD = "ManagedInstance.properties.currentBackupStorageRedundancy"


def replication_role(value: str | None) -> Role:
    """A failover group's replicationRole: Primary → primary; Secondary (or anything else) → replica."""
    return "primary" if (value or "").lower() == "primary" else "replica"


def location_of_group(group_id: str) -> str:
    """The location segment of `.../providers/Microsoft.Sql/locations/{location}/instanceFailoverGroups/{name}`."""
    parts = group_id.split("/")
    lowered = [part.lower() for part in parts]
    return parts[lowered.index("locations") + 1] if "locations" in lowered else ""


# -- managed instances -----------------------------------------------------------------------------------------
Partner = tuple[str, Role, str]  # (region, role, learned_from)


class InstanceGroups:
    """What a subscription's instance failover groups say about each managed instance (by lower-cased id): its own
    role, and its partners' regions and roles."""

    def __init__(self) -> None:
        self.own_role: dict[str, Role] = {}
        self.partners: dict[str, list[Partner]] = defaultdict(list)
        self.unknowns: dict[str, list[str]] = defaultdict(list)

    def add(self, provider: AzureProvider, group: dict[str, Any], located: dict[str, str]) -> None:
        """One InstanceFailoverGroup; `located`: instance id (lower-cased) → region, from the instance listing."""
        props = group.get("properties") or {}
        here = provider.region(location_of_group(group.get("id") or ""))
        roles = {here: replication_role(props.get("replicationRole"))}
        for partner in props.get("partnerRegions") or []:
            roles.setdefault(provider.region(partner.get("location")), replication_role(partner.get("replicationRole")))
        for pair in props.get("managedInstancePairs") or []:
            ends = [(pair.get(end) or "").lower() for end in ("primaryManagedInstanceId", "partnerManagedInstanceId")]
            for mine, other in (ends, ends[::-1]):
                if mine in located:
                    self._add_partner(group, roles, mine, located[mine], other, located.get(other))

    def _add_partner(self, group: dict[str, Any], roles: dict[str, Role], mine: str, my_region: str, other: str,
                     other_region: str | None) -> None:
        if my_region in roles:
            self.own_role[mine] = roles[my_region]
        if other_region is None:  # the partner is not in a scanned subscription: its region from partnerRegions
            others = [region for region in roles if region != my_region]
            if len(others) != 1:
                self.unknowns[mine].append(f"instance failover group {group.get('name')}: the partner instance "
                                           f"{other or '(not named)'} and its region are not known")
                return
            other_region, learned = others[0], "InstanceFailoverGroup.properties.partnerRegions.location"
        else:
            learned = "InstanceFailoverGroup.properties.managedInstancePairs → the partner instance's location"
        default: Role = "replica" if roles.get(my_region) == "primary" else "primary"
        self.partners[mine].append((other_region, roles.get(other_region, default), learned))


def managed_instances(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """A subscription's SQL managed instances: one listing, then `managed_instance_stores`."""
    instances = provider.arm_json().list(subscription_path(sub, MANAGED_INSTANCES), SQL_VERSION)
    return managed_instance_stores(provider, sub, instances)


def managed_instance_stores(provider: AzureProvider, sub: str, instances: list[dict[str, Any]]
                            ) -> list[DiscoveredStore]:
    """Managed instances (ARM JSON: a listing's or Resource Graph's rows), with their failover group partners and
    geo-redundant backups: one InstanceFailoverGroups_ListByLocation per (resource group, location) holding one."""
    from providers.azure import normalise_location, resource_group

    arm = provider.arm_json()
    located = {instance["id"].lower(): provider.region(instance.get("location")) for instance in instances}
    groups, errors = InstanceGroups(), []
    scopes: dict[tuple[str, str], list[str]] = defaultdict(list)  # (resource group, location) -> instance ids
    for instance in instances:
        scopes[resource_group(instance["id"]), normalise_location(instance.get("location"))].append(instance["id"])
    for (group_name, location), members in sorted(scopes.items()):
        path = f"/subscriptions/{sub}/resourceGroups/{group_name}/providers/Microsoft.Sql/locations/{location}" \
               "/instanceFailoverGroups"
        try:
            for group in arm.list(path, SQL_VERSION):
                groups.add(provider, group, located)
        except Exception as exc:
            error, denied = describe_error(exc)
            errors.append((f"instance failover groups of {group_name} in {location}: {error}", denied))
            for member in members:
                groups.unknowns[member.lower()].append(f"instance failover groups could not be read: {error}")
    stores = [managed_instance_store(provider, sub, instance, groups) for instance in instances]
    raise_partial(stores, errors)
    return stores


def managed_instance_store(provider: AzureProvider, sub: str, instance: dict[str, Any],
                           groups: InstanceGroups | None = None) -> DiscoveredStore:
    """One managed instance (a ManagedInstances_List item): its location, its failover group partners (from
    `groups`, when read) and its backups (geo-redundant ones in the catalog's pair)."""
    groups = groups or InstanceGroups()
    key = instance["id"].lower()
    store = new_store(provider, sub, MI_KIND, instance)
    store.add_location(store.region, groups.own_role.get(key, "primary"), "ManagedInstance.location")
    for region, role, learned_from in groups.partners.get(key, []):
        store.add_location(region, role, learned_from)
    store.unknowns.extend(groups.unknowns.get(key, []))
    props = instance.get("properties") or {}
    redundancy = props.get("currentBackupStorageRedundancy") or props.get("requestedBackupStorageRedundancy") or ""
    add_geo_backup(provider, store, redundancy, MI_BACKUP_FIELD)
    return store


# -- SQL servers' failover groups ------------------------------------------------------------------------------
def add_server_failover_groups(provider: AzureProvider, server_id: str, stores: list[DiscoveredStore]) -> Errors:
    """FailoverGroups_ListByServer for one server whose user databases are `stores`: each group's partner servers'
    locations on every database of the group (a Secondary group makes the database itself a replica). A failed
    listing is returned and the stores keep an unknown."""
    if not stores:
        return []
    try:
        groups = provider.arm_json().list(f"{server_id}/failoverGroups", SQL_VERSION)
    except Exception as exc:
        error, denied = describe_error(exc)
        for store in stores:
            store.unknowns.append(f"failover groups could not be read: {error}")
        return [(f"server {server_id.rsplit('/', 1)[-1]} failover groups: {error}", denied)]
    by_id = {store.id.lower(): store for store in stores}
    for group in groups:
        props = group.get("properties") or {}
        members = [by_id[db.lower()] for db in props.get("databases") or [] if db.lower() in by_id]
        for store in members:
            if replication_role(props.get("replicationRole")) == "replica":
                store.locations = [replace(loc, role="replica") if loc.region == store.region else loc
                                   for loc in store.locations]
            for partner in props.get("partnerServers") or []:
                store.add_location(provider.region(partner.get("location")),
                                   replication_role(partner.get("replicationRole")),
                                   "FailoverGroup.properties.partnerServers.location")
    return []

