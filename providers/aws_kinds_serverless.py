"""The reader of Redshift Serverless namespaces (scanner/kinds.py `redshift-serverless-namespace`).

A namespace holds the data of Redshift Serverless (its workgroups only compute). Each of its snapshot copy
configurations (ListSnapshotCopyConfigurations) copies its snapshots and recovery points to `destinationRegion`: a
`backup` location there. Its key is `kmsKeyId`: a customer managed KMS key, or `AWS_OWNED_KMS_KEY` (what the API
answers for the service's default key). Nothing is called in a region where botocore's endpoint data does not offer
Redshift Serverless (no namespace can be there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.aws_keys import service_owned
from providers.aws_kinds import listing, read_all, reader
from providers.aws_kinds_cache import offered
from scanner.custody import UNKNOWN, KeyFacts
from scanner.discovered import DiscoveredStore
from scanner.kinds import kind

if TYPE_CHECKING:
    from providers.aws import AccountScan

AWS_OWNED_KMS_KEY = "AWS_OWNED_KMS_KEY"  # a namespace's kmsKeyId for the service's default key
KEY_FIELD = "ListNamespaces.kmsKeyId"


@reader("redshift-serverless")
def redshift_serverless_namespaces(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    """Each namespace with its snapshot copies' regions. The region's copy configurations are listed once (without
    namespaceName: every configuration of the account in the region), and only where it has namespaces."""
    spec = kind("redshift-serverless-namespace")
    if not offered(spec.api, region):
        return []
    namespaces = list(listing(scan, spec, region))
    if not namespaces:
        return []
    destinations: dict[str, set[str]] = {}
    for config in read_all(scan, spec.api, "ListSnapshotCopyConfigurations", "snapshotCopyConfigurations", region):
        destinations.setdefault(config["namespaceName"], set()).add(config["destinationRegion"])
    client = scan.client(spec.api, region)
    stores = []
    for namespace in namespaces:
        arn, name = namespace["namespaceArn"], namespace["namespaceName"]
        tags = {tag["key"]: tag["value"] for tag in client.list_tags_for_resource(resourceArn=arn).get("tags", [])}
        store = scan.store(arn, spec.kind, name, region, tags)
        store.encryption = _namespace_key(scan, namespace.get("kmsKeyId"), region)
        store.add_location(region, "primary", spec.copies[0].learned_from)
        for destination in sorted(destinations.get(name, ())):
            store.add_location(destination, "backup", spec.copies[1].learned_from)
        stores.append(store)
    return stores


def _namespace_key(scan: AccountScan, key: str | None, region: str) -> KeyFacts:
    """The service's own key, a KMS key (described once per scan), or unknown when the listing names none."""
    if key == AWS_OWNED_KMS_KEY:
        return service_owned("AWS owned key", f"{KEY_FIELD} ({AWS_OWNED_KMS_KEY})", region)
    if not key:
        return KeyFacts(UNKNOWN, KEY_FIELD, reason=f"{KEY_FIELD}: not given")
    return scan.keys.facts("KMS", key, region, KEY_FIELD)
