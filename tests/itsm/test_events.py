import pytest

from itsm import events
from itsm.models import DomainEvent
from itsm.tasks import sweep_domain_events

pytestmark = pytest.mark.django_db


def test_event_dispatched_after_commit_once(django_capture_on_commit_callbacks):
    seen = []
    events.subscribe("test.happened", lambda e: seen.append(e.payload["n"]))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = events.publish("test.happened", {"n": 1})
        assert seen == []  # nothing runs before commit
    assert len(callbacks) == 1
    assert seen == [1]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert events.dispatch(event.pk) is False  # already dispatched: a second delivery does nothing
    assert seen == [1]


def test_failing_subscriber_leaves_event_pending_for_the_sweep():
    calls = []

    def flaky(event):
        calls.append(event.pk)
        if len(calls) == 1:
            raise RuntimeError("boom")

    events.subscribe("test.flaky", flaky)
    event = DomainEvent.objects.create(name="test.flaky", payload={})
    assert events.dispatch(event.pk) is False
    event.refresh_from_db()
    assert event.dispatched_at is None and "boom" in event.last_error
    assert sweep_domain_events(older_than_seconds=0) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_publish_survives_a_broker_outage(monkeypatch, django_capture_on_commit_callbacks):
    from itsm import tasks

    def down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.dispatch_domain_event, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.outage", {})
    event.refresh_from_db()
    assert event.dispatched_at is None  # kept for the sweep, and the caller did not fail
