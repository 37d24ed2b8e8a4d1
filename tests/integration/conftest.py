"""Real parts: PostgreSQL, Redis and a Celery worker process.

Outside CI a missing service skips these tests; with CI=true it fails them, so a green CI
always means the real stack was exercised.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(message: str):
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration services are required)")
    pytest.skip(message)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_required():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _missing("integration tests need DATABASE_URL pointing at PostgreSQL")


@pytest.fixture(scope="session")
def redis_url():
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://") or not _reachable(url, 6379):
        _missing(f"integration tests need a reachable Redis broker (CELERY_BROKER_URL={url})")
    return url


@pytest.fixture(autouse=True)
def _integration_requirements(postgres_required, redis_url):
    """Every integration test needs the real database and broker."""


@pytest.fixture
def transactional_db(django_db_serialized_rollback, transactional_db):
    """Committing tests, with the data migrations' rows (roles, matrix, 24x7, rules) restored after each."""
    return transactional_db


@pytest.fixture(autouse=True)
def _eager_celery():
    """Override the unit-test fixture: integration tests publish to the real broker."""
    from itsm.celery import app

    app.conf.task_always_eager = False
    yield


@pytest.fixture
def celery_worker_process(transactional_db, redis_url):
    """A real `celery worker` process on the test database and the Redis broker."""
    import redis

    from tests.communications.live import Worker

    redis.Redis.from_url(redis_url).flushdb()
    worker = Worker(ROOT / "var" / "integration-worker.log")
    try:
        worker.start(timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield worker.proc
    worker.stop()


@pytest.fixture(scope="module")
def smtp():
    """A loopback SMTP server for the test module."""
    from tests.communications.live import SmtpSink

    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def worker(django_db_setup, redis_url, smtp, tmp_path_factory):
    """One real worker per test module that asks for it, sending email to the module's SMTP sink."""
    import redis

    from tests.communications.live import Worker

    redis.Redis.from_url(redis_url).flushdb()
    running = Worker(
        tmp_path_factory.mktemp("worker") / "worker.log",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        NOTIFICATION_SWEEP_GRACE_SECONDS="0",  # the sweep may take rows at once (no beat races it here)
    )
    yield running.start()
    running.stop()
