"""Microsoft Teams: an Adaptive Card posted to a Teams workflow webhook ("When a Teams webhook
request is received" → post card), through the outbox like every channel.

The workflow takes a message with the card as an attachment and answers 202 Accepted; 429 and
5xx are retried, other 4xx fail for good (alerts.sending.classify_http).
"""

from __future__ import annotations

import json
from typing import Any

from alerts.config import TeamsSettings
from alerts.content import facts_line, footer, sections
from alerts.model import Alert
from alerts.sending import SendResult, post_json
from scanner.secrets import mask

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
COLORS = {"critical": "attention", "high": "attention", "medium": "warning", "low": "default", "info": "default"}


def card(alert: Alert) -> dict[str, Any]:
    """The Adaptive Card: title, facts, one block per section, a link to the dashboard."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": mask(f"[{alert.severity}] {alert.title}"), "weight": "Bolder", "size": "Medium",
         "wrap": True, "color": COLORS.get(alert.severity, "default")},
        {"type": "TextBlock", "text": facts_line(alert), "isSubtle": True, "wrap": True, "spacing": "None"},
    ]
    for section in sections(alert):
        body.append({"type": "TextBlock", "text": section.title, "weight": "Bolder", "wrap": True})
        body.append({"type": "TextBlock", "text": "\n".join(f"- {line}" for line in section.lines), "wrap": True})
    body.append({"type": "TextBlock", "text": footer(alert), "isSubtle": True, "size": "Small", "wrap": True})
    content: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body}
    if alert.link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in the Custody dashboard",
                               "url": mask(alert.link)}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}


class TeamsSender:
    def __init__(self, settings: TeamsSettings) -> None:
        self.name = settings.name
        self.min_interval_seconds = settings.min_interval_seconds
        self.timeout = settings.timeout_seconds
        self._url = settings.url.read()

    def send(self, alert: Alert, key: str) -> SendResult:
        return post_json(self._url, json.dumps(card(alert)).encode(), self.timeout)
