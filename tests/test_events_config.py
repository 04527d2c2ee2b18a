"""`agent.events`: parsed, and every mistake refused with one line naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.agent_config import load_agent_settings
from runtime.events_config import AwsQueue, AzureQueue, GcpSubscription
from scanner.errors import InputError
from scanner.yamlfile import read_yaml


def agent(tmp_path: Path, text: str):
    path = tmp_path / "custody.yaml"
    path.write_text("agent:\n  events:\n" + text)
    return load_agent_settings(read_yaml(path)["agent"])


def test_the_three_queues_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_CONNECTION", "UseDevelopmentStorage=true")
    settings = agent(tmp_path, "    aws: {queue_url: 'https://sqs.eu-central-1.amazonaws.com/1/custody-events'}\n"
                               "    azure: {connection_string_env: QUEUE_CONNECTION}\n"
                               "    gcp: {subscription: projects/sec/subscriptions/custody-events}\n"
                               "    dedupe_window: 500\n").events
    assert settings.aws == AwsQueue("https://sqs.eu-central-1.amazonaws.com/1/custody-events", None, 20)
    assert settings.azure == AzureQueue(None, "QUEUE_CONNECTION", "custody-events")
    assert settings.gcp == GcpSubscription("projects/sec/subscriptions/custody-events")
    assert settings.dedupe_window == 500


def test_no_events_section_means_scheduled_scans_only(tmp_path):
    path = tmp_path / "custody.yaml"
    path.write_text("agent: {listen: '127.0.0.1:9999'}\n")
    assert load_agent_settings(read_yaml(path)["agent"]).events is None


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("    aws: {queue_url: custody-events}\n", 3, "agent.events.aws.queue_url: expected the queue's URL"),
    ("    aws: {queue_url: 'https://sqs.x/1/q', wait_seconds: 30}\n", 3, "long polls 0 to 20 seconds, got 30"),
    ("    azure: {queue: q}\n", 3, "give one of queue_url (managed identity) or connection_string_env"),
    ("    azure: {connection_string_env: CUSTODY_NOT_SET_ANYWHERE}\n", 3, "$CUSTODY_NOT_SET_ANYWHERE is not set"),
    ("    gcp: {subscription: custody-events}\n", 3, "expected projects/<project>/subscriptions/<name>"),
    ("    dedupe_window: 1000\n", 3, "name at least one queue"),
    ("    sqs: {queue_url: 'https://sqs.x/1/q'}\n", 3, "sqs"),
])
def test_mistakes_are_one_line_naming_file_and_line(tmp_path, text, line, expected):
    with pytest.raises(InputError) as caught:
        agent(tmp_path, text)
    message = str(caught.value)
    assert expected in message and f"custody.yaml:{line}" in message and "\n" not in message
