"""The major incident's merged timeline and its Markdown exports on PostgreSQL (UNION ALL of two
timeline tables, jsonb data, timestamptz), in a fixed number of queries."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.choices import TimelineType
from incidents.events import TIMELINE as INCIDENT_TIMELINE
from incidents.major import events, history, review
from incidents.major.choices import MajorTimelineType
from incidents.models import Incident
from itsm import roles
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


def test_merged_timeline_and_exports_on_postgresql(make_user, django_assert_num_queries, django_assert_max_num_queries):
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maya", last_name="Manager")
    mi = MajorIncidentFactory(state="in_review", manager=mim)
    linked = Incident.objects.bulk_create(
        Incident(number=f"INC8{i:06d}", title=f"report {i}", priority=3, major_incident=mi) for i in range(100)
    )
    INCIDENT_TIMELINE.write_many(
        INCIDENT_TIMELINE.row(incident, TimelineType.ALERT, None, {"count": i}, at=T0 + timedelta(seconds=i))
        for i, incident in enumerate(linked)
    )
    events.write(mi, MajorTimelineType.UPDATE_POSTED, mim, {"audience": "external", "status": "identified"}, at=T0)
    with django_assert_num_queries(1):
        entries = history.merged_entries(mi)
    tail = [e for e in entries if e.at >= T0]
    # The same moment: source order breaks the tie (the record's own timeline first).
    assert (tail[0].source, tail[0].type) == ("major_incident", "update_posted")
    assert (tail[1].source, tail[1].type, tail[1].data) == ("incident", "alert", {"count": 0})
    assert tail[-1].data == {"count": 99} and tail[-1].at == T0 + timedelta(seconds=99)
    with django_assert_max_num_queries(3):
        markdown = history.timeline_markdown(mi)
    assert (
        "| 2030-03-01 09:00:00 | " + mi.number + " | Update posted | Maya Manager | external update (identified) |"
        in markdown
    )
    prefilled = review.prefill_review(mi)
    assert prefilled.timeline_markdown == markdown
    assert history.review_markdown(mi).rstrip().endswith(markdown.rstrip())
