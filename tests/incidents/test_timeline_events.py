"""incidents.events writes through the shared timeline writer with API.md's data shapes unchanged.

Each writer's type and data are spelled out here as they were before the writer moved to
`itsm.timeline`: they are the API's timeline event, so any change to them is a breaking change.
"""

from datetime import UTC, datetime

import pytest

from incidents import events, services
from incidents.choices import TimelineType
from incidents.models import TimelineEvent
from tests.factories import UserFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def incident():
    return IncidentFactory(title="Printer on fire")


@pytest.fixture
def actor():
    return UserFactory(username="timeline-actor", is_superuser=True)


WRITERS = {
    "field_changed": (
        lambda i, a, c: events.field_changed(i, a, "impact", 3, 1),
        TimelineType.FIELD_CHANGED,
        lambda i, c: {"field": "impact", "old": 3, "new": 1},
    ),
    "assigned": (
        lambda i, a, c: events.assigned(i, a, None, 4, None, 9),
        TimelineType.ASSIGNED,
        lambda i, c: {"old_group": None, "group": 4, "old_assignee": None, "assignee": 9},
    ),
    "transitioned": (
        lambda i, a, c: events.transitioned(i, a, "start", "new", "in_progress"),
        TimelineType.TRANSITION,
        lambda i, c: {"name": "start", "from": "new", "to": "in_progress"},
    ),
    "commented": (
        lambda i, a, c: events.commented(i, a, c),
        TimelineType.COMMENTED,
        lambda i, c: {"comment": c.pk, "visibility": c.visibility},
    ),
    "watcher_added": (
        lambda i, a, c: events.watcher_added(i, a, 12),
        TimelineType.WATCHER_ADDED,
        lambda i, c: {"user": 12},
    ),
    "watcher_removed": (
        lambda i, a, c: events.watcher_removed(i, a, 12),
        TimelineType.WATCHER_REMOVED,
        lambda i, c: {"user": 12},
    ),
    "linked": (
        lambda i, a, c: events.linked(i, a, "problem", "PRB0000001"),
        TimelineType.LINKED,
        lambda i, c: {"kind": "problem", "target": "PRB0000001"},
    ),
    "unlinked": (
        lambda i, a, c: events.unlinked(i, a, "child", 5),
        TimelineType.UNLINKED,
        lambda i, c: {"kind": "child", "target": 5},
    ),
    "sla": (
        lambda i, a, c: events.sla(i, a, policy=2, kind="response", event="warning", percent=75, at=T0),
        TimelineType.SLA,
        lambda i, c: {"policy": 2, "kind": "response", "event": "warning", "percent": 75},
    ),
    "alert": (
        lambda i, a, c: events.alert(i, a, count=3, last_seen="2025-01-06T09:00:00Z", occurrences=[1, 2]),
        TimelineType.ALERT,
        lambda i, c: {"count": 3, "last_seen": "2025-01-06T09:00:00Z", "occurrences": [1, 2]},
    ),
    "workaround_applied": (
        lambda i, a, c: events.workaround_applied(i, a, 8),
        TimelineType.WORKAROUND_APPLIED,
        lambda i, c: {"known_error": 8},
    ),
}


@pytest.mark.parametrize("name", WRITERS)
def test_each_writer_stores_its_type_and_data(name, incident, actor):
    write, type_, data = WRITERS[name]
    comment = services.add_comment(incident, actor=actor, body="note")
    event = write(incident, actor, comment)
    stored = TimelineEvent.objects.get(pk=event.pk)
    assert (stored.incident_id, stored.type, stored.actor_id) == (incident.pk, type_, actor.pk)
    assert stored.data == data(incident, comment)


def test_created_records_number_channel_priority_and_state(incident):
    created = incident.timeline.get(type=TimelineType.CREATED)
    assert created.data == {
        "number": incident.number,
        "channel": incident.channel,
        "priority": incident.priority,
        "state": "new",
    }


def test_sla_keeps_the_given_time_and_the_system_has_no_actor(incident):
    event = events.sla(incident, None, policy=1, kind="resolution", event="breached", at=T0)
    stored = TimelineEvent.objects.get(pk=event.pk)
    assert stored.at == T0 and stored.actor_id is None
    assert stored.data == {"policy": 1, "kind": "resolution", "event": "breached", "percent": None}


def test_row_builders_are_unsaved_until_write_many(incident, actor, django_assert_num_queries):
    rows = [
        events.sla_row(incident, actor, policy=1, kind="response", event="started", at=T0),
        events.notified_row(incident, event="incident.created", channel="email", recipient="a@example.com"),
    ]
    assert [r.pk for r in rows] == [None, None]
    with django_assert_num_queries(1):
        events.write_many(rows)
    started, noted = TimelineEvent.objects.filter(pk__in=[r.pk for r in rows]).order_by("id")
    assert (started.type, started.actor_id, started.at) == (TimelineType.SLA, actor.pk, T0)
    assert started.data == {"policy": 1, "kind": "response", "event": "started", "percent": None}
    assert (noted.type, noted.actor_id) == (TimelineType.NOTIFIED, None)
    assert noted.data == {"event": "incident.created", "channel": "email", "recipient": "a@example.com"}
