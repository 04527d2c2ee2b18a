"""Alerting: what changed is worth telling, to whom, and delivery that loses nothing.

    config.py     the `alerts` config section: channels, routes, quiet threshold, digest, delivery
    model.py      Alert: one thing worth telling, as stored in the outbox
    changes.py    a scan's ScanChanges, rebuilt from the state store's event log
    detect.py     changes (+ stores, findings, waivers) -> alerts
    quiet.py      summaries above a threshold, the first scan's summary, the daily digest
    routing.py    which channels an alert goes to
    outbox.py     the outbox operations (its tables are in state/schema.py)
    db.py         transactions on the state store's database
    pipeline.py   after each scan: detect, route, quiet, enqueue — in one transaction
    content.py    an alert as titled sections, shared by the Slack and e-mail renderers
    slack.py      Block Kit messages through slack-sdk (incoming webhook or bot token)
    email.py      SMTP (STARTTLS or implicit TLS, login), text and HTML parts
    sending.py    SendResult (delivered, retry, failed) and the Sender interface
    delivery.py   the delivery loop: per-channel order, rate limit, backoff with jitter
"""
