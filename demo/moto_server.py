"""Run moto as a real HTTP server in a subprocess on 127.0.0.1, optionally with our patches.

The server runs in its own process so that the scanner under test talks to it over HTTP exactly as it
would talk to AWS: every request goes through botocore's serialisation and shows up in the access log.
Patches (see `demo.moto_patches`) are applied inside that process only; the test process keeps stock moto.

    with start_moto(patches=["bucket_region"]) as moto:
        boto3.client("s3", endpoint_url=moto.url, ...)
        moto.request_log()  # [("GET", "/?max-buckets=100", "200"), ...]

Foreground: `python -m demo.moto_server --port 5000 --patch bucket_region --patch dynamodb_replicas`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTROL_PREFIX = "/moto-api/"
START_TIMEOUT_S = 30.0
START_ATTEMPTS = 3  # a free port can be taken between our probe and the server's bind

# Server-side environment: no preloaded AMIs (and their ~1300 snapshots), so inventories are exactly what we seed.
SERVER_ENV = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false", "PYTHONUNBUFFERED": "1"}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# werkzeug access log: 127.0.0.1 - - [27/Nov/2026 10:00:00] "GET /?max-buckets=100 HTTP/1.1" 200 -
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')


class MotoStartError(RuntimeError):
    """The moto server process exited or did not answer its health check in time."""


@dataclass
class MotoServer:
    """A running moto server subprocess. Use as a context manager, or call `stop()`."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    patches: tuple[str, ...] = ()
    _tmpdir: Path | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def reset(self) -> None:
        """Drop every backend (all accounts, all regions), as moto's POST /moto-api/reset does."""
        request = urllib.request.Request(f"{self.url}{CONTROL_PREFIX}reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def log_text(self) -> str:
        """The server's stderr so far (werkzeug access log plus any tracebacks), ANSI colours removed."""
        if not self.log_path.exists():
            return ""
        return _ANSI.sub("", self.log_path.read_text(encoding="utf-8", errors="replace"))

    def clear_log(self) -> None:
        """Forget the requests logged so far (the server appends, so this is safe while it runs)."""
        with self.log_path.open("r+b") as log:
            log.truncate(0)

    def request_log(self, include_control: bool = False) -> list[tuple[str, str, str]]:
        """(method, path with query, status) for every request the server has answered, in order.

        Requests to moto's own control API (/moto-api/: health checks, resets) are left out unless asked for,
        so the list counts AWS API calls only.
        """
        entries = parse_access_log(self.log_text())
        if include_control:
            return entries
        return [entry for entry in entries if not entry[1].startswith(CONTROL_PREFIX)]

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate (SIGTERM) and wait; escalate to SIGKILL if the server ignores it."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL the server (simulates a crash) and reap it."""
        if self.alive():
            self.process.kill()
        self.process.wait()

    def _cleanup(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def parse_access_log(text: str) -> list[tuple[str, str, str]]:
    """Extract (method, path, status) from werkzeug access-log lines; other lines are ignored."""
    entries = []
    for line in _ANSI.sub("", text).splitlines():
        match = _ACCESS.search(line + " ")
        if match:
            entries.append((match["method"], match["path"], match["status"]))
    return entries


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_moto(patches: Sequence[str] = (), port: int | None = None) -> MotoServer:
    """Start moto on 127.0.0.1 (a free port unless `port` is given) and return once it answers GET /moto-api/."""
    from demo.moto_patches import PATCHES  # validate names here, before a subprocess fails on them

    unknown = [name for name in patches if name not in PATCHES]
    if unknown:
        raise ValueError(f"unknown moto patch(es) {unknown}; known: {sorted(PATCHES)}")
    last_error: MotoStartError | None = None
    for _ in range(1 if port else START_ATTEMPTS):
        server = _spawn(tuple(patches), port or free_port())
        try:
            _wait_healthy(server)
            return server
        except MotoStartError as error:
            server.stop()
            last_error = error
    assert last_error is not None
    raise last_error


def _spawn(patches: tuple[str, ...], port: int) -> MotoServer:
    tmpdir = Path(tempfile.mkdtemp(prefix="custody-moto-"))
    log_path = tmpdir / "server.log"
    command = [sys.executable, "-m", "demo.moto_server", "--port", str(port)]
    for name in patches:
        command += ["--patch", name]
    env = _server_env()
    with log_path.open("ab") as log:  # O_APPEND, so clear_log() can truncate under the running server
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return MotoServer(port=port, process=process, log_path=log_path, patches=patches, _tmpdir=tmpdir)


def _server_env() -> dict[str, str]:
    env = {**os.environ, **SERVER_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    # The server must not inherit a client-side endpoint or profile meant for the tests.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    return env


def _wait_healthy(server: MotoServer, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise MotoStartError(f"moto exited with {server.process.returncode}:\n{server.log_text()[-2000:]}")
        if _health_ok(server.url):
            return
        time.sleep(0.05)
    raise MotoStartError(f"moto did not answer GET /moto-api/ on port {server.port} within {timeout:.0f} s")


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}{CONTROL_PREFIX}", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def serve(port: int, patches: Sequence[str]) -> None:
    """Apply patches in this process, then run moto's own werkzeug server in the foreground."""
    for name, value in SERVER_ENV.items():
        os.environ[name] = value
    from demo.moto_patches import apply_patches

    apply_patches(patches)
    from moto.server import main as moto_main

    with contextlib.suppress(KeyboardInterrupt):
        moto_main(["-H", HOST, "-p", str(port)])


def main(argv: Sequence[str] | None = None) -> None:
    from demo.moto_patches import PATCHES

    parser = argparse.ArgumentParser(prog="python -m demo.moto_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--patch", action="append", default=[], choices=sorted(PATCHES), help="moto patch to apply (repeatable)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(args.port, args.patch)


if __name__ == "__main__":
    main()
