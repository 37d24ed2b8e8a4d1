"""itsm.timeline.merged on PostgreSQL: the UNION ALL of typed literals, jsonb and timestamptz columns."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.choices import TimelineType
from incidents.events import TIMELINE
from incidents.models import TimelineEvent
from itsm.timeline import TimelineSource, merged
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def test_merged_orders_and_limits_on_postgresql(django_assert_num_queries):
    major, linked = IncidentFactory(title="Major"), IncidentFactory(title="Linked")
    later = TIMELINE.write(linked, TimelineType.ALERT, None, {"count": 2, "nested": {"a": [1]}}, at=T0)
    tie = TIMELINE.write(major, TimelineType.ALERT, None, {"count": 1}, at=T0)
    first = TIMELINE.write(linked, TimelineType.ALERT, None, {"count": 0}, at=T0 - timedelta(seconds=1))
    sources = (
        TimelineSource("major incident", TimelineEvent.objects.filter(incident=major, type="alert")),
        TimelineSource("incident", TimelineEvent.objects.filter(incident=linked, type="alert")),
    )
    with django_assert_num_queries(1):
        entries = merged(*sources, limit=3)
    assert [(e.source, e.id) for e in entries] == [
        ("incident", first.pk),
        ("major incident", tie.pk),
        ("incident", later.pk),
    ]
    assert entries[2].data == {"count": 2, "nested": {"a": [1]}} and entries[2].at == T0
    assert [e.id for e in merged(*sources, limit=1, offset=1)] == [tie.pk]
