"""Who holds the keys: the custody ladder, and what a compelled addressee could hand over.

A provider compelled to disclose data it can decrypt hands over plaintext; one that never holds the
key hands over ciphertext, unless it is made to capture the key or the data while the customer's key
is in use (EDPB Recommendations 01/2020 v2.0, 18 June 2021, Annex 2, use cases 1 and 6-7; CJEU
C-311/18 Schrems II). Each rung of the ladder, weakest first, names the provider documentation that
says who operates the key store. Providers read raw encryption settings and map them here, with the
pure functions `aws_custody`, `azure_custody` and `gcp_custody`; `access` says what each addressee of
an order could be made to hand over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNKNOWN = "unknown"
LADDER: tuple[str, ...] = (
    "provider_managed",
    "customer_managed_in_provider_kms",
    "customer_controlled_hsm_in_provider",
    "external_key_manager",
    "client_side",
)
ACCESS: tuple[str, ...] = ("plaintext", "plaintext_while_key_released", "ciphertext_only", UNKNOWN)


@dataclass(frozen=True)
class Rung:
    id: str
    meaning: str
    source: str  # the providers' documentation of who operates the key store


RUNGS: dict[str, Rung] = {rung.id: rung for rung in (
    Rung("provider_managed", "the provider creates, holds and uses the key (SSE-S3, Microsoft-managed keys, "
         "Google default encryption)",
         "docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html; "
         "learn.microsoft.com/azure/storage/common/storage-service-encryption; "
         "cloud.google.com/docs/security/encryption/default-encryption"),
    Rung("customer_managed_in_provider_kms", "the customer controls a key held and used by the provider's key "
         "service (AWS KMS customer managed key, Azure Key Vault, Cloud KMS software or HSM key)",
         "docs.aws.amazon.com/kms/latest/developerguide/concepts.html#customer-cmk; "
         "learn.microsoft.com/azure/storage/common/customer-managed-keys-overview; "
         "cloud.google.com/kms/docs/cmek"),
    Rung("customer_controlled_hsm_in_provider", "the key lives in a single-tenant HSM the customer controls, "
         "in the provider's data centre (AWS CloudHSM key store, Azure Managed HSM)",
         "docs.aws.amazon.com/kms/latest/developerguide/keystore-cloudhsm.html; "
         "learn.microsoft.com/azure/key-vault/managed-hsm/overview"),
    Rung("external_key_manager", "the key never leaves a key manager outside the provider; the provider can "
         "decrypt only while the customer's manager answers (AWS KMS external key store, Google Cloud EKM)",
         "docs.aws.amazon.com/kms/latest/developerguide/keystore-external.html; cloud.google.com/kms/docs/ekm"),
    Rung("client_side", "data is encrypted before it reaches the provider, which only ever holds ciphertext "
         "(declared by the customer, never inferred)",
         "EDPB Recommendations 01/2020 v2.0 (18 June 2021), Annex 2, use case 1"),
    Rung(UNKNOWN, "the encryption or its key could not be read", "—"),
)}


@dataclass(frozen=True)
class KeyFacts:
    """What a provider read about a store's encryption, mapped to a rung by the functions below."""

    custody: str
    learned_from: str
    scheme: str | None = None  # e.g. SSE-KMS, Microsoft.Keyvault, CMEK
    key: str | None = None  # key ARN, vault key URI or Cloud KMS key name
    key_region: str | None = None  # the key's region, in the provider's region ids
    key_store: str | None = None  # the external key store's endpoint host, or the HSM cluster
    replica_regions: tuple[str, ...] = ()  # a multi-region key's replicas: copies of the key material
    reason: str | None = None  # why the custody is unknown


@dataclass
class Encryption:
    """A store's encryption as reported (the JSON contract's `encryption`)."""

    custody: str
    learned_from: str
    scheme: str | None = None
    key: str | None = None
    key_region: str | None = None
    key_country: str | None = None  # where the key store is (the region's country, or a declared key store's)
    key_operator: str | None = None  # entity id of who operates the key store
    key_store: str | None = None
    replica_regions: list[str] = field(default_factory=list)
    declared: bool = False  # client-side encryption the customer declared
    source: str = ""  # the rung's documentation
    reason: str | None = None


def aws_custody(sse: str | None, key_manager: str | None, origin: str | None) -> str:
    """S3 default encryption, DynamoDB SSE or a KMS key's `KeyManager`/`Origin` to a rung.
    sse: AES256 | aws:kms | aws:kms:dsse (None: not read); key_manager: AWS | CUSTOMER; origin: AWS_KMS | EXTERNAL |
    AWS_CLOUDHSM | EXTERNAL_KEY_STORE (docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html)."""
    if sse is None:
        return UNKNOWN
    if sse == "AES256":
        return "provider_managed"
    if key_manager == "AWS":
        return "provider_managed"
    if key_manager != "CUSTOMER":
        return UNKNOWN
    return {"AWS_KMS": "customer_managed_in_provider_kms", "EXTERNAL": "customer_managed_in_provider_kms",
            "AWS_CLOUDHSM": "customer_controlled_hsm_in_provider",
            "EXTERNAL_KEY_STORE": "external_key_manager"}.get(origin or "", UNKNOWN)


def azure_custody(key_source: str | None, key_vault_uri: str | None) -> str:
    """A storage account's `encryption.keySource` (Microsoft.Storage | Microsoft.Keyvault) and vault URI to a rung:
    a Managed HSM has a `*.managedhsm.azure.net` URI."""
    if key_source == "Microsoft.Storage":
        return "provider_managed"
    if key_source == "Microsoft.Keyvault":
        if key_vault_uri and ".managedhsm." in key_vault_uri:
            return "customer_controlled_hsm_in_provider"
        return "customer_managed_in_provider_kms"
    return UNKNOWN


def gcp_custody(kms_key: str | None, protection_level: str | None, read: bool = True) -> str:
    """A bucket's or dataset's default Cloud KMS key and the key's protection level to a rung (SOFTWARE, HSM:
    Google's key service; EXTERNAL, EXTERNAL_VPC: Cloud EKM). No key: Google default encryption."""
    if not read:
        return UNKNOWN
    if not kms_key:
        return "provider_managed"
    return {"SOFTWARE": "customer_managed_in_provider_kms", "HSM": "customer_managed_in_provider_kms",
            "EXTERNAL": "external_key_manager", "EXTERNAL_VPC": "external_key_manager"}.get(protection_level or "",
                                                                                            UNKNOWN)


def access(custody: str, chain: str | None, addressee_controls_key: bool, key_on_soil: bool) -> str:
    """What an order's addressee could be made to hand over.

    chain: the addressee's chain (None: a copy on the soil, taken by the state itself); addressee_controls_key:
    the addressee (or its group) operates the key store; key_on_soil: the key store is on the state's soil."""
    if custody == UNKNOWN:
        return UNKNOWN
    if chain == "owner" or addressee_controls_key:
        return "plaintext"  # the customer holds its own keys; so does whoever runs the key store
    if custody in ("provider_managed", "customer_managed_in_provider_kms"):
        return "plaintext"
    if custody == "client_side":
        return "ciphertext_only"
    return "plaintext" if chain is None and key_on_soil else "plaintext_while_key_released"


def encryption_of(facts: KeyFacts, declared_client_side: bool = False) -> Encryption:
    """The store's Encryption from what its provider read (country and operator are the tagger's)."""
    custody = "client_side" if declared_client_side else facts.custody
    return Encryption(
        custody=custody, learned_from="declared by the customer (tag or config)" if declared_client_side
        else facts.learned_from, scheme=facts.scheme, key=facts.key, key_region=facts.key_region,
        key_store=facts.key_store, replica_regions=list(facts.replica_regions), declared=declared_client_side,
        source=RUNGS[custody].source, reason=None if declared_client_side else facts.reason,
    )
