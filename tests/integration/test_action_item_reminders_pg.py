"""The overdue action item reminder on PostgreSQL: concurrent sweeps remind each item once a day.

Two (and more) sweeps run at the same moment in their own connections; `FOR UPDATE SKIP LOCKED`
makes each skip the items another holds, and the `reminded_on` marker (committed with the
outbox rows) makes the later one find nothing left. Every owner gets one notification per
record and channel, every item is marked once.
"""

import time
from datetime import date, timedelta

import pytest

from communications.models import Notification
from incidents.major import review
from incidents.major.models import ActionItem
from itsm import roles
from tests.helpers import run_in_threads
from tests.incidents.major.factories import MajorIncidentFactory

TODAY = date(2030, 3, 15)
OVERDUE = "major_incident.action_item_overdue"


@pytest.fixture
def overdue_items(transactional_db, make_user):
    manager = make_user(roles.MAJOR_INCIDENT_MANAGER, username="mim")
    owners = [make_user(roles.RESOLVER, username=f"owner{i}") for i in range(3)]
    items = []
    for m in range(3):
        mi = MajorIncidentFactory(state="in_review", manager=manager)
        for i in range(8):
            items.append(
                review.add_action_item(
                    mi,
                    actor=manager,
                    title=f"item {m}.{i}",
                    owner=owners[i % 3],
                    due_date=TODAY - timedelta(days=i + 1),
                )
            )
    return items, owners


def test_concurrent_sweeps_remind_each_item_once(overdue_items, monkeypatch):
    items, owners = overdue_items
    monkeypatch.setattr(review, "SWEEP_CHUNK", 4)  # several chunks, so the sweeps interleave
    real = review.notify.emit_events
    reminded: list[int] = []

    def slow(mi, occurrences):
        time.sleep(0.05)  # hold the row locks a while: the other sweeps must skip, not wait or repeat
        written = real(mi, occurrences)
        reminded.extend(item["id"] for o in occurrences for item in o.extra["action_items"])
        return written

    monkeypatch.setattr(review.notify, "emit_events", slow)
    results = run_in_threads(4, lambda i: review.remind_overdue_action_items(TODAY))
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(items)
    assert sorted(reminded) == sorted(item.pk for item in items)  # each item in exactly one reminder
    assert set(ActionItem.objects.values_list("reminded_on", flat=True)) == {TODAY}
    recipients = set(Notification.objects.filter(event=OVERDUE).values_list("recipient_user", flat=True))
    assert recipients == {o.pk for o in owners}
    # A later sweep the same day finds nothing; the next day reminds them all again.
    assert review.remind_overdue_action_items(TODAY) == 0
    assert review.remind_overdue_action_items(TODAY + timedelta(days=1)) == len(items)
