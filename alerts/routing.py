"""Which channels an alert goes to: the union of the channels of every route it matches."""

from __future__ import annotations

from alerts.config import Route
from alerts.model import Alert, severity_rank


def matches(alert: Alert, route: Route) -> bool:
    """All the conditions the route gives hold (none given: everything matches)."""
    if route.min_severity and severity_rank(alert.severity) < severity_rank(route.min_severity):
        return False
    if route.policies and not set(alert.policies) & set(route.policies):
        return False
    if route.accounts and not set(alert.accounts) & set(route.accounts):
        return False
    return not route.kinds or alert.kind in route.kinds


def channels_for(alert: Alert, routes: list[Route], channels: list[str]) -> list[str]:
    """The channels for `alert`, in config order; with no routes at all, every channel."""
    if not routes:
        return list(channels)
    chosen = {name for route in routes if matches(alert, route) for name in route.channels}
    return [name for name in channels if name in chosen]
