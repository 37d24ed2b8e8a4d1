"""Fixtures of the communications tests: a clean slate of rules, loopback receivers allowed."""

import pytest

from communications import services


@pytest.fixture(autouse=True)
def _reset_breaker():
    services.reset_breaker()
    yield
    services.reset_breaker()


@pytest.fixture
def no_default_rules(db):
    """Tests that count recipients start without the migration's default rules."""
    from communications.models import NotificationRule

    NotificationRule.objects.all().delete()


@pytest.fixture
def private_ok(settings):
    """Loopback receivers (pytest-httpserver) are private addresses: allow them."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    return settings
