"""The leased due-row sweep (itsm.sweep): claim once per lease, publish in chunks, release what did not go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from itsm import tasks
from itsm.models import DomainEvent
from itsm.sweep import LeasedSweep

pytestmark = pytest.mark.django_db

SWEEP = LeasedSweep(DomainEvent)
LEASE = timedelta(minutes=5)


def events(n: int) -> list[int]:
    return [DomainEvent.objects.create(name="thing.happened").pk for _ in range(n)]


def claim(now, limit=100):
    return SWEEP.claim(DomainEvent.objects.all(), now=now, lease=LEASE, limit=limit, order_by=("id",))


def test_a_claimed_row_is_not_claimed_again_until_its_lease_expires():
    ids = events(3)
    now = timezone.now()
    assert claim(now, limit=2) == ids[:2]
    assert claim(now + timedelta(seconds=1)) == ids[2:]  # the leased two are skipped
    assert claim(now + timedelta(seconds=2)) == []
    assert claim(now + LEASE + timedelta(seconds=1)) == ids[:2]  # lost: taken again


def test_publish_stops_at_the_first_refusal_and_releases_the_rest():
    ids = events(5)
    now = timezone.now()
    assert claim(now) == ids
    sent: list[list[int]] = []

    def send(part):
        if len(sent) == 2:
            return False  # the broker went away
        sent.append(part)
        return True

    assert SWEEP.publish(ids, send, chunk=2, leased_at=now) == 4
    assert sent == [ids[0:2], ids[2:4]]
    leased = set(DomainEvent.objects.filter(queued_at__isnull=False).values_list("id", flat=True))
    assert leased == set(ids[:4])  # the refused one is free for the next sweep
    assert claim(now + timedelta(seconds=1)) == ids[4:]


def test_release_keeps_a_newer_lease():
    [pk] = events(1)
    first = timezone.now()
    claim(first)
    later = first + LEASE + timedelta(seconds=1)
    assert claim(later) == [pk]
    SWEEP.release([pk], leased_at=first)  # the first sweep's late clean-up
    assert DomainEvent.objects.get(pk=pk).queued_at == later


def test_domain_event_sweep_resends_a_lost_event_once_per_lease(monkeypatch):
    [pk] = events(1)
    DomainEvent.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(minutes=1))
    sent = []
    monkeypatch.setattr(tasks, "send_now", lambda task, event_id: sent.append(event_id) or True)
    assert tasks.sweep_domain_events() == 1
    assert tasks.sweep_domain_events() == 0  # leased: not re-sent while a worker may be on it
    assert sent == [pk]
