"""Who holds an Azure store's keys, mapped by scanner/custody.py (`azure_custody`).

What each listing says: a storage account's `encryption.keySource` (Microsoft.Storage | Microsoft.Keyvault),
`keyvaultproperties.keyvaulturi` and `requireInfrastructureEncryption`; a Cosmos DB account's `keyVaultKeyUri`
(absent: service-managed keys); a disk's or snapshot's `encryption.type` and `diskEncryptionSetId`, whose set's
active key URL is read once per set (DiskEncryptionSets_Get); a SQL server's TDE protector (EncryptionProtectors_Get
`current`, once per server: ServiceManaged or an AzureKeyVault key URI). A Key Vault or Managed HSM
(`*.managedhsm.azure.net`) key's region is its vault's location, from one Resources_List of the subscription's key
vaults and managed HSMs, made only when a store names such a key. A read that fails gives `unknown` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from azure.core.rest import HttpRequest

from providers.errors import describe_error
from providers.once import Once
from scanner.custody import UNKNOWN, KeyFacts, azure_custody

PROVIDER_KEYS = "Microsoft.Storage"  # azure_custody's word for keys the service manages
CUSTOMER_KEYS = "Microsoft.Keyvault"
VAULT_TYPES = ("microsoft.keyvault/vaults", "microsoft.keyvault/managedhsms")
RESOURCES_API = "2021-04-01"
VAULT_FILTER = " or ".join(f"resourceType eq '{t}'" for t in ("Microsoft.KeyVault/vaults",
                                                             "Microsoft.KeyVault/managedHSMs"))


class KeyReader:
    """The key reads of one Azure scan, each disk encryption set, SQL server and subscription's vault list once.

    `client(cls, sub)` gives an SDK client (the provider's, with its credential and policies)."""

    def __init__(self, client: Callable[..., Any], region: Callable[[str | None], str]):
        self._client = client
        self._region = region
        self._reads = Once()

    # -- per kind ---------------------------------------------------------------------------------
    def storage(self, sub: str, props: Any) -> KeyFacts:
        encryption = _get(props, "encryption")
        if encryption is None:
            return KeyFacts(UNKNOWN, "StorageAccount.encryption", reason="the listing gives no encryption")
        source = enum_text(_get(encryption, "key_source"))
        vault = _get(_get(encryption, "key_vault_properties"), "key_vault_uri")
        scheme = source + (" with infrastructure encryption" if _get(encryption, "require_infrastructure_encryption")
                           else "")
        learned = "StorageAccount.encryption.keySource" + (".keyvaultproperties.keyvaulturi" if vault else "")
        return self._vault_key(sub, source or None, vault, learned, scheme)

    def cosmos(self, sub: str, props: Any) -> KeyFacts:
        uri = _get(props, "key_vault_key_uri")
        if not uri:
            return KeyFacts(azure_custody(PROVIDER_KEYS, None), "DatabaseAccount.keyVaultKeyUri (none: "
                            "service-managed keys)", "service-managed keys")
        return self._vault_key(sub, CUSTOMER_KEYS, uri, "DatabaseAccount.keyVaultKeyUri", "customer-managed key")

    def disk(self, sub: str, resource: Any, what: str) -> KeyFacts:
        encryption = _get(_get(resource, "properties"), "encryption") or _get(resource, "encryption")
        kind = enum_text(_get(encryption, "type"))
        set_id = _get(encryption, "disk_encryption_set_id")
        if kind == "EncryptionAtRestWithPlatformKey" and not set_id:
            return KeyFacts(azure_custody(PROVIDER_KEYS, None), f"{what}.encryption.type", "platform-managed key")
        if not set_id:
            return KeyFacts(UNKNOWN, f"{what}.encryption.type", kind or None,
                            reason=f"encryption type {kind or 'not reported'} without a disk encryption set")
        key_url = self._reads.get(("des", set_id.lower()), lambda: self._encryption_set_key(sub, set_id))
        if isinstance(key_url, Exception):
            return KeyFacts(UNKNOWN, "DiskEncryptionSets_Get", kind, reason=f"DiskEncryptionSets_Get: "
                            f"{describe_error(key_url)[0]}")
        return self._vault_key(sub, CUSTOMER_KEYS, key_url, f"{what}.encryption.diskEncryptionSetId; "
                               "DiskEncryptionSets_Get activeKey.keyUrl", kind)

    def sql(self, sub: str, client: Any, group: str, server: str) -> KeyFacts:
        protector = self._reads.get(("tde", sub, group.lower(), server.lower()),
                               lambda: client.encryption_protectors.get(group, server, "current"))
        if isinstance(protector, Exception):
            return KeyFacts(UNKNOWN, "EncryptionProtectors_Get", "TDE",
                            reason=f"EncryptionProtectors_Get: {describe_error(protector)[0]}")
        props = _get(protector, "properties") or protector
        kind = enum_text(_get(props, "server_key_type"))
        learned = "EncryptionProtectors_Get (TDE protector) serverKeyType"
        if kind == "ServiceManaged":
            return KeyFacts(azure_custody(PROVIDER_KEYS, None), learned, "TDE, service-managed key")
        if kind != "AzureKeyVault":
            return KeyFacts(UNKNOWN, learned, "TDE", reason=f"TDE protector type {kind or 'not reported'}")
        return self._vault_key(sub, CUSTOMER_KEYS, _get(props, "uri"), f"{learned}, uri", "TDE, customer-managed key")

    # -- the key and its vault ----------------------------------------------------------------------
    def _vault_key(self, sub: str, source: str | None, uri: str | None, learned: str, scheme: str) -> KeyFacts:
        custody = azure_custody(source, uri)
        if custody == UNKNOWN:
            return KeyFacts(UNKNOWN, learned, scheme or None, uri,
                            reason=f"key source {source or 'not reported'}" + ("" if uri or not source else
                                                                               " without a vault URI"))
        if not uri:
            return KeyFacts(custody, learned, scheme, None)
        vaults = self._reads.get(("vaults", sub), lambda: self._vaults(sub))
        host = (urlsplit(uri).hostname or "").lower()
        if isinstance(vaults, Exception):
            return KeyFacts(custody, learned, scheme, uri, reason=f"the key vault's location is unknown: "
                            f"Resources_List failed ({describe_error(vaults)[0]})")
        region = vaults.get(host)
        if region is None:
            return KeyFacts(custody, learned, scheme, uri,
                            reason=f"key vault {host} is not in subscription {sub}: its location is unknown")
        return KeyFacts(custody, f"{learned}; Resources_List (the vault's location)", scheme, uri, region)

    def _vaults(self, sub: str) -> dict[str, str]:
        """Host name -> location of every key vault and managed HSM of the subscription (one listing, paged)."""
        from azure.mgmt.compute import ComputeManagementClient

        client = self._client(ComputeManagementClient, sub)
        url: str | None = (f"/subscriptions/{sub}/resources?$filter={VAULT_FILTER}&api-version={RESOURCES_API}")
        found: dict[str, str] = {}
        while url:
            response = client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
            for item in body.get("value", []):
                kind = str(item.get("type", "")).lower()
                if kind in VAULT_TYPES:
                    suffix = "managedhsm" if kind.endswith("managedhsms") else "vault"
                    found[f"{item['name'].lower()}.{suffix}.azure.net"] = self._region(item.get("location"))
            url = body.get("nextLink")
        return found

    def _encryption_set_key(self, sub: str, set_id: str) -> str:
        from azure.mgmt.compute import ComputeManagementClient

        parts = set_id.split("/")
        lowered = [part.lower() for part in parts]
        group, name = parts[lowered.index("resourcegroups") + 1], parts[-1]
        found = self._client(ComputeManagementClient, sub).disk_encryption_sets.get(group, name)
        active = _get(_get(found, "properties"), "active_key") or _get(found, "active_key")
        key_url = _get(active, "key_url")
        if not key_url:
            raise ValueError(f"disk encryption set {name} reports no active key")
        return key_url

def enum_text(value: Any) -> str:
    """The wire value of an SDK enum or string ("Standard_GRS", not "SkuName.STANDARD_GRS")."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _get(value: Any, name: str) -> Any:
    return getattr(value, name, None) if value is not None else None
