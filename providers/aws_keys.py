"""Who holds an AWS store's keys: a store's encryption setting and its KMS key, mapped by scanner/custody.py.

A reader passes what its own listing says (S3's SSE algorithm and key, DynamoDB's `SSEDescription`, RDS's and EBS's
`KmsKeyId`, a Backup vault's `EncryptionKeyArn`); `KeyReader` reads each KMS key it names once per scan (DescribeKey,
cached per account and region) and each region's custom key stores once (DescribeCustomKeyStores, only when a key is
in one). A denied or failed read gives `unknown` with the reason, never a better rung; the store still scans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.errors import describe_error
from providers.once import Once
from scanner.custody import UNKNOWN, KeyFacts, aws_custody

if TYPE_CHECKING:
    from providers.aws import AccountScan

DESCRIBE_KEY = "kms:DescribeKey"
SERVICE_KEY = "AES256"  # aws_custody's word for a key the service itself owns and uses (SSE-S3, AWS owned keys)


def service_owned(scheme: str, learned_from: str, region: str | None = None) -> KeyFacts:
    """Encryption with a key the AWS service owns (SSE-S3, DynamoDB's AWS owned key): the provider's rung."""
    return KeyFacts(aws_custody(SERVICE_KEY, None, None), learned_from, scheme, key_region=region)


def not_encrypted(learned_from: str, region: str | None = None) -> KeyFacts:
    """Storage not encrypted at rest: the provider holds plaintext, as with its own key."""
    return service_owned("none (not encrypted at rest)", learned_from, region)


class KeyReader:
    """The KMS keys of one account's scan: DescribeKey once per key and region, DescribeCustomKeyStores once per
    region. Thread-safe: readers of several regions and services share it."""

    def __init__(self, scan: AccountScan):
        self.scan = scan
        self._reads = Once()  # ("key", region, key) -> KeyMetadata; ("stores", region) -> {id: store}; or the error

    def facts(self, sse: str, key: str | None, region: str, learned_from: str) -> KeyFacts:
        """A KMS-encrypted store's facts: `sse` its scheme (aws:kms, aws:kms:dsse, KMS), `key` the key id, ARN or
        alias its setting names (None: the service's AWS managed key, whose id the setting does not give)."""
        if not key:
            return KeyFacts(aws_custody(sse, "AWS", None), learned_from, sse, key_region=region)
        key_region = _arn_region(key) or region
        metadata = self._describe(key_region, key)
        if isinstance(metadata, str):
            return KeyFacts(UNKNOWN, DESCRIBE_KEY, sse, key, key_region, reason=f"{DESCRIBE_KEY}: {metadata}")
        arn = metadata.get("Arn", key)
        custody = aws_custody(sse, metadata.get("KeyManager"), metadata.get("Origin"))
        replicas = _other_regions(metadata.get("MultiRegionConfiguration") or {}, key_region)
        learned = f"{learned_from}; {DESCRIBE_KEY} (KeyManager {metadata.get('KeyManager')}, " \
                  f"Origin {metadata.get('Origin')})"
        store_id = metadata.get("CustomKeyStoreId")
        if not store_id:
            return KeyFacts(custody, learned, sse, arn, key_region, replica_regions=replicas)
        return self._in_key_store(custody, learned, sse, arn, key_region, replicas, store_id)

    def storage(self, encrypted: bool, key: str | None, region: str, learned_from: str) -> KeyFacts:
        """A store whose listing says whether it is encrypted and with which KMS key (RDS, EBS)."""
        if not encrypted:
            return not_encrypted(learned_from, region)
        return self.facts("KMS", key, region, learned_from)

    def _in_key_store(self, custody: str, learned: str, sse: str, arn: str, region: str, replicas: tuple[str, ...],
                      store_id: str) -> KeyFacts:
        """A key in a custom key store: the store's type, and for an external key store its proxy's endpoint."""
        stores = self._custom_key_stores(region)
        store = stores.get(store_id) if isinstance(stores, dict) else None
        if store is None:
            why = stores if isinstance(stores, str) else f"custom key store {store_id} not listed"
            return KeyFacts(UNKNOWN, "kms:DescribeCustomKeyStores", sse, arn, region, replica_regions=replicas,
                            reason=f"kms:DescribeCustomKeyStores: {why}")
        kind = store.get("CustomKeyStoreType", "AWS_CLOUDHSM")
        learned = f"{learned}; kms:DescribeCustomKeyStores ({kind} {store_id})"
        if kind != "EXTERNAL_KEY_STORE":  # CloudHSM: the customer's HSM cluster in the key's own region
            return KeyFacts(custody, learned, sse, arn, region, replica_regions=replicas)
        endpoint = (store.get("XksProxyConfiguration") or {}).get("UriEndpoint")
        if not endpoint:
            return KeyFacts(UNKNOWN, learned, sse, arn, region, replica_regions=replicas,
                            reason=f"external key store {store_id}: no proxy endpoint (a VPC endpoint service proxy)")
        return KeyFacts(custody, learned, sse, arn, region, key_store=endpoint, replica_regions=replicas)

    def _describe(self, region: str, key: str) -> dict[str, Any] | str:
        def read() -> dict[str, Any]:
            with self.scan.slot("kms"):
                return self.scan.client("kms", region).describe_key(KeyId=key)["KeyMetadata"]
        return _or_error(self._reads.get(("key", region, key), read))

    def _custom_key_stores(self, region: str) -> dict[str, dict[str, Any]] | str:
        def read() -> dict[str, dict[str, Any]]:
            with self.scan.slot("kms"):
                pages = self.scan.client("kms", region).get_paginator("describe_custom_key_stores").paginate()
                return {store["CustomKeyStoreId"]: store for page in pages for store in page["CustomKeyStores"]}
        return _or_error(self._reads.get(("stores", region), read))

def _or_error(answer: Any) -> Any:
    """An answer, or the one-line description of the error that stood in for it."""
    return describe_error(answer)[0] if isinstance(answer, Exception) else answer


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def _other_regions(config: dict[str, Any], region: str) -> tuple[str, ...]:
    """A multi-region key's related keys (its primary and replicas) in regions other than this key's own."""
    regions = [(config.get("PrimaryKey") or {}).get("Region"),
               *(replica.get("Region") for replica in config.get("ReplicaKeys") or [])]
    return tuple(dict.fromkeys(r for r in regions if r and r != region))
