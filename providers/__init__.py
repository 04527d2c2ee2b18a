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


def provider_kind(section_name: str) -> str:
    """The provider a config section is for: `azure`, or `azure/bleu` for a second Azure section
    (say a partner cloud beside the public one)."""
    return section_name.split("/", 1)[0]


def provider_class(section_name: str) -> type[Provider]:
    module_name, class_name = PROVIDERS[provider_kind(section_name)].split(":")
    return getattr(importlib.import_module(module_name), class_name)
