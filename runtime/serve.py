"""`python agent.py serve [--config FILE]`: the dashboard alone, from the state store.

Listens on the config's `dashboard.host`/`dashboard.port` (default 127.0.0.1:8080). uvicorn's
own proxy-header handling is off: the dashboard reads X-Forwarded-* itself, and only from the
configured `trusted_proxies`, so no client can claim another address.
"""

from __future__ import annotations

import logging
import sys

from policies.catalog_loader import load_catalog
from runtime.config import default_config, load_config
from scanner.config import Config

log = logging.getLogger(__name__)


def load(config_path: str | None) -> Config:
    return load_config(config_path, load_catalog()) if config_path else default_config()


def uvicorn_options(host: str, port: int) -> dict:
    """The uvicorn settings the dashboard needs wherever it is served (the agent daemon uses them too)."""
    return {
        "host": host,
        "port": port,
        "proxy_headers": False,  # X-Forwarded-For is trusted only from dashboard.trusted_proxies
        "server_header": False,
        "date_header": True,
        "log_level": "warning",
        "access_log": False,
    }


def fill_derived_index(state_location: str) -> None:
    """The facet index of a database written before it existed, filled once (the dashboard itself only reads)."""
    from state.store import StateStore

    with StateStore(state_location) as state:
        state.rebuild_facets(only_if_missing=True)


def serve_dashboard(config_path: str | None) -> int:
    import uvicorn

    from dashboard.app import create_app
    from dashboard.settings import settings_from_config

    config = load(config_path)
    settings = settings_from_config(config)
    fill_derived_index(config.state)
    app = create_app(config, config.state)
    where = f"http://{settings.host if ':' not in settings.host else f'[{settings.host}]'}:{settings.port}/"
    print(f"Custody dashboard on {where} (state: {app.state.state_store.display}; sign-in: {settings.auth})",
          file=sys.stderr)
    uvicorn.run(app, **uvicorn_options(settings.host, settings.port))
    return 0
