"""An alert as titled sections of plain text: the one content both Slack and e-mail render.

Everything here is masked (scanner.secrets.mask); the renderers escape it for their format.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.model import Alert
from scanner.secrets import mask

MAX_ITEMS = 12


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


def subject(alert: Alert) -> str:
    return mask(f"[Custody] [{alert.severity}] {alert.title}")


def facts_line(alert: Alert) -> str:
    """Severity, policies, store and account on one line."""
    parts = [f"Severity: {alert.severity}"]
    if alert.policies:
        parts.append(f"Policy: {', '.join(alert.policies)}")
    store = alert.store or {}
    if store:
        owner = f" of {store['owner']}" if store.get("owner") else ""
        parts.append(f"Store: {store.get('kind')} {store.get('name')} ({store.get('provider')} account "
                     f"{store.get('account')}{owner}, {store.get('region')})")
    elif alert.accounts:
        parts.append(f"Account: {', '.join(alert.accounts)}")
    return mask(" · ".join(parts))


def sections(alert: Alert) -> list[Section]:
    """What changed, where the copies are, who can compel access (the path and the law), items."""
    result = []
    if alert.changes:
        result.append(Section("What changed", _clip(alert.changes)))
    if alert.copies:
        copies = [f"{copy.get('country_name') or copy.get('country')}"
                  + (f", {copy['city']}" if copy.get("city") else "")
                  + f" — {copy.get('role')} ({copy.get('region')})" for copy in alert.copies]
        result.append(Section("Where the copies are", _clip(copies)))
    if alert.reach:
        reach = [f"{item.get('name') or item.get('jurisdiction')} ({item.get('jurisdiction')}), "
                 f"{_grounds(item)}, {_route(item)}: {item.get('path')}"
                 for item in alert.reach]
        result.append(Section("Who can compel access, and through which path", _clip(reach)))
    if alert.scope:
        result.append(Section("Why it is covered", list(alert.scope)))
    if alert.lines:
        result.append(Section("Details" if alert.kind != "summary" else "Stores", list(alert.lines)))
    if alert.next_steps:
        result.append(Section("What to do next", list(alert.next_steps)))
    return [Section(mask(section.title), [mask(line) for line in section.lines]) for section in result]


def footer(alert: Alert) -> str:
    scan = f"scan {alert.scan_id} · " if alert.scan_id else ""
    return mask(f"Custody · {scan}{alert.kind} · {alert.key}")


def _clip(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_ITEMS:
        return list(lines)
    return [*lines[:MAX_ITEMS], f"… and {len(lines) - MAX_ITEMS} more"]


def _grounds(item: dict) -> str:
    """The strongest ground, then the others beside it: `control + location`."""
    bases = [str(item.get("basis")), *[str(basis) for basis in item.get("grounds") or []]]
    return " + ".join(basis.replace("_", " ") for basis in bases)


def _route(item: dict) -> str:
    """How an order would travel: `direct`, `agreement`, `mutual legal assistance (not effective)`."""
    route = str(item.get("route") or "direct").replace("_", " ")
    route = route if item.get("effective", True) else f"{route} (not effective)"
    access = str(item.get("access") or "unknown").replace("_", " ")
    return f"{route}, {access}" if access != "unknown" else route
