"""Azurite's queue service (Microsoft's Azure Storage emulator, npm, installed under demo/azurite by
scripts/system-deps.sh) as a subprocess on 127.0.0.1, in memory, for the event tests and bench/events.py.

    with start_azurite() as azurite:
        QueueClient.from_connection_string(azurite.connection_string, "custody-events")
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from demo.moto_server import HOST, free_port

BINARY = Path(__file__).resolve().parent / "azurite" / "node_modules" / ".bin" / "azurite-queue"
# Azurite's documented well-known development account (not a secret: the same in every Azurite)
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"QueueEndpoint=http://{HOST}:{self.port}/{ACCOUNT};")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_azurite(timeout: float = 30.0) -> Azurite:
    """Start the queue service on a free port; RuntimeError (with its output) if it does not answer."""
    if not BINARY.exists():
        raise RuntimeError(f"{BINARY} is missing: run scripts/system-deps.sh (npm ci in demo/azurite)")
    for _ in range(3):  # a free port can be taken between the probe and Azurite's bind
        port = free_port()
        process = subprocess.Popen(
            [str(BINARY), "--queueHost", HOST, "--queuePort", str(port), "--inMemoryPersistence", "--silent",
             "--skipApiVersionCheck", "--disableProductStyleUrl"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                return Azurite(port, process)
            time.sleep(0.1)
        output = b""
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(Exception):
            output = process.communicate(timeout=5)[0]
        if b"EADDRINUSE" not in output:
            raise RuntimeError(f"azurite-queue did not start: {output.decode(errors='replace')[-400:]}")
    raise RuntimeError("azurite-queue: no free port after 3 attempts")
