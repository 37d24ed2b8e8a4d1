"""The alert intake's PostgreSQL hot path and the Redis throttle, on the real services.

On PostgreSQL a repeated trigger is counted by one autocommitted statement (a data-modifying CTE
through Django's ordinary cursor) and summaries are claimed by compare-and-set
(incidents.alerts.services); the throttle counts in Redis with one pipelined round trip
(itsm.api.throttling). Unit tests run on SQLite and LocMem, which take the other branches, so
these paths are proven here.
"""

import threading

import pytest
from django.db import connection, connections

from incidents.alerts import services as alerts
from incidents.models import Incident, TimelineEvent
from itsm import roles
from itsm.api.throttling import AlertRateThrottle, TokenRateThrottle
from tests.factories import AssignmentGroupFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def actor(transactional_db):
    return UserFactory(username="alertmanager", roles=[roles.INTEGRATION])


@pytest.fixture
def service(transactional_db):
    return ServiceFactory(slug="payments", owner_group=AssignmentGroupFactory(name="Payments team"))


def trigger(actor, key: str, index: int = 0):
    return alerts.ingest_event(
        actor,
        action="trigger",
        dedup_key=key,
        summary="Payments API 5xx",
        severity="error",
        source=f"probe-{index}",
        service="payments",
        details={"probe": index},
    )


def test_a_repeat_is_one_statement_and_summaries_land_at_powers_of_ten(actor, service):
    first = trigger(actor, "pay-5xx")
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        trigger(actor, "pay-5xx", 1)
    for index in range(2, 100):
        trigger(actor, "pay-5xx", index)

    incident = Incident.objects.get(pk=first.incident.pk)
    assert incident.alert_count == 100
    # The second occurrence: one statement, no BEGIN/COMMIT (autocommit), no summary.
    assert len(statements) == 1, [sql[:80] for sql in statements]
    assert "WITH bumped AS" in statements[0]
    summaries = TimelineEvent.objects.filter(incident=incident, type="alert").order_by("id")
    assert [(e.data["count"], e.data["occurrences"]) for e in summaries] == [(1, 1), (10, 9), (100, 90)]
    assert incident.alert.details == {"probe": 99} and incident.alert.source == "probe-99"
    assert incident.alert.summarised_count == 100


def test_concurrent_repeats_write_each_summary_once(actor, service):
    trigger(actor, "pay-burst")
    barrier = threading.Barrier(30)
    errors = []

    def fire(index: int) -> None:
        barrier.wait()
        try:
            for n in range(3):
                trigger(actor, "pay-burst", index * 10 + n)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads), "a trigger thread hung"
    assert not errors, errors
    incident = Incident.objects.get(dedup_key="pay-burst")
    assert incident.alert_count == 91
    counts = list(
        TimelineEvent.objects.filter(incident=incident, type="alert")
        .order_by("id")
        .values_list("data__count", flat=True)
    )
    assert counts[0] == 1 and len(counts) == len(set(counts))  # never the same summary twice
    assert 10 in counts  # the tenth occurrence's summary was claimed by exactly one request
    # Every occurrence is accounted for by the summaries' `occurrences` up to the last one.
    occurrences = sum(
        TimelineEvent.objects.filter(incident=incident, type="alert").values_list("data__occurrences", flat=True)
    )
    assert occurrences == incident.alert.summarised_count


def test_the_throttle_counts_in_redis_and_refusals_do_not_count(api, actor, monkeypatch):
    from django.core.cache import cache, caches

    assert "redis" in type(caches["default"]).__module__  # the pipelined branch
    monkeypatch.setattr(AlertRateThrottle, "THROTTLE_RATES", {"alerts": "3/min", "token": "1000/min"})
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"alerts": "3/min", "token": "1000/min"})
    client = api.as_user(actor)
    body = {"action": "trigger", "summary": "Queue depth high", "severity": "warning", "dedup_key": "queue"}

    codes = [client.post("/api/v1/alerts/", body, format="json").status_code for _ in range(6)]

    assert codes[:3] == [202, 202, 202] and set(codes[3:]) == {429}
    assert Incident.objects.get(dedup_key="queue").alert_count == 3
    keys = [k for k in cache.keys("throttle_alerts_*")]
    assert len(keys) == 1 and int(cache.get(keys[0])) == 3  # the refused three were un-counted


@pytest.mark.parametrize(("rate", "batch"), [("1000/min", 10), ("6000/min", 50)])
def test_at_high_rates_a_process_reserves_a_batch_and_still_stops_at_the_limit(actor, rate, batch, monkeypatch):
    from types import SimpleNamespace

    from django.core.cache import caches

    from itsm.api import throttling

    monkeypatch.setattr(AlertRateThrottle, "THROTTLE_RATES", {"alerts": rate, "token": "1000/min"})
    limit = int(rate.split("/")[0])
    assert throttling.grant_batch(limit) == batch
    request = SimpleNamespace(user=actor, META={"REMOTE_ADDR": "127.0.0.1"})
    redis_calls = []
    client = caches["default"].client.get_client(write=True)
    original = client.pipeline
    monkeypatch.setattr(client, "pipeline", lambda **kw: redis_calls.append(1) or original(**kw))
    monkeypatch.setattr(caches["default"].client, "get_client", lambda write=True: client)

    with freeze_time_at_window_start():
        allowed = [AlertRateThrottle().allow_request(request, None) for _ in range(limit + 20)]

    assert allowed == [True] * limit + [False] * 20
    assert len(redis_calls) == limit // batch + 2 * 20  # one round trip per batch; a refusal also gives back
    (key,) = caches["default"].keys("throttle_alerts_*")
    assert int(caches["default"].get(key)) == limit  # refusals given back


def freeze_time_at_window_start():
    from freezegun import freeze_time

    return freeze_time("2026-03-02 10:00:00")


def test_every_repeat_between_summaries_is_one_plain_statement(actor, service):
    trigger(actor, "pay-repeat")
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        for index in range(2, 10):  # occurrences 2..9: no summary is due
            trigger(actor, "pay-repeat", index)

    assert len(statements) == 8 and all("WITH bumped AS" in sql for sql in statements)
    # The open states are inlined: the partial unique index's own condition, never input.
    assert all("state IN ('new', 'in_progress', 'on_hold')" in sql for sql in statements)
    with connection.cursor() as cursor:  # nothing prepared server-side: any connection pooler works
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)
    incident = Incident.objects.get(dedup_key="pay-repeat")
    assert incident.alert_count == 9 and incident.alert.details == {"probe": 9}


def test_concurrent_first_alerts_on_a_hand_opened_incident(actor, service):
    from incidents import services

    opened = services.open_incident(actor=actor, title="Payments slow", impact=2, urgency=2, dedup_key="by-hand")
    barrier = threading.Barrier(8)
    errors = []

    def fire(index: int) -> None:
        barrier.wait()
        try:
            trigger(actor, "by-hand", index)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    incident = Incident.objects.get(pk=opened.pk)
    assert incident.alert_count == 8
    assert incident.alert.severity == "error" and incident.alert.summary == "Payments API 5xx"
