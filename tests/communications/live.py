"""Real parts for the communications integration tests: a killable Celery worker with its own
settings, an SMTP server and an HTTP receiver on loopback, and a broker outage switch.

Not a test module: imported by tests/integration/test_communications_*.py.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# Tiny backoffs so retries happen within a test; the row's max_attempts comes from the test process.
WORKER_ENV = {
    "NOTIFICATION_BACKOFF_BASE_SECONDS": "0.2",
    "NOTIFICATION_BACKOFF_MAX_SECONDS": "0.5",
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",  # the receivers listen on loopback
    "WEBHOOK_TIMEOUT_SECONDS": "10",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery worker` in its own process group (so SIGKILL takes its pool children too)."""

    def __init__(self, log_path: Path, **env: str):
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DJANGO_SETTINGS_MODULE": "itsm.settings_test",
            "PYTHONUNBUFFERED": "1",
            **WORKER_ENV,
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "Worker":
        self.log = open(self.log_path, "a")
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "itsm",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-P",
                "prefork",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text()[start:]:
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"worker not ready in {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no acks, exactly like a lost machine."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        """Test teardown: nothing the tests check depends on a warm shutdown, so do not wait."""
        self.kill()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[bytes] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(envelope.content)
        return "250 OK"

    def message_ids(self) -> list[str]:
        from email import message_from_bytes

        with self._lock:
            return [message_from_bytes(m)["Message-ID"] for m in self.messages]

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def set_publish_broker(url: str | None) -> None:
    """Point only the publishing side of the Celery app at `url` (None: back to the real broker).

    The shared Redis cannot be stopped (others use it), so an outage is a dead address for
    this process's producer: every publish fails exactly as it does when Redis is down.
    """
    from itsm.celery import app

    app.conf.broker_write_url = url
    app._pool = None
    app.amqp._producer_pool = None


class Recorder:
    """An HTTP receiver handler: records each request, answers from a script of status codes."""

    def __init__(self, statuses=(), default: int = 200, first_delay: float = 0.0):
        self.statuses, self.default, self.first_delay = list(statuses), default, first_delay
        self.requests: list[tuple[dict, bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, request):
        from werkzeug import Response

        with self._lock:
            self.requests.append((dict(request.headers), request.get_data()))
            n = len(self.requests)
        if n == 1 and self.first_delay:
            time.sleep(self.first_delay)
        status = self.statuses[n - 1] if n <= len(self.statuses) else self.default
        return Response("ok" if status < 400 else "nope", status=status)

    def delivery_ids(self) -> list[str]:
        return [headers["X-Itsm-Delivery"] for headers, _ in self.requests]


@contextmanager
def http_receiver():
    """A threaded HTTP receiver on loopback (a slow request must not block the next one)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def endpoint_at(server, recorder: Recorder, secret: str):
    """A signed webhook endpoint for incident events, answered by `recorder`."""
    from communications.models import WebhookEndpoint

    server.expect_request("/hook", method="POST").respond_with_handler(recorder)
    return WebhookEndpoint.objects.create(url=server.url_for("/hook"), events=["incident.*"], secret=secret)


def emit_one(n: int = 1, **kwargs):
    """Emit `incident.created` for incident n in its own transaction (hand-off on commit)."""
    from django.db import transaction

    from communications.services import Subject, emit

    subject = Subject("incident", n, f"INC{n:07d}", f"Outage {n}", f"http://127.0.0.1:8000/admin/incident/{n}/")
    with transaction.atomic():
        return emit("incident.created", subject, {"incident": {"number": subject.number}}, **kwargs)
