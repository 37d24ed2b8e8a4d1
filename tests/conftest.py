"""Fixtures shared by every test: API clients per role, users, configuration."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from itsm import roles
from tests.factories import AssignmentGroupFactory, ServiceFactory, UserFactory


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Unit tests run tasks in-process; integration tests use a real worker instead."""
    from itsm.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from itsm import procache
    from itsm.api import throttling
    from itsm.models.calendars import forget_values

    cache.clear()
    procache.clear_all()
    forget_values()  # ids and frozen times repeat between tests
    throttling.forget_local_grants()


@pytest.fixture
def make_user(db):
    def make(*role_names: str, groups=(), **kwargs):
        user = UserFactory(roles=list(role_names), **kwargs)
        for group in groups:
            group.members.add(user)
        return user

    return make


@pytest.fixture
def administrator(make_user):
    return make_user(roles.ADMINISTRATOR)


@pytest.fixture
def reader(make_user):
    return make_user(roles.READ_ONLY)


@pytest.fixture
def api():
    """An API client that authenticates with a real token: api.as_user(user)."""

    class Client(APIClient):
        def as_user(self, user):
            token, _ = Token.objects.get_or_create(user=user)
            self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            return self

    return Client()


@pytest.fixture
def group(db):
    return AssignmentGroupFactory()


@pytest.fixture
def service(db, group):
    return ServiceFactory(owner_group=group)


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration/ is an integration test."""
    for item in items:
        if "/tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)
