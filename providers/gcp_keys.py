"""Who holds a Google Cloud store's keys: its default Cloud KMS key's protection level and location, mapped by
scanner/custody.py (`gcp_custody`).

A bucket's `encryption.defaultKmsKeyName` or a dataset's `defaultEncryptionConfiguration.kmsKeyName` names a key
`projects/P/locations/L/keyRings/R/cryptoKeys/K`; its location L is the key's region. cryptoKeys.get is called
once per key per scan for `primary.protectionLevel` (SOFTWARE, HSM, EXTERNAL, EXTERNAL_VPC); a Cloud EKM key's
external key manager is the host of `primary.externalProtectionLevelOptions.externalKeyUri` (EXTERNAL) or of its
EKM connection's `serviceResolvers[].hostname` (EXTERNAL_VPC, ekmConnections.get once per connection). A key that
cannot be read gives `unknown` with the reason, never a better rung.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from providers.once import Once
from scanner.custody import UNKNOWN, KeyFacts, gcp_custody

KMS_API = "https://cloudkms.googleapis.com"
KEY_READ = "cloudkms.cryptoKeys.get"


class KeyReader:
    """Cloud KMS reads of one scan, each key and EKM connection once. Thread-safe."""

    def __init__(self, credentials: Callable[[], Credentials], endpoint: str | None, timeout: int):
        self._credentials = credentials
        self._endpoint = (endpoint or KMS_API).rstrip("/")
        self._timeout = timeout
        self._lock = threading.Lock()
        self._reads = Once()  # resource name -> its JSON, or why it was not read
        self._session: AuthorizedSession | None = None

    def facts(self, kms_key: str | None, learned_from: str) -> KeyFacts:
        """The custody of a store whose default key is `kms_key` (None: Google default encryption)."""
        if not kms_key:
            return KeyFacts(gcp_custody(None, None), f"{learned_from} (none: Google default encryption)",
                            "Google default encryption")
        region = _location(kms_key)
        key = self._get(kms_key)
        if isinstance(key, str):
            return KeyFacts(UNKNOWN, KEY_READ, "CMEK", kms_key, region, reason=f"{KEY_READ}: {key}")
        primary = key.get("primary") or {}
        level = primary.get("protectionLevel") or (key.get("versionTemplate") or {}).get("protectionLevel")
        custody = gcp_custody(kms_key, level)
        learned = f"{learned_from}; {KEY_READ} (protectionLevel {level})"
        if level not in ("EXTERNAL", "EXTERNAL_VPC"):
            return KeyFacts(custody, learned, "CMEK", kms_key, region)
        host, why = self._key_manager(key, primary)
        if host is None:
            return KeyFacts(UNKNOWN, learned, "Cloud EKM", kms_key, region, reason=why)
        return KeyFacts(custody, learned, "Cloud EKM", kms_key, region, key_store=host)

    def _key_manager(self, key: dict[str, Any], primary: dict[str, Any]) -> tuple[str | None, str]:
        """The external key manager's URI or host, or None and why not."""
        uri = (primary.get("externalProtectionLevelOptions") or {}).get("externalKeyUri")
        if uri:
            return uri, ""
        connection_name = key.get("cryptoKeyBackend")
        if not connection_name:
            return None, "Cloud EKM key without externalKeyUri or EKM connection: its key manager is unknown"
        connection = self._get(connection_name)
        if isinstance(connection, str):
            return None, f"cloudkms.ekmConnections.get: {connection}"
        hosts = [r.get("hostname") for r in connection.get("serviceResolvers") or [] if r.get("hostname")]
        return (hosts[0], "") if hosts else (None, f"EKM connection {connection_name} names no hostname")

    def _get(self, name: str) -> dict[str, Any] | str:
        def read() -> dict[str, Any] | str:
            response = self._authorized().get(f"{self._endpoint}/v1/{name}", timeout=self._timeout)
            return response.json() if response.status_code == 200 else \
                f"HTTP {response.status_code} {_message(response)}"
        answer = self._reads.get(name, read)  # credentials, connection, a body that is not JSON: not read
        return f"{type(answer).__name__}: {answer}" if isinstance(answer, Exception) else answer

    def _authorized(self) -> AuthorizedSession:
        with self._lock:
            if self._session is None:
                self._session = AuthorizedSession(self._credentials())
            return self._session


def _location(name: str) -> str | None:
    parts = name.split("/")
    return parts[3].lower() if len(parts) > 3 and parts[2] == "locations" else None


def _message(response: Any) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except ValueError:
        return ""
