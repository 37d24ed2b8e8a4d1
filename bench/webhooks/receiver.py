"""The webhook receiver of `bench.webhooks`: an asyncio HTTP server in a process of its own.

It answers 204, counts requests and distinct `X-ITSM-Delivery` ids per path, and checks the
signature, timestamp and body id of every request as a receiver following API.md would.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Child, free_port
from bench.webhooks.common import RECEIVER_BOOT_TIMEOUT

NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
SIGNATURE_MAX_AGE = 300  # seconds; a receiver following API.md refuses older timestamps


class Tally:
    """What one receiver path saw: requests, distinct delivery ids, and failed checks."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.requests = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.bad_signatures = 0
        self.stale_timestamps = 0
        self.id_mismatches = 0
        self.events: Counter[str] = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None

    def record(self, headers: dict[str, str], body: bytes) -> None:
        """Count one delivery and check it the way a receiver following API.md would."""
        now = time.time()
        self.requests += 1
        self.first_at = self.first_at or now
        self.last_at = now
        delivery = headers.get("x-itsm-delivery", "")
        if delivery in self.ids:
            self.duplicates += 1
        self.ids.add(delivery)
        self.events[headers.get("x-itsm-event", "")] += 1
        # Every request is checked, not a sample: an HMAC of 1 KB costs microseconds.
        timestamp = headers.get("x-itsm-timestamp", "")
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest("sha256=" + mac.hexdigest(), headers.get("x-itsm-signature", "")):
            self.bad_signatures += 1
        if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
            self.stale_timestamps += 1
        try:
            if json.loads(body).get("id") != delivery:
                self.id_mismatches += 1
        except ValueError:
            self.id_mismatches += 1

    def as_dict(self, with_ids: bool) -> dict[str, Any]:
        out = {
            "requests": self.requests,
            "distinct_ids": len(self.ids),
            "duplicates": self.duplicates,
            "bad_signatures": self.bad_signatures,
            "stale_timestamps": self.stale_timestamps,
            "id_mismatches": self.id_mismatches,
            "events": dict(self.events),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }
        if with_ids:
            out["ids"] = sorted(self.ids)
        return out


async def _serve(port: int, secret: bytes, lifetime: float) -> None:
    """HTTP/1.1 with keep-alive, just enough of it: `POST /hook/<name>` is counted and answered
    204, `GET /stats[?ids=1]` returns the tallies as JSON. Stops by itself after `lifetime` s."""
    tallies: dict[str, Tally] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, *_ = [*lines[0].split(" "), "", ""]
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "POST" and target.startswith("/hook/"):
                    tallies.setdefault(target, Tally(secret)).record(headers, body)
                    writer.write(NO_CONTENT)
                elif method == "GET" and target.startswith("/stats"):
                    with_ids = "ids=1" in target
                    payload = json.dumps({path: t.as_dict(with_ids) for path, t in tallies.items()}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                        % len(payload)
                        + payload
                    )
                else:
                    writer.write(NOT_FOUND)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await asyncio.sleep(lifetime)


def receiver_main(argv: list[str]) -> int:
    """`python -m bench.webhooks _receiver --port P --lifetime S` (secret in BENCH_WEBHOOK_SECRET)."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks _receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lifetime", type=float, required=True)
    args = parser.parse_args(argv)
    secret = os.environ["BENCH_WEBHOOK_SECRET"].encode()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(_serve(args.port, secret, args.lifetime))
    return 0


class Receiver(Child):
    """The receiver process, on 127.0.0.1:<free port>; `stats()` reads its tallies."""

    what = "the receiver"

    def __init__(self, secret: str, lifetime: float, log_path: Path) -> None:
        super().__init__({**os.environ, "BENCH_WEBHOOK_SECRET": secret}, log_path)
        self.secret, self.lifetime = secret, lifetime
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        """The URL of the hook called `name`."""
        return f"{self.base_url}/hook/{name}"

    def command(self) -> list[str]:
        """This package's `_receiver` entry point, with a lifetime of its own (a hang guard)."""
        return [
            sys.executable,
            "-m",
            "bench.webhooks",
            "_receiver",
            f"--port={self.port}",
            f"--lifetime={self.lifetime:.0f}",
        ]

    def ready(self) -> bool:
        """/stats answers."""
        try:
            self.stats()
        except httpx.HTTPError:
            return False
        return True

    def start(self) -> None:
        """Start it and wait until it answers."""
        super().start()
        self.wait_ready(RECEIVER_BOOT_TIMEOUT)

    def stats(self, path: str | None = None, with_ids: bool = False) -> dict[str, Any]:
        """All tallies, or those of one path (zeros if it saw nothing yet)."""
        with httpx.Client(trust_env=False, timeout=10) as client:
            tallies = client.get(f"{self.base_url}/stats" + ("?ids=1" if with_ids else "")).json()
        if path is None:
            return tallies
        return tallies.get(path) or Tally(b"").as_dict(with_ids)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL to its group."""
        super().stop(timeout)
