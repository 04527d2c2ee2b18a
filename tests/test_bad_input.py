"""Bad input stops with one line naming the file, the line or key, and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

GOOD_CONFIG = """\
home: EU
companies:
  - {id: acme, name: Acme SE, country: DE}
accounts:
  "111111111111": {owner: acme}
providers:
  aws: {regions: [eu-central-1]}
"""


def run_agent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.mark.parametrize(("config", "expected"), [
    (GOOD_CONFIG.replace("home: EU", "home: EU\nhome_region: x"), ("config.yaml:2", "unknown key 'home_region'")),
    (GOOD_CONFIG.replace("home: EU", "home: Europe"), ("config.yaml:1", "unknown jurisdiction 'Europe'")),
    (GOOD_CONFIG.replace("{owner: acme}", "{owner: acme-gmbh}"), ("config.yaml:5", "unknown company 'acme-gmbh'")),
    (GOOD_CONFIG.replace("country: DE}", "country: Deutschland}"), ("config.yaml:3", "'Deutschland' is not an ISO")),
    (GOOD_CONFIG.replace("aws: {regions", "aws: {regionz"), ("config.yaml:7", "unknown key 'regionz'")),
    (GOOD_CONFIG.replace("  aws:", "  alibaba:"), ("config.yaml:7", "unknown provider 'alibaba'")),
    (GOOD_CONFIG + "  aws: {}\n", ("config.yaml:8", "duplicate key 'aws'")),
    (GOOD_CONFIG.replace("accounts:\n", "accounts:\n  - x\n   y: [\n"), ("config.yaml:", "invalid YAML")),
    ("", ("config.yaml", "empty config file")),
    (GOOD_CONFIG + "key_stores:\n  xks.example.eu: {country: Germany}\n",
     ("config.yaml:9", "unknown jurisdiction 'Germany'")),
    (GOOD_CONFIG + "key_stores:\n  xks.example.eu: {country: DE, operator: nobody}\n",
     ("config.yaml:9", "unknown company or entity 'nobody'")),
])
def test_bad_config(tmp_path, config, expected):
    (tmp_path / "config.yaml").write_text(config)
    assert_one_line_error(run_agent("scan", "--config", "config.yaml", "--no-state", cwd=tmp_path), *expected)


POLICY = """\
policies:
  - id: eu-personal
    applies_to: {tags: {data-class: personal}}
    accept: [CH]
    severity: high
waivers:
  - store: "arn:aws:s3:::legacy-*"
    reason: migration planned
    approver: dpo@example.com
    expires: 2027-03-31
"""


@pytest.mark.parametrize(("policy", "expected"), [
    (POLICY.replace("accept: [CH]", "accept: [CH, Mars]"), ("policy.yaml:4", "unknown jurisdiction 'Mars'")),
    (POLICY.replace("severity: high", "severity: dire"), ("policy.yaml:5", "'dire' is not one of")),
    (POLICY.replace("severity: high", "severity: high\n    owner: me"), ("policy.yaml:6", "unknown key 'owner'")),
    (POLICY.replace("applies_to: {tags", "applies_to: {labels"), ("policy.yaml:3", "unknown key 'labels'")),
    (POLICY.replace("applies_to: {tags: {data-class: personal}}", "applies_to: {kinds: [s3-buckets]}"),
     ("policy.yaml:3", "unknown store kind 's3-buckets'", "did you mean 's3-bucket'?", "efs-file-system")),
    (POLICY.replace("applies_to: {tags: {data-class: personal}}", "applies_to:\n      providers: [aws, awz]"),
     ("policy.yaml:4", "applies_to.providers: unknown provider 'awz'", "expected one of: aws, azure, gcp")),
    (POLICY.replace("severity: high", "severity: high\n    count_routes: [direct, treaty]"),
     ("policy.yaml:6", "'treaty' is not one of: direct, agreement, mutual_legal_assistance")),
    (POLICY.replace("severity: high", "severity: high\n    accept_access: [unknown]"),
     ("policy.yaml:6", "'unknown' is not one of: plaintext, plaintext_while_key_released, ciphertext_only")),
    (POLICY.replace("    expires: 2027-03-31\n", ""), ("policy.yaml:7", "missing required key 'expires'")),
    (POLICY.replace("2027-03-31", "next spring"), ("policy.yaml:10", "expected a date")),
    (POLICY.replace("  - id: eu-personal", "  - id: eu-personal\n\tbad"), ("policy.yaml:", "invalid YAML")),
])
def test_bad_policy(tmp_path, policy, expected):
    (tmp_path / "config.yaml").write_text(GOOD_CONFIG + "policies: [policy.yaml]\n")
    (tmp_path / "policy.yaml").write_text(policy)
    assert_one_line_error(run_agent("scan", "--config", "config.yaml", "--no-state", cwd=tmp_path), *expected)


def test_missing_config_file(tmp_path):
    assert_one_line_error(run_agent("scan", "--config", "nope.yaml", cwd=tmp_path), "nope.yaml", "file not found")


def test_unknown_home_on_the_command_line(tmp_path):
    result = run_agent("scan", "--home", "XX", "--no-state", cwd=tmp_path)
    assert_one_line_error(result, "--home", "unknown jurisdiction 'XX'")


def test_bad_arguments(tmp_path):
    assert_one_line_error(run_agent("scan", "--format", "xml", cwd=tmp_path), "invalid choice: 'xml'")
    assert_one_line_error(run_agent("catalog", "planets", cwd=tmp_path), "invalid choice: 'planets'")


def test_no_home_anywhere_is_an_error(tmp_path):
    (tmp_path / "config.yaml").write_text(GOOD_CONFIG.replace("home: EU\n", ""))
    assert_one_line_error(run_agent("scan", "--config", "config.yaml", "--no-state", cwd=tmp_path),
                          "no home jurisdiction")
