"""`pip install .` gives the `custody` command: the same command line as `python agent.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
CUSTODY = Path(sys.executable).with_name("custody")  # the console script pip installed beside this Python


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_the_installed_command_prints_the_catalog_as_agent_py_does(tmp_path):
    assert CUSTODY.is_file(), f"{CUSTODY} missing: pip install -e . installs it from [project.scripts]"
    installed = run(str(CUSTODY), "catalog", "laws", "--format", "json", cwd=tmp_path)  # outside the checkout
    assert installed.returncode == 0, installed.stderr
    laws = {law["id"]: law for law in json.loads(installed.stdout)}
    assert laws["us-cloud-act"]["citation"] == "18 U.S.C. § 2713"
    assert laws["us-cloud-act"]["jurisdiction"] == "US"
    from_checkout = run(sys.executable, str(ROOT / "agent.py"), "catalog", "laws", "--format", "json", cwd=tmp_path)
    assert from_checkout.returncode == 0, from_checkout.stderr
    assert from_checkout.stdout == installed.stdout


def test_the_installed_command_names_itself_in_a_bad_argument_error(tmp_path):
    result = run(str(CUSTODY), "scan", "--format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: custody scan: argument --format: invalid choice: 'xml'")
    assert line.endswith("(see --help)")
