"""Answers read once per scan: several threads asking for the same key wait for one read."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class Once:
    """A thread-safe cache of reads: `get(key, read)` calls `read()` once per key, even when threads ask together.
    An exception `read` raises is kept and returned as the answer (a failed read is not retried within a scan)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[Hashable, Any] = {}
        self._reading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, read: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            reading = self._reading.setdefault(key, threading.Lock())
        with reading:
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            try:
                answer = read()
            except Exception as exc:  # denied, not found, a dead endpoint: the caller says unknown
                answer = exc
            with self._lock:
                self._answers[key] = answer
            return answer
