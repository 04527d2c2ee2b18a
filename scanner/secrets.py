"""Secrets (webhook URL, bot token, SMTP password) from environment variables or files, and masking.

The config names where a secret is, never the secret itself:

    webhook_url_env: CUSTODY_SLACK_WEBHOOK      # an environment variable, or
    webhook_url_file: /run/secrets/slack        # a file (trailing newline stripped)

Every secret read is registered with `mask`, which the JSON log formatter, the outbox's error
column and the alert renderers all apply, so a secret that leaks into an exception message
(a URL in a connection error, say) is still never written anywhere.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError
from scanner.yamlfile import Node

MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()

# Secrets we may never have been told about, recognised by their shape.
_PATTERNS = (
    (re.compile(r"(hooks\.slack(?:-gov)?\.com/services/)[^\s\"'<>]+"), r"\1" + MASK),
    (re.compile(r"\bxox[abposr]-[0-9A-Za-z-]+"), MASK),
    (re.compile(r"(://[^:/@\s]*:)[^@\s/]+@"), r"\1" + MASK + "@"),  # user:password@host
)


def register_secret(value: str) -> None:
    """Remember a secret value so that `mask` hides it (values shorter than 4 characters are not
    registered: masking them would shred ordinary text, and they are no secret worth the name)."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def mask(text: str) -> str:
    """`text` with every registered secret and every secret-shaped token replaced by ***."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is: an environment variable or a file. `setting` names the config key."""

    setting: str
    env: str | None = None
    file: str | None = None
    where: str = ""  # "file:line" of the config key, for errors

    def read(self) -> str:
        """The secret's value (registered for masking); InputError naming the place, never the value."""
        if self.env:
            value = os.environ.get(self.env, "")
            if not value.strip():
                raise InputError(f"{self.setting}_env: environment variable {self.env} is not set or empty",
                                 *_split(self.where))
        else:
            assert self.file is not None
            try:
                value = Path(self.file).read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{self.setting}_file: cannot read {self.file}: {exc.strerror or exc}",
                                 *_split(self.where)) from None
            if not value.strip():
                raise InputError(f"{self.setting}_file: {self.file} is empty", *_split(self.where))
        value = value.strip()
        register_secret(value)
        return value


def secret_ref(node: Node, setting: str, required: bool = True) -> SecretRef | None:
    """Read `<setting>_env` / `<setting>_file` from a channel's mapping; exactly one of them."""
    if node.has(setting):
        raise node[setting].error(
            f"{node.name}.{setting}: secrets are not read from the config file; "
            f"name an environment variable ({setting}_env) or a file ({setting}_file)")
    env = node[f"{setting}_env"].str()
    file = node[f"{setting}_file"].str()
    if env and file:
        raise node.error(f"{node.name}: give {setting}_env or {setting}_file, not both")
    if not env and not file:
        if required:
            raise node.error(f"{node.name}: missing {setting}_env or {setting}_file")
        return None
    key = node[f"{setting}_env" if env else f"{setting}_file"]
    if file and not Path(file).is_absolute() and node.file and not node.file.startswith("<"):
        file = str(Path(node.file).parent / file)
    return SecretRef(setting, env, file, f"{key.file}:{key.line}")


def _split(where: str) -> tuple[str | None, int | None]:
    file, _, line = where.rpartition(":")
    return (file or None, int(line) if line.isdigit() else None)
