"""Slack: Block Kit messages through slack-sdk, by incoming webhook or bot token (chat.postMessage).

The client's own retries are switched off: the outbox retries, with backoff, and knows what was
delivered. Classification: 2xx delivered; 429 retry after Retry-After; 5xx and connection
errors retry; any other 4xx (and a Web API answer `ok: false` other than rate limiting or a
server-side error) fails for good.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from alerts.config import SlackSettings
from alerts.content import facts_line, footer, sections
from alerts.model import Alert
from alerts.sending import DELIVERED, SendResult, classify_http
from scanner.secrets import mask

TRANSIENT_API_ERRORS = {"ratelimited", "internal_error", "service_unavailable", "fatal_error", "request_timeout"}
HEADER_LIMIT, SECTION_LIMIT = 150, 3000


def escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(alert: Alert) -> str:
    return escape(mask(f"[{alert.severity}] {alert.title}"))


def blocks(alert: Alert) -> list[dict[str, Any]]:
    """The message: title, facts, what changed, where the copies are, the control path and law, a link."""
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(mask(alert.title), HEADER_LIMIT)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(facts_line(alert))}]},
    ]
    for section in sections(alert):
        text = f"*{escape(section.title)}*\n" + "\n".join(f"• {escape(line)}" for line in section.lines)
        result.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}})
    if alert.link:
        label = "Open the store in the Custody dashboard" if alert.store else "Open the Custody dashboard"
        result.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": alert.link}]})
    result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer(alert))}]})
    return result


class SlackSender:
    """One configured Slack channel."""

    def __init__(self, settings: SlackSettings) -> None:
        self.name = settings.name
        self.min_interval_seconds = settings.min_interval_seconds
        self._channel = settings.channel
        self._webhook: WebhookClient | None = None
        self._web: WebClient | None = None
        if settings.webhook_url is not None:
            self._webhook = WebhookClient(url=settings.webhook_url.read(), timeout=settings.timeout_seconds,
                                          retry_handlers=[])
        else:
            assert settings.token is not None
            self._web = WebClient(token=settings.token.read(), base_url=settings.api_url,
                                  timeout=settings.timeout_seconds, retry_handlers=[])

    def send(self, alert: Alert, key: str) -> SendResult:
        text, message = fallback_text(alert), blocks(alert)
        try:
            if self._webhook is not None:
                response = self._webhook.send(text=text, blocks=message, unfurl_links=False, unfurl_media=False)
                return classify_http(response.status_code, response.body, response.headers or {})
            assert self._web is not None
            self._web.chat_postMessage(channel=self._channel, text=text, blocks=message, unfurl_links=False,
                                       unfurl_media=False)
            return DELIVERED
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", 200)
            code = str(response.get("error", "")) if hasattr(response, "get") else ""
            if status != 200:
                return classify_http(status, code, getattr(response, "headers", {}) or {})
            error = mask(f"Slack API error: {code or 'unknown'}")
            return SendResult("retry" if code in TRANSIENT_API_ERRORS else "failed", error)
        except Exception as exc:  # connection refused, timeout, DNS: the receiver may come back
            return SendResult("retry", mask(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
