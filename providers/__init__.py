"""Cloud providers: one module per cloud, all implementing `providers.base.Provider`.

To add a cloud: write `providers/<name>.py` with a `Provider` subclass and name it here.
"""

from __future__ import annotations

import importlib

from providers.base import Provider

# config section name -> "module:Class"; imported only when the config enables it
PROVIDERS: dict[str, str] = {
    "aws": "providers.aws:AwsProvider",
    "azure": "providers.azure:AzureProvider",
    "gcp": "providers.gcp:GcpProvider",
}


def provider_class(name: str) -> type[Provider]:
    module_name, class_name = PROVIDERS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
