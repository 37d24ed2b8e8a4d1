"""Related incidents: linking in bulk (a fixed number of queries), conflicts, unlinking, both timelines."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.major import links
from incidents.major.models import MajorIncident, MajorIncidentEvent
from incidents.models import Incident, TimelineEvent
from itsm.exceptions import Conflict, InvalidTransition
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        MajorIncidentEvent.objects.count(),
        TimelineEvent.objects.count(),
        list(Incident.objects.order_by("id").values_list("id", "version", "major_incident_id")),
        list(MajorIncident.objects.order_by("id").values_list("id", "version")),
    )


def reports(n, service):
    return [IncidentFactory(service=service) for _ in range(n)]


def test_link_writes_both_timelines(mim, service):
    mi = MajorIncidentFactory(state="active")
    incidents = reports(3, service)
    versions = {i.pk: i.version for i in incidents}
    linked = links.link_incidents(mi, actor=mim, incidents=[incidents[0].pk, incidents[1].number, incidents[2]])
    assert [i.pk for i in linked] == [i.pk for i in incidents]
    for incident in Incident.objects.filter(pk__in=versions):
        assert incident.major_incident_id == mi.pk and incident.version == versions[incident.pk] + 1
        data = TimelineEvent.objects.get(incident=incident, type="linked").data
        assert data == {"kind": "major_incident", "target": mi.pk}
    on_record = MajorIncidentEvent.objects.filter(major_incident=mi, type="linked").order_by("id")
    assert [e.data for e in on_record] == [{"kind": "incident", "target": i.pk, "number": i.number} for i in incidents]
    assert MajorIncident.objects.get(pk=mi.pk).version == mi.version + 1


def test_linking_again_is_a_no_op(mim, service):
    mi = MajorIncidentFactory(state="active")
    incidents = reports(2, service)
    links.link_incidents(mi, actor=mim, incidents=incidents)
    before = snapshot()
    assert links.link_incidents(mi, actor=mim, incidents=[*incidents, mi.incident]) == []
    assert snapshot() == before


def test_bulk_link_costs_the_same_for_5_and_50(mim, service):
    counts = []
    for n in (5, 50):
        mi = MajorIncidentFactory(state="active")
        incidents = reports(n, service)
        actor = type(mim).objects.get(pk=mim.pk)  # roles not yet cached, as in a request
        with CaptureQueriesContext(connection) as ctx:
            links.link_incidents(mi, actor=actor, incidents=[i.pk for i in incidents])
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12


def test_unknown_incidents_are_named_and_nothing_is_linked(mim, service):
    mi = MajorIncidentFactory(state="active")
    real = reports(1, service)[0]
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        links.link_incidents(mi, actor=mim, incidents=[real.pk, 999999, "INC0999999"])
    message = caught.value.message_dict["incidents"][0]
    assert "999999" in message and "INC0999999" in message
    with pytest.raises(ValidationError) as caught:
        links.link_incidents(mi, actor=mim, incidents=[True, "x y", -3])
    assert set(caught.value.message_dict) == {"incidents"}
    with pytest.raises(ValidationError):
        links.link_incidents(mi, actor=mim, incidents=[])
    assert snapshot() == before


def test_an_incident_of_another_live_major_incident_is_409_naming_it(mim, service):
    other = MajorIncidentFactory(state="proposed")
    taken = reports(1, service)[0]
    links.link_incidents(other, actor=mim, incidents=[taken])
    mi = MajorIncidentFactory(state="active")
    free = reports(1, service)[0]
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        links.link_incidents(mi, actor=mim, incidents=[free, taken])
    assert other.number in caught.value.detail and caught.value.errors["incidents"] == [
        f"{taken.number} belongs to major incident {other.number}."
    ]
    with pytest.raises(Conflict) as caught:  # the primary of another one
        links.link_incidents(mi, actor=mim, incidents=[other.incident])
    assert other.number in caught.value.detail
    assert snapshot() == before


def test_an_incident_moves_on_from_a_finished_major_incident(mim, service):
    old = MajorIncidentFactory(state="resolved")
    report = reports(1, service)[0]
    links.link_incidents(old, actor=mim, incidents=[report])
    mi = MajorIncidentFactory(state="active")
    links.link_incidents(mi, actor=mim, incidents=[report])
    assert Incident.objects.get(pk=report.pk).major_incident_id == mi.pk
    kinds = list(TimelineEvent.objects.filter(incident=report, type__in=["linked", "unlinked"]).order_by("id"))
    assert [(e.type, e.data["target"]) for e in kinds] == [("linked", old.pk), ("unlinked", old.pk), ("linked", mi.pk)]
    assert MajorIncidentEvent.objects.filter(major_incident=old, type="unlinked", data__target=report.pk).exists()


@pytest.mark.parametrize("state", ["in_review", "closed", "rejected"])
def test_links_only_while_the_response_runs(mim, service, state):
    mi = MajorIncidentFactory(state=state)
    with pytest.raises(InvalidTransition) as caught:
        links.link_incidents(mi, actor=mim, incidents=reports(1, service))
    assert state in caught.value.detail


def test_unlink_writes_both_timelines(mim, service):
    mi = MajorIncidentFactory(state="active")
    report = reports(1, service)[0]
    links.link_incidents(mi, actor=mim, incidents=[report])
    links.unlink_incident(mi, actor=mim, incident=report)
    report.refresh_from_db()
    assert report.major_incident_id is None
    assert TimelineEvent.objects.get(incident=report, type="unlinked").data == {
        "kind": "major_incident",
        "target": mi.pk,
    }
    assert MajorIncidentEvent.objects.get(major_incident=mi, type="unlinked").data == {
        "kind": "incident",
        "target": report.pk,
        "number": report.number,
    }
    before = snapshot()
    links.unlink_incident(mi, actor=mim, incident=report.pk)  # not linked any more: nothing to do
    assert snapshot() == before


def test_the_primary_cannot_be_unlinked(mim):
    mi = MajorIncidentFactory(state="active")
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        links.unlink_incident(mi, actor=mim, incident=mi.incident)
    assert mi.incident.number in caught.value.detail
    assert snapshot() == before


def test_who_links(agent, comms_lead, service):
    mi = MajorIncidentFactory(state="active", comms_lead=comms_lead)
    report = reports(1, service)[0]
    with pytest.raises(PermissionDenied):
        links.link_incidents(mi, actor=agent, incidents=[report])
    assert links.link_incidents(mi, actor=comms_lead, incidents=[report]) == [report]
