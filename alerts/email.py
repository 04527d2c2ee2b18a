"""E-mail: SMTP with STARTTLS or implicit TLS and login; a text part and an HTML part, same content.

Every value is HTML-escaped in the HTML part. The Message-ID is derived from the alert key and
the channel, so a message re-sent after a crash (see alerts.delivery) carries the same id and
mail clients that de-duplicate by Message-ID show it once.

Classification follows SMTP, not HTTP: a 4xx reply is temporary (retry), a 5xx reply (bad
login, refused recipient) fails for good; a connection problem is retried.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from alerts.config import EmailSettings
from alerts.content import facts_line, footer, sections, subject
from alerts.model import Alert
from alerts.sending import DELIVERED, SendResult
from scanner.secrets import mask


def message_id(key: str, channel: str) -> str:
    digest = hashlib.sha256(f"{key}|{channel}".encode()).hexdigest()[:32]
    return f"<{digest}@custody.alerts>"


def text_body(alert: Alert) -> str:
    parts = [subject(alert).removeprefix("[Custody] "), facts_line(alert), ""]
    for section in sections(alert):
        parts.append(section.title)
        parts.extend(f"  - {line}" for line in section.lines)
        parts.append("")
    if alert.link:
        parts += [f"Dashboard: {mask(alert.link)}", ""]
    parts.append(footer(alert))
    return "\n".join(parts) + "\n"


def html_body(alert: Alert) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif">',
        f"<h2>{esc(subject(alert).removeprefix('[Custody] '))}</h2>",
        f"<p>{esc(facts_line(alert))}</p>",
    ]
    for section in sections(alert):
        parts.append(f"<h3>{esc(section.title)}</h3>")
        parts.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in section.lines) + "</ul>")
    if alert.link:
        parts.append(f'<p><a href="{esc(mask(alert.link), quote=True)}">Open in the Custody dashboard</a></p>')
    parts.append(f'<p style="color: #666; font-size: small">{esc(footer(alert))}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# Long lines rather than folded headers: Python folds a subject with a non-ASCII character into
# encoded words that clients unfold with a doubled space.
POLICY = email.policy.default.clone(max_line_length=998)
SUBJECT_LIMIT = 250


def build_message(alert: Alert, key: str, settings: EmailSettings) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    text = subject(alert)
    message["Subject"] = text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(key, settings.name)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation or out-of-office replies
    message["X-Custody-Alert"] = key
    message["X-Custody-Severity"] = alert.severity
    message.set_content(text_body(alert))
    message.add_alternative(html_body(alert), subtype="html")
    return message


class EmailSender:
    """One configured mail channel (one SMTP connection per message)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.name = settings.name
        self.min_interval_seconds = settings.min_interval_seconds
        self.settings = settings
        self._password = settings.password.read() if settings.password else None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self._context())
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            client.ehlo()
            client.starttls(context=self._context())
            client.ehlo()
        return client

    def send(self, alert: Alert, key: str) -> SendResult:
        message = build_message(alert, key, self.settings)
        try:
            with self._connect() as client:
                if self.settings.username:
                    client.login(self.settings.username, self._password or "")
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            return _by_codes([code for code, _ in exc.recipients.values()], f"all recipients refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            return _by_codes([exc.smtp_code], f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS handshake
            return SendResult("retry", mask(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))
        if refused:  # some recipients refused, the others accepted: delivered (a retry would repeat it)
            return SendResult("delivered", mask(f"some recipients refused: {refused}"))
        return DELIVERED


def _by_codes(codes: list[int], error: str) -> SendResult:
    transient = any(400 <= code < 500 for code in codes)
    return SendResult("retry" if transient else "failed", mask(" ".join(error.split())[:300]))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
