"""Batch firing on PostgreSQL: SKIP LOCKED chunks, clocks locked elsewhere, overlapping chunks, statements."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from communications.models import Notification
from incidents import services
from incidents.models import Incident, SlaClock, TimelineEvent
from incidents.sla import firing
from itsm import roles
from itsm.models import BusinessCalendar, SlaPolicy
from tests.factories import AssignmentGroupFactory


@pytest.fixture
def due_clocks(transactional_db, make_user):
    """A factory of incidents whose resolution breach came ten minutes ago and has not fired."""
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent", email="agent@example.com")
    manager = make_user(roles.RESOLVER, username="boss", email="boss@example.com")
    group = AssignmentGroupFactory(name="Desk", members=[agent], manager=manager)
    SlaPolicy.objects.create(
        name="fast",
        kind="resolution",
        priorities=[1, 2, 3, 4, 5],
        target_minutes=1,
        calendar=BusinessCalendar.objects.get(name="24x7"),
        warning_thresholds=[],
    )

    def make(count: int) -> list[int]:
        past = timezone.now() - timedelta(minutes=10)
        ids = []
        for i in range(count):
            incident = services.open_incident(actor=agent, title=f"breaching {i}", assignment_group=group)
            Incident.objects.filter(pk=incident.pk).update(opened_at=past)
            clock = SlaClock.objects.get(incident=incident)
            SlaClock.objects.filter(pk=clock.pk).update(
                started_at=past, running_since=past, due_at=past + timedelta(minutes=1), next_check_at=past
            )
            ids.append(clock.pk)
        return ids

    return make


def breaches(clock_ids: list[int]) -> dict[int, int]:
    """`breached` timeline events per clock's incident."""
    incidents = dict(SlaClock.objects.filter(pk__in=clock_ids).values_list("pk", "incident_id"))
    return {
        pk: TimelineEvent.objects.filter(incident_id=incidents[pk], type="sla", data__event="breached").count()
        for pk in clock_ids
    }


def test_a_clock_locked_elsewhere_is_skipped_by_the_batch_and_fired_once_it_is_free(due_clocks):
    ids = due_clocks(4)
    locked, holding, release = ids[1], threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # a transition (or an ETA task) holding the clock's row lock
        try:
            with transaction.atomic():
                SlaClock.objects.select_for_update().get(pk=locked)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    assert firing.fire_many(ids) == 4
    assert time.monotonic() - started >= 0.9  # the locked clock waited for its lock (not skipped for good)
    holder.join(10)
    assert breaches(ids) == {pk: 1 for pk in ids}
    assert not SlaClock.objects.filter(pk__in=ids, queued_at__isnull=False).exists()


def test_a_clock_fired_elsewhere_while_the_batch_runs_fires_once(due_clocks):
    ids = due_clocks(3)
    holding, release = threading.Event(), threading.Event()

    def eta_task_firing() -> None:  # fire_due holding the row lock until it commits
        try:
            with transaction.atomic():
                assert firing.fire_due(ids[0])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    worker = threading.Thread(target=eta_task_firing)
    worker.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()
    assert firing.fire_many(ids) == 2  # the first was fired by the ETA task: not again
    worker.join(10)
    assert breaches(ids) == {pk: 1 for pk in ids}


def test_overlapping_chunks_in_parallel_fire_each_clock_once(due_clocks):
    ids = due_clocks(30)
    chunks = [ids[0:20], ids[10:30], ids, ids[::-1]]
    barrier = threading.Barrier(len(chunks))
    results: list = [None] * len(chunks)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = firing.fire_many(chunks[i])
        except Exception as exc:  # asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(chunks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 30  # each clock was due for exactly one of them
    assert breaches(ids) == {pk: 1 for pk in ids}
    per_incident = Notification.objects.filter(event="sla.breached").values_list("subject_id", flat=True)
    assert len(per_incident) == 2 * 30  # assignee-or-group and the group manager, once each


@pytest.mark.parametrize("size", [10, 50])
def test_statements_per_chunk_on_postgresql(due_clocks, size):
    from communications import snapshot

    ids = due_clocks(size)
    services.system_user()
    snapshot.current()  # the notification configuration, cached per process
    with CaptureQueriesContext(connection) as ctx:
        assert firing.fire_many(ids) == size
    # Clocks (SKIP LOCKED), policies + calendars (3), system user, watchers, the emit (users,
    # groups, subscriptions, storm control 2, keys, INSERT + savepoints), timeline INSERT,
    # clocks UPDATE ... FROM unnest, BEGIN/COMMIT: the same for 10 or 50 clocks.
    assert len(ctx.captured_queries) <= 21
