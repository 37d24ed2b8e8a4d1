"""Dispatched domain events are purged after a while; pending ones never are."""

from datetime import timedelta

import pytest
from django.utils import timezone

from itsm.models import DomainEvent
from itsm.tasks import purge_domain_events

pytestmark = pytest.mark.django_db


def test_purge_deletes_only_old_dispatched_events():
    now = timezone.now()
    old_done = [DomainEvent.objects.create(name="x", dispatched_at=now - timedelta(days=8)) for _ in range(3)]
    recent_done = DomainEvent.objects.create(name="x", dispatched_at=now - timedelta(days=1))
    pending = DomainEvent.objects.create(name="x")
    DomainEvent.objects.filter(pk=pending.pk).update(created_at=now - timedelta(days=30))
    assert purge_domain_events(older_than_days=7, batch=2) == 3
    left = set(DomainEvent.objects.values_list("pk", flat=True))
    assert left == {recent_done.pk, pending.pk}
    assert not left & {e.pk for e in old_done}
