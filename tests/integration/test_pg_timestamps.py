"""itsm.pgtypes: timestamps read through psycopg's C loader equal what Django's own loader reads."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from incidents.models import Incident
from itsm import pgtypes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid

VALUES = [
    datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),  # the Berlin DST night, in UTC
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2000, 2, 29, 23, 59, 59, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 12, 2, 12, 0, tzinfo=UTC) + timedelta(microseconds=123),
]


def _read(cursor) -> list:
    cursor.execute("SELECT v FROM unnest(%s::timestamptz[]) AS v UNION ALL SELECT NULL::timestamptz", [VALUES])
    return [row[0] for row in cursor.fetchall()]


def test_the_c_loader_is_registered_on_a_utc_session():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert pgtypes.FAST_LOADER is not None and loader is pgtypes.FAST_LOADER
    assert loader.timezone is connection.timezone  # Django's cursor then keeps it (no per-cursor copy)
    with connection.cursor() as cursor:
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is pgtypes.FAST_LOADER


def test_values_equal_djangos_loader_with_the_same_tzinfo():
    with connection.cursor() as cursor:
        fast = _read(cursor)
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own loader, this cursor only
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is not pgtypes.FAST_LOADER
        django = _read(cursor)
    assert fast == django == [*VALUES, None]
    assert all(value.tzinfo is UTC for value in fast if value is not None)
    assert [type(value.tzinfo) for value in fast[:-1]] == [type(value.tzinfo) for value in django[:-1]]


def test_models_read_the_instants_they_saved():
    opened = datetime(2026, 3, 29, 1, 30, 0, 250_000, tzinfo=UTC)
    user = UserFactory()
    incident = Incident.objects.create(number="INC9990001", title="t", priority=3, opened_at=opened, created_by=user)
    fetched = Incident.objects.get(pk=incident.pk)
    assert fetched.opened_at == opened and fetched.opened_at.tzinfo is UTC
    assert fetched.updated_at == incident.updated_at
