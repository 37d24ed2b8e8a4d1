"""The per-process cache of SLA policies, calendars and the priority matrix (`itsm.configcache`)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itsm import configcache
from itsm.models import BusinessCalendar, Holiday, PriorityMatrixEntry
from tests.factories import SlaPolicyFactory
from tests.helpers import commit_bumps

pytestmark = pytest.mark.django_db


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_snapshot_is_loaded_once_per_version():
    policy = SlaPolicyFactory(name="Resolve in 4 h")
    commit_bumps()
    first = configcache.current()
    assert policy.pk in first.policies
    assert queries(configcache.current) == 0  # the process copy answers
    assert configcache.current() is first
    # The calendar comes converted, with its periods and holidays: rendering a clock reads nothing.
    assert queries(lambda: first.policies[policy.pk].calendar.to_businesstime()) == 0


def test_a_changed_policy_is_seen_after_commit_and_inside_its_own_transaction():
    policy = SlaPolicyFactory(name="Respond", kind="response", target_minutes=60)
    commit_bumps()
    assert configcache.current().policies[policy.pk].target_minutes == 60
    policy.target_minutes = 30
    policy.save()
    # The bump waits for the commit; this transaction reads its own change from the database.
    assert configcache.current().policies[policy.pk].target_minutes == 30
    commit_bumps()
    assert configcache.current().policies[policy.pk].target_minutes == 30
    assert queries(configcache.current) == 0


def test_a_rolled_back_change_leaves_nothing_stale():
    from django.db import transaction

    policy = SlaPolicyFactory(name="Resolve", target_minutes=240)
    commit_bumps()
    with transaction.atomic():
        policy.target_minutes = 1
        policy.save()
        assert configcache.current().policies[policy.pk].target_minutes == 1
        transaction.set_rollback(True)
    commit_bumps()
    assert configcache.current().policies[policy.pk].target_minutes == 240


def test_calendar_holidays_invalidate():
    policy = SlaPolicyFactory(name="Resolve")
    commit_bumps()
    calendar = BusinessCalendar.objects.get(pk=policy.calendar_id)
    before = configcache.current().policies[policy.pk].calendar.to_businesstime()
    Holiday.objects.create(calendar=calendar, date="2026-12-24", name="Christmas Eve")
    commit_bumps()
    after = configcache.current().policies[policy.pk].calendar.to_businesstime()
    assert len(after.holidays) == len(before.holidays) + 1


def test_priority_matrix_change_is_picked_up():
    commit_bumps()
    original = configcache.priority_for(1, 1)
    cell = PriorityMatrixEntry.objects.get(impact=1, urgency=1)
    assert original == cell.priority
    cell.priority = 5
    cell.save()
    assert configcache.priority_for(1, 1) == 5  # inside the changing transaction
    commit_bumps()
    assert configcache.priority_for(1, 1) == 5
    assert queries(lambda: configcache.priority_for(1, 1)) == 0


def test_missing_cell_falls_back_to_the_itil_default():
    from itsm.choices import DEFAULT_PRIORITY_MATRIX

    PriorityMatrixEntry.objects.filter(impact=3, urgency=3).delete()
    commit_bumps()
    assert configcache.priority_for(3, 3) == DEFAULT_PRIORITY_MATRIX[(3, 3)]


def test_without_a_shared_cache_every_read_goes_to_the_database(monkeypatch):
    from itsm import procache

    SlaPolicyFactory(name="Resolve")
    commit_bumps()
    monkeypatch.setattr(procache, "shared_cache_available", lambda: False)
    configcache.current()
    assert queries(configcache.current) == 4
