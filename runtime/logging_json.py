"""Structured logs: one JSON object per line on stderr, secrets masked.

Each line has `time` (UTC ISO 8601), `level`, `logger`, `message`, and any fields passed as
`extra=` (scan_id, channel, alert_key, ...). Every string goes through scanner.secrets.mask.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from scanner.secrets import mask

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName", "color_message"}
QUIET_LOGGERS = ("apscheduler", "slack_sdk", "botocore", "boto3", "urllib3", "uvicorn.access", "azure",
                 "google", "mail.log", "asyncio")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = _masked(value)
        if record.exc_info:
            doc["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=lambda value: mask(str(value)))


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON; quieten chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {str(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value
