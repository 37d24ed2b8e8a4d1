"""Alert storms on PostgreSQL: concurrent triggers never open a second incident and never lose a count.

Each thread uses its own database connection (Django's connections are per thread) and runs
`ingest_event` as the API does. All threads are released together by a barrier; PostgreSQL's
`max_connections` (100 by default, shared with the test process and whatever else runs) caps how
many hold a connection at once, so a semaphore lets ALERT_STORM_CONNECTIONS (default 40) of them
in at a time. The race that matters, many first occurrences inserting at the same instant, is
there in full: the first wave of 40 all find no open incident and try to insert.
"""

import os
import threading
import time

import pytest
from django.db import connections

from incidents.alerts import services as alerts
from incidents.models import Incident, IncidentAlert, TimelineEvent
from itsm import roles
from tests.factories import AssignmentGroupFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

TRIGGERS = 200
CONNECTIONS = int(os.environ.get("ALERT_STORM_CONNECTIONS", "40"))


@pytest.fixture
def actor(transactional_db):
    return UserFactory(username="prometheus", roles=[roles.INTEGRATION])


@pytest.fixture
def service(transactional_db):
    return ServiceFactory(slug="payroll", owner_group=AssignmentGroupFactory(name="Payroll team"))


def run_storm(actor, keys: list[str], *, service=None, during=None) -> tuple[list, list]:
    """TRIGGERS concurrent triggers spread over `keys`; `during(storm_over)` runs in one more thread alongside."""
    workers = TRIGGERS + (1 if during else 0)
    barrier = threading.Barrier(workers)
    slots = threading.BoundedSemaphore(CONNECTIONS)
    results, errors = [], []
    lock = threading.Lock()

    def fire(index: int) -> None:
        barrier.wait()
        with slots:
            try:
                result = alerts.ingest_event(
                    actor,
                    action="trigger",
                    dedup_key=keys[index % len(keys)],
                    summary="Payroll database unreachable",
                    severity="critical",
                    source=f"probe-{index}",
                    service=service.slug if service else None,
                    details={"probe": index},
                )
                with lock:
                    results.append(result)
            except Exception as exc:  # reported by the test, with the thread's traceback in the message
                with lock:
                    errors.append(exc)
            finally:
                connections.close_all()  # this thread's own connection

    def storm_over() -> bool:
        with lock:
            return len(results) + len(errors) >= TRIGGERS

    def side() -> None:
        barrier.wait()
        try:
            during(storm_over)
        except Exception as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(TRIGGERS)]
    if during:
        threads.append(threading.Thread(target=side))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a storm thread hung"
    return results, errors


@pytest.fixture
def conflicts(monkeypatch) -> list[str]:
    """Records each lost insert race (an IntegrityError on the open-dedup-key constraint)."""
    seen: list[str] = []
    original = alerts._is_dedup_conflict

    def counting(exc) -> bool:
        found = original(exc)
        if found:
            seen.append(str(exc).splitlines()[0])
        return found

    monkeypatch.setattr(alerts, "_is_dedup_conflict", counting)
    return seen


def test_200_concurrent_triggers_with_one_key_make_one_incident_counting_200(actor, service, conflicts):
    results, errors = run_storm(actor, ["payroll-db-down"], service=service)

    assert errors == []
    # The race really happened: first occurrences inserted concurrently and the database refused all
    # but one (then those triggers counted on the winner's incident).
    assert conflicts, "no concurrent insert was refused; the storm did not race"
    assert all("incident_open_dedup_key_unique" in c for c in conflicts)
    print(f"storm: {len(conflicts)} concurrent inserts refused by the constraint")  # shown with -s
    assert len(results) == TRIGGERS
    incident = Incident.objects.get(dedup_key="payroll-db-down")  # exactly one, whatever the interleaving
    assert incident.alert_count == TRIGGERS
    assert sum(result.created for result in results) == 1
    assert {result.incident.pk for result in results} == {incident.pk}
    # Every occurrence was counted under the row lock: each saw a different count, 1 to 200.
    assert sorted(result.alert_count for result in results) == list(range(1, TRIGGERS + 1))
    # The timeline summarises instead of flooding: the first occurrence, then the 10th and the 100th.
    summaries = TimelineEvent.objects.filter(incident=incident, type="alert").order_by("id")
    counts = [event.data["count"] for event in summaries]
    assert counts == [1, 10, 100]
    assert IncidentAlert.objects.get(incident=incident).dedup_key == "payroll-db-down"
    assert TimelineEvent.objects.filter(incident=incident, type="created").count() == 1


def test_a_storm_over_several_keys_makes_one_incident_per_key(actor):
    keys = [f"host-{n}/disk" for n in range(10)]

    results, errors = run_storm(actor, keys)

    assert errors == []
    assert Incident.objects.count() == len(keys)
    assert sorted(Incident.objects.values_list("alert_count", flat=True)) == [TRIGGERS // len(keys)] * len(keys)
    assert sum(result.created for result in results) == len(keys)


def test_triggers_racing_resolves_lose_no_occurrence(actor, service):
    """Resolves while the storm runs: each resolve ends one incident, the next trigger opens another."""
    key = "flapping"
    resolved = []

    def resolve_now_and_then(storm_over) -> None:
        while not storm_over() and len(resolved) < 5:
            time.sleep(0.05)
            try:
                result = alerts.ingest_event(actor, action="resolve", dedup_key=key)
            except Exception as exc:  # a resolve before the first trigger committed: 404
                if "No incident" not in str(exc):
                    raise
                continue
            if result.changed:
                resolved.append(result.incident.pk)

    results, errors = run_storm(actor, [key], service=service, during=resolve_now_and_then)

    assert errors == []
    incidents = list(Incident.objects.filter(dedup_key=key).order_by("id"))
    assert sum(i.alert_count for i in incidents) == TRIGGERS  # no occurrence lost across the resolves
    assert sum(result.created for result in results) == len(incidents)
    assert len([i for i in incidents if i.is_open]) <= 1
    assert resolved, "no resolve landed during the storm"
    print(f"storm with resolves: {len(incidents)} incidents, counts {[i.alert_count for i in incidents]}")
    # Each effective resolve closed one incident; only the last one may still be open.
    assert len(incidents) == len(resolved) + (1 if incidents[-1].is_open else 0)
    states = [(i.number, i.state, i.resolution_code, i.alert_count) for i in incidents]
    assert all(not i.is_open for i in incidents[:-1]), states
    assert all(i.resolution_code == "auto_resolved" for i in incidents[:-1] if i.state == "resolved"), states
    # Every later incident is a recurrence linked to the first.
    links = [(i.pk, i.parent_id, i.state, i.opened_at.isoformat()) for i in incidents]
    assert all(i.parent_id == incidents[0].pk for i in incidents[1:]), links
