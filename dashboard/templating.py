"""The templates' globals and filters: URLs with a changed query, names of countries and accounts, times."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates

from dashboard.context import VERSION
from dashboard.queries import STATUSES, parse_time
from scanner.catalog import Catalog, country_name


def install(templates: Jinja2Templates, catalog: Catalog, accounts: dict[str, str]) -> None:
    """Add the helpers every template may call; `accounts` maps account ids to their configured names."""
    env = templates.env

    def url_with(request: Request, path: str | None = None, drop: tuple[str, ...] = (), **changes: Any) -> str:
        """The current URL's query with some parameters changed (None removes them)."""
        items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and k not in drop]
        for key, value in changes.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                items += [(key, str(v)) for v in value]
            else:
                items.append((key, str(value)))
        query = urlencode(items)
        return (path or request.url.path) + (f"?{query}" if query else "")

    def jurisdiction_name(code: str) -> str:
        return catalog.jurisdiction_name(code) if code else ""

    def account_label(account: str) -> str:
        name = accounts.get(account)
        return f"{name} ({account})" if name else account

    def entity_name(entity_id: str | None) -> str:
        """A catalog entity's name (its id when the catalog does not know it)."""
        entity = catalog.entities.get(entity_id or "")
        return entity.name if entity else (entity_id or "")

    laws = {law.id: law.name for law in catalog.laws}

    def law_name(law_id: str | None) -> str:
        return laws.get(law_id or "", law_id or "")

    def when(text: str | None) -> str:
        value = parse_time(text)
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else (text or "")

    env.globals.update(
        url_with=url_with, country_name=country_name, jurisdiction_name=jurisdiction_name,
        account_label=account_label, entity_name=entity_name, law_name=law_name, when=when, statuses=STATUSES,
        version=VERSION,
        store_href=lambda store_id: "/store?" + urlencode({"id": store_id}),
    )
    env.filters["label"] = lambda text: str(text or "").replace("_", " ")
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) else value
