"""Tests that need a system tool (PostgreSQL, the container tools, Chromium, hadolint).

Without the tool, such a test is skipped on a developer machine, naming how to install it, and
FAILS in CI (CI=true): there a skipped test would pass for coverage it does not give.
"""

from __future__ import annotations

import os

import pytest


def require(problem: str | None) -> None:
    """Nothing when the test's tool is there (`problem` None); else skip, or fail under CI=true."""
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {problem}", pytrace=False)
    pytest.skip(problem)
