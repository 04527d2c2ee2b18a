"""Cloud change events as hints: what a queue message names, and the re-read of just that store.

An event is never taken as a fact about a store. Each cloud's module (aws_events.py, azure_events.py,
gcp_events.py) turns one queue message into a `Hint` — which account, region, config service and store
it names, and when it happened — or raises `MalformedEvent` with one line saying what is wrong. `reread`
then reads that one service of that one account (and region) through the provider's own read path,
with a copy of the provider narrowed to it, and says whether the read was whole:

- the named store was found: it is judged and recorded like any scan's store;
- the read was whole (every target ok) and the store is not there: it is confirmed gone;
- the read failed or was partial: nothing is concluded about a store it did not return.

Reading is read-only, as every provider is. The queues themselves are read by `EventSource`s, which only
receive and delete (acknowledge) messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from providers.base import Provider, TargetLog
from scanner.discovered import DiscoveredStore
from scanner.kinds import kinds_of
from scanner.model import TargetResult

WRITE, DELETE = "write", "delete"


class MalformedEvent(ValueError):
    """A message that is not an event of the expected shape; str() is the one-line reason."""


class OutOfScope(ValueError):
    """A well-formed event about something the config does not scan (a service, account or region left out)."""


@dataclass(frozen=True)
class Hint:
    """What one event names. `name` (or `store_id`, where the event gives the provider's own id) picks the
    store among those the re-read returns; both None: every store the re-read returns (a backup plan's
    change reaches the copies of every store its selections cover)."""

    provider: str  # "aws", "azure", "gcp"
    account: str  # the unit the provider scans: AWS account, Azure subscription, GCP project
    region: str  # the region of the call ("*" where the service is not regional)
    service: str  # the provider's config service (scanner/kinds.py)
    event_id: str
    event_time: str  # ISO 8601, UTC, as the cloud stamped it
    action: str  # WRITE or DELETE
    operation: str  # the cloud's name for what happened, e.g. "s3:DeleteBucket"
    name: str | None = None
    store_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """One store (or one region's service): duplicates and order are judged per key."""
        return self.provider, self.account, self.region, self.service, (self.store_id or self.name or "*").lower()

    def matches(self, store: DiscoveredStore) -> bool:
        if store.kind not in kinds_for(self.provider, self.service):
            return False
        if self.store_id is not None:
            return store.id.lower() == self.store_id.lower()
        if self.name is None:
            return True
        # a name, or the last part of the store's id (an EFS file system named by a Name tag, found by its id)
        return store.name == self.name or store.id.endswith((f"/{self.name}", f":{self.name}"))


def kinds_for(provider: str, service: str) -> set[str]:
    """The kinds one config service reads ("*": every kind of the provider)."""
    return {spec.kind for spec in kinds_of(provider) if service in ("*", spec.service)}


@dataclass
class Reread:
    """What re-reading one hint's service told."""

    hint: Hint
    stores: list[DiscoveredStore] = field(default_factory=list)  # the stores the hint names, as read now
    targets: list[TargetResult] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        """Every target of the re-read answered in full: an absence is then a fact."""
        return bool(self.targets) and all(target.status == "ok" for target in self.targets)

    @property
    def confirmed_gone(self) -> bool:
        """The named store is not there, and the read that says so was whole."""
        named = self.hint.name is not None or self.hint.store_id is not None
        return named and self.whole and not self.stores


# a copy of the provider that reads only the hint's service, and the units it reads it in (the hint's account, or
# the organization scope a Cloud Asset search runs over); OutOfScope when the config does not scan what it names
Narrow = Callable[[Provider, Hint], tuple[Provider, list[str]]]


def reread(provider: Provider, hint: Hint, narrow: Narrow) -> Reread:
    """Read the hint's service in the hint's account (and region) with the provider's own read path."""
    log = TargetLog()
    narrowed, units = narrow(provider, hint)
    found = [store for unit in units for store in narrowed.discover_unit(unit, log)]
    return Reread(hint, [store for store in found if hint.matches(store)], list(log.results))


@dataclass
class Message:
    """One queue message: its body, and what the source needs to delete it."""

    body: Any
    receipt: Any
    source: str  # the queue, for log lines


class EventSource(Protocol):
    """A queue of change events: long-poll for messages, delete the handled ones."""

    name: str

    def receive(self) -> list[Message]: ...

    def delete(self, messages: Iterable[Message]) -> None: ...

    def parse(self, message: Message) -> Hint: ...

    def narrow(self, provider: Provider, hint: Hint) -> tuple[Provider, list[str]]: ...


class QueueSource:
    """What every cloud's queue source shares: its events are parsed, and the provider narrowed to the store an
    event names, by the cloud's own module functions, which the subclass names (`parse_body`, `narrow_to`)."""

    parse_body: Callable[[Any], Hint]
    narrow_to: Callable[[Provider, Hint], tuple[Provider, list[str]]]

    def parse(self, message: Message) -> Hint:
        return self.parse_body(message.body)

    def narrow(self, provider: Provider, hint: Hint) -> tuple[Provider, list[str]]:
        return self.narrow_to(provider, hint)


def event_time(value: Any, where: str) -> str:
    """An ISO 8601 time with a zone (as every cloud stamps its events), or MalformedEvent."""
    text = str(value or "")
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"{where}: expected an ISO 8601 time, got {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise MalformedEvent(f"{where}: expected a time with a zone (Z or an offset), got {text[:40]!r}")
    return text


def require(data: Any, *path: str) -> Any:
    """data[path[0]][path[1]]…, or MalformedEvent naming the missing key."""
    value = data
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise MalformedEvent(f"missing {'.'.join(path[:depth + 1])}")
        value = value[key]
    return value
