"""The shared timeline base: append-only rows, the writer, and the merged view across records.

Incidents' `TimelineEvent` is the concrete subclass exercised here; any practice's timeline
model behaves the same, being the same abstract base.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from incidents.choices import TimelineType
from incidents.models import Comment, Incident, TimelineEvent
from itsm.models import AppendOnlyModel, TimelineEntry
from itsm.timeline import MergedEntry, Timeline, TimelineSource, merged, merged_queryset
from tests.factories import UserFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
WRITER = Timeline(TimelineEvent)


@pytest.fixture
def two_incidents():
    return IncidentFactory(title="Major: VPN down"), IncidentFactory(title="Cannot reach VPN")


def test_incident_models_stand_on_the_shared_bases():
    assert issubclass(TimelineEvent, TimelineEntry) and issubclass(Comment, AppendOnlyModel)
    assert TimelineEntry._meta.abstract and AppendOnlyModel._meta.abstract
    assert TimelineEvent._meta.db_table == "incidents_timelineevent"
    assert {f.column for f in TimelineEvent._meta.concrete_fields} == {
        "id",
        "incident_id",
        "type",
        "actor_id",
        "at",
        "data",
    }
    assert TimelineEvent._meta.get_field("type").choices == TimelineType.choices


def test_an_entry_is_written_once_and_never_changed_or_deleted(two_incidents):
    incident, _ = two_incidents
    entry = WRITER.write(incident, TimelineType.FIELD_CHANGED, None, {"field": "title", "old": "a", "new": "b"})
    entry.data = {"forged": True}
    with pytest.raises(ValidationError, match="append-only"):
        entry.save()
    with pytest.raises(ValidationError, match="append-only"):
        entry.delete()
    stored = TimelineEvent.objects.get(pk=entry.pk)
    assert stored.data == {"field": "title", "old": "a", "new": "b"}


def test_a_deleted_actor_leaves_the_entry_with_no_actor(two_incidents):
    incident, _ = two_incidents
    user = UserFactory()
    entry = WRITER.write(incident, TimelineType.WATCHER_ADDED, user, {"user": user.pk})
    user.delete()
    assert TimelineEvent.objects.get(pk=entry.pk).actor_id is None


def test_row_is_unsaved_and_takes_a_record_or_its_id(two_incidents):
    incident, _ = two_incidents
    user = UserFactory()
    by_instance = WRITER.row(incident, TimelineType.ALERT, user, {"count": 2}, at=T0)
    by_id = WRITER.row(incident.pk, TimelineType.ALERT, AnonymousUser(), {"count": 3})
    assert by_instance.pk is None and by_id.pk is None
    assert by_instance.incident_id == by_id.incident_id == incident.pk
    assert by_instance.actor == user and by_instance.at == T0
    assert by_id.actor is None  # anything without a primary key is the system
    assert not TimelineEvent.objects.filter(type=TimelineType.ALERT).exists()


def test_write_inserts_one_entry_defaulting_at_to_now(two_incidents):
    incident, _ = two_incidents
    before = TimelineEvent.objects.count()
    entry = WRITER.write(incident, TimelineType.LINKED, None, {"kind": "problem", "target": 7})
    stored = TimelineEvent.objects.get(pk=entry.pk)
    assert TimelineEvent.objects.count() == before + 1
    assert (stored.incident_id, stored.type, stored.actor_id, stored.data) == (
        incident.pk,
        "linked",
        None,
        {"kind": "problem", "target": 7},
    )
    assert stored.at is not None


def test_write_many_inserts_in_order_in_one_statement(two_incidents, django_assert_num_queries):
    first, second = two_incidents
    rows = [
        WRITER.row(record, TimelineType.ALERT, None, {"count": n}, at=T0)
        for n, record in enumerate([first, second, first])
    ]
    with django_assert_num_queries(1):
        written = WRITER.write_many(rows)
    assert [e.pk is not None for e in written] == [True, True, True]
    stored = TimelineEvent.objects.filter(type=TimelineType.ALERT).order_by("id")
    assert [(e.incident_id, e.data["count"]) for e in stored] == [(first.pk, 0), (second.pk, 1), (first.pk, 2)]
    with django_assert_num_queries(0):
        assert WRITER.write_many([]) == []


def test_write_many_refuses_saved_or_foreign_rows(two_incidents):
    incident, _ = two_incidents
    saved = WRITER.write(incident, TimelineType.ALERT, None, {"count": 1})
    with pytest.raises(ValueError):
        WRITER.write_many([saved])
    with pytest.raises(ValueError):
        WRITER.write_many([Comment(incident=incident, body="not a timeline entry")])


def test_a_writer_needs_a_concrete_timeline_model_with_a_record_key():
    with pytest.raises(TypeError):
        Timeline(TimelineEntry)
    with pytest.raises(TypeError):
        Timeline(Incident)


def _entries(incident, *ats) -> list[TimelineEvent]:
    return [
        WRITER.write(incident, TimelineType.FIELD_CHANGED, None, {"field": "n", "old": None, "new": n}, at=at)
        for n, at in enumerate(ats)
    ]


def test_merged_orders_by_time_then_source_then_id(two_incidents):
    major, linked = two_incidents
    # Written so that ids disagree with the wanted order: the linked incident's entries first.
    l_early, l_tie, l_tie2 = _entries(linked, T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))
    m_tie, m_late = _entries(major, T0 + timedelta(minutes=5), T0 + timedelta(minutes=9))
    ids = [e.pk for e in (l_early, l_tie, l_tie2, m_tie, m_late)]
    sources = (
        TimelineSource("major incident", TimelineEvent.objects.filter(incident=major, pk__in=ids)),
        TimelineSource("incident", TimelineEvent.objects.filter(incident=linked, pk__in=ids)),
    )
    entries = merged(*sources)
    assert [(e.source, e.id) for e in entries] == [
        ("incident", l_early.pk),
        ("major incident", m_tie.pk),  # same time: the first source wins
        ("incident", l_tie.pk),  # same time, same source: by id
        ("incident", l_tie2.pk),
        ("major incident", m_late.pk),
    ]
    first = entries[0]
    assert first == MergedEntry(
        source="incident",
        model=TimelineEvent,
        record_id=linked.pk,
        id=l_early.pk,
        type="field_changed",
        actor_id=None,
        at=T0,
        data={"field": "n", "old": None, "new": 0},
    )
    assert first.get_type_display() == "Field changed"


def test_merged_reads_whole_timelines_of_several_records_in_one_query(two_incidents, django_assert_num_queries):
    major, linked = two_incidents
    agent = UserFactory()
    WRITER.write(linked, TimelineType.WATCHER_ADDED, agent, {"user": agent.pk})
    sources = (
        TimelineSource("major incident", major.timeline.all()),
        TimelineSource("incident", TimelineEvent.objects.filter(incident__in=[linked])),
    )
    with django_assert_num_queries(1):
        entries = merged(*sources)
    expected = sorted(
        [("major incident", 0, e) for e in major.timeline.all()] + [("incident", 1, e) for e in linked.timeline.all()],
        key=lambda t: (t[2].at, t[1], t[2].pk),
    )
    assert [(e.source, e.record_id, e.id, e.type, e.actor_id, e.at, e.data) for e in entries] == [
        (label, e.incident_id, e.pk, e.type, e.actor_id, e.at, e.data) for label, _, e in expected
    ]
    assert entries[-1].actor_id == agent.pk and entries[-1].type == "watcher_added"


def test_merged_limit_and_offset_are_applied_in_the_database(two_incidents, django_assert_num_queries):
    major, linked = two_incidents
    written = _entries(major, *(T0 + timedelta(minutes=2 * n) for n in range(4)))
    written += _entries(linked, *(T0 + timedelta(minutes=2 * n + 1) for n in range(4)))
    ids = [e.pk for e in written]
    sources = (
        TimelineSource("a", TimelineEvent.objects.filter(incident=major, pk__in=ids)),
        TimelineSource("b", TimelineEvent.objects.filter(incident=linked, pk__in=ids)),
    )
    in_order = [e.id for e in merged(*sources)]
    assert len(in_order) == 8
    with django_assert_num_queries(1) as captured:
        page = merged(*sources, limit=3, offset=2)
    assert [e.id for e in page] == in_order[2:5]
    sql = captured.captured_queries[0]["sql"].upper()
    assert "UNION ALL" in sql and "LIMIT 3" in sql and "ORDER BY" in sql
    assert [e.id for e in merged(*sources, limit=2)] == in_order[:2]
    assert merged_queryset(*sources).count() == 8


def test_a_single_source_is_merged_without_a_union(two_incidents):
    major, _ = two_incidents
    entries = merged(TimelineSource("major incident", major.timeline.all()), limit=1)
    assert [e.type for e in entries] == ["created"]


def test_merged_refuses_no_sources_sliced_sources_and_other_models(two_incidents):
    major, _ = two_incidents
    with pytest.raises(ValueError):
        merged()
    with pytest.raises(ValueError):
        merged(TimelineSource("sliced", major.timeline.all()[:5]))
    with pytest.raises(TypeError):
        merged(TimelineSource("comments", Comment.objects.all()))
