"""The merged timeline of a major incident and its Markdown exports (the timeline table, the whole PIR)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.choices import TimelineType
from incidents.events import TIMELINE as INCIDENT_TIMELINE
from incidents.major import events, history, review
from incidents.major.choices import MajorTimelineType
from incidents.major.models import MajorIncidentEvent
from incidents.models import Incident
from itsm import roles
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


def add_linked(mi, count: int) -> list[Incident]:
    """`count` incidents linked to `mi`, each with one alert event, written in bulk."""
    rows = Incident.objects.bulk_create(
        Incident(number=f"INC9{i:06d}", title=f"user report {i}", priority=3, major_incident=mi) for i in range(count)
    )
    linked = list(Incident.objects.filter(number__in=[r.number for r in rows]).order_by("id"))
    INCIDENT_TIMELINE.write_many(
        INCIDENT_TIMELINE.row(incident, TimelineType.ALERT, None, {"count": 1}, at=T0 + timedelta(seconds=i))
        for i, incident in enumerate(linked)
    )
    return linked


def add_own_events(mi, count: int, actor=None) -> None:
    events.TIMELINE.write_many(
        events.TIMELINE.row(
            mi,
            MajorTimelineType.UPDATE_POSTED,
            actor,
            {"audience": "internal", "status": "identified"},
            at=T0 + timedelta(seconds=i, milliseconds=500),
        )
        for i in range(count)
    )


def test_the_merged_timeline_interleaves_the_record_and_its_incidents_in_order(mim):
    mi = MajorIncidentFactory(manager=mim)
    (linked,) = add_linked(mi, 1)
    own = events.write(mi, MajorTimelineType.PAGED, mim, {"user": mim.pk}, at=T0 - timedelta(minutes=1))
    later = events.write(mi, MajorTimelineType.ACKNOWLEDGED, mim, {"user": mim.pk}, at=T0 + timedelta(minutes=1))
    entries = [e for e in history.merged_entries(mi) if e.at >= T0 - timedelta(minutes=1)]
    assert [(e.source, e.record_id, e.type) for e in entries] == [
        ("major_incident", mi.pk, "paged"),
        ("incident", linked.pk, "alert"),
        ("major_incident", mi.pk, "acknowledged"),
    ]
    assert entries[0].id == own.pk and entries[2].id == later.pk
    numbers = history.record_numbers(mi, entries)
    assert numbers == {("major_incident", mi.pk): mi.number, ("incident", linked.pk): linked.number}


def test_the_primary_incidents_events_are_in_even_if_its_link_moved():
    mi = MajorIncidentFactory()
    Incident.objects.filter(pk=mi.incident_id).update(major_incident=None)
    assert any(e.source == "incident" and e.record_id == mi.incident_id for e in history.merged_entries(mi))


def test_notified_rows_of_incidents_are_never_merged_and_the_review_leaves_out_its_own(mim):
    mi = MajorIncidentFactory(manager=mim)
    INCIDENT_TIMELINE.write(
        mi.incident, TimelineType.NOTIFIED, None, {"event": "x", "channel": "email", "recipient": "a"}
    )
    events.write(mi, MajorTimelineType.NOTIFIED, None, {"event": "major_incident.paged", "channel": "email"})
    events.write(mi, MajorTimelineType.REVIEW_CHANGED, mim, {"fields": ["summary"]})
    types = [(e.source, e.type) for e in history.merged_entries(mi)]
    assert ("incident", "notified") not in types and ("major_incident", "notified") in types
    review_types = {(e.source, e.type) for e in history.merged_entries(mi, for_review=True)}
    assert not review_types & {("major_incident", "notified"), ("major_incident", "review_changed")}
    markdown = history.timeline_markdown(mi)
    assert "Notified" not in markdown and "Review changed" not in markdown


def test_reading_the_timeline_costs_the_same_with_500_incidents_and_200_updates(
    mim, django_assert_num_queries, django_assert_max_num_queries
):
    mi = MajorIncidentFactory(manager=mim)
    add_linked(mi, 500)
    add_own_events(mi, 200, actor=mim)
    with django_assert_num_queries(1):
        entries = history.merged_entries(mi)
    assert sum(e.source == "incident" and e.type == "alert" for e in entries) == 500
    assert sum(e.type == "update_posted" for e in entries) == 200
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    with django_assert_num_queries(1):
        rows = list(history.merged_rows(mi)[:50])
    assert len(rows) == 50
    with django_assert_max_num_queries(3):
        markdown = history.timeline_markdown(mi)
    assert markdown.count("\n| ") == 2 + len(entries)  # header, rule, one row per entry
    with django_assert_max_num_queries(7):
        document = history.review_markdown(mi)
    assert "INC9000499" in document


def test_the_export_reads_a_fixed_number_of_queries_whatever_its_size(mim, django_assert_max_num_queries, make_user):
    small = MajorIncidentFactory(manager=mim, state="in_review")
    big = MajorIncidentFactory(manager=mim, state="in_review")
    add_linked(big, 50)
    add_own_events(big, 20, actor=make_user(roles.RESOLVER))
    for mi in (small, big):
        for i in range(5 if mi is big else 1):
            review.add_action_item(
                mi, actor=mim, title=f"t{i}", owner=make_user(roles.RESOLVER), due_date=date(2030, 1, 1)
            )
    counts = []
    for mi in (small, big):
        with CaptureQueriesContext(connection) as captured:
            history.review_markdown(mi)
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_markdown_cells_escape_pipes_newlines_and_html():
    assert history.cell("a|b") == "a\\|b"
    assert history.cell("one\ntwo\r\nthree\rfour") == "one<br>two<br>three<br>four"
    assert history.cell("back\\|slash") == "back\\\\\\|slash"
    assert history.cell("<script>") == "\\<script>"
    assert history.cell(None) == ""


def test_the_timeline_table_keeps_one_row_per_entry_whatever_the_data(mim, make_user):
    mi = MajorIncidentFactory(manager=mim, title="DB | proxy\ndown")
    odd = make_user(roles.RESOLVER, first_name="Pipe|", last_name="Name")
    events.write(mi, MajorTimelineType.ROLE_CHANGED, odd, {"role": "tech_lead", "note": "a|b\nc"}, at=T0)
    markdown = history.timeline_markdown(mi)
    assert markdown.startswith(f"## Timeline of {mi.number}: DB | proxy down\n")  # the heading on one line
    (row,) = [line for line in markdown.splitlines() if "tech_lead" in line]
    assert (
        row == f"| 2030-03-01 09:00:00 | {mi.number} | Role changed | Pipe\\| Name | role=tech_lead, note=a\\|b<br>c |"
    )
    body = markdown.splitlines()[2:]
    assert all(line.startswith("| ") and line.endswith(" |") for line in body)
    assert all(line.replace("\\|", "").count("|") == 6 for line in body)  # five cells each


def test_the_review_document_has_header_impact_sections_items_and_timeline(mim, comms_lead, make_user, service):
    owner = make_user(roles.RESOLVER, first_name="Olga", last_name="Owner")
    mi = MajorIncidentFactory(
        state="in_review",
        manager=mim,
        comms_lead=comms_lead,
        affected_services=[service],
        impact_started_at=T0,
        detected_at=T0 + timedelta(minutes=10),
        declared_at=T0 + timedelta(minutes=15),
        mitigated_at=T0 + timedelta(minutes=70),
        resolved_at=T0 + timedelta(minutes=95),
        customers_affected=1200,
        estimated_cost=Decimal("1583.33"),
        response_effort_cost=Decimal("250.00"),
        bridge_url="https://meet.example.com/x",
    )
    review.update_review(
        mi,
        actor=mim,
        fields={"summary": "Payroll was down.", "root_cause": "Expired certificate.", "lessons_learned": ""},
    )
    review.add_action_item(mi, actor=mim, title="Alert | on expiry", owner=owner, due_date=date(2030, 4, 1))
    review.add_action_item(mi, actor=mim, title="Runbook")
    document = history.review_markdown(mi)
    assert document.startswith(f"# Post-incident review: {mi.number} {mi.title}\n")
    assert f"- **Primary incident**: {mi.incident.number}" in document
    assert f"- **Affected services**: {service.name} ({service.slug})" in document
    assert "- **Major incident manager**: Maya Manager" in document
    assert "- **Communications lead**: Chris Comms" in document
    assert "| Impact started | 2030-03-01 09:00:00 |" in document
    assert "| Resolved | 2030-03-01 10:35:00 |" in document
    assert "- **Duration (impact start to resolution)**: 1 h 35 min" in document
    assert "- **Time to detect**: 0 h 10 min" in document
    assert "- **Customers affected**: 1200" in document
    assert "- **Estimated downtime cost**: 1583.33" in document
    assert "- **Response effort cost (not in the downtime cost)**: 250.00" in document
    assert "## Summary\n\nPayroll was down.\n" in document
    assert "## Lessons learned\n\n_Not written yet._\n" in document
    assert "| 1 | Alert \\| on expiry | Olga Owner | 2030-04-01 | no |" in document
    assert "| 2 | Runbook | unassigned | no due date | no |" in document
    order = [document.index(h) for h in ("## Business impact", "## Summary", "## Action items", "## Timeline of")]
    assert order == sorted(order)


def test_the_document_uses_the_reviews_own_timeline_once_prefilled(mim):
    mi = MajorIncidentFactory(state="in_review", manager=mim)
    live = history.review_markdown(mi)
    assert "## Timeline of" in live and "| time (UTC) |" in live
    review.update_review(mi, actor=mim, fields={"timeline_markdown": "## Timeline (edited)\n\n- 09:00 it broke"})
    edited = history.review_markdown(mi)
    assert edited.rstrip().endswith("## Timeline (edited)\n\n- 09:00 it broke") and "| time (UTC) |" not in edited


def test_a_record_with_nothing_recorded_still_exports(mim):
    mi = MajorIncidentFactory(state="proposed", manager=None)
    document = history.review_markdown(mi.pk)
    assert "## Business impact\n\nNot recorded.\n" in document
    assert "## Action items\n\nNone." in document
    assert MajorIncidentEvent.objects.filter(major_incident=mi).count() == 0
