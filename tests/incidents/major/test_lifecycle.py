"""The major incident lifecycle through `incidents.major.lifecycle`: propose, declare, reject,
resolve (with its linked incidents), review, close and the hand-off event; edits of the record."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from communications.models import Notification
from incidents.major import lifecycle, links
from incidents.major.models import (
    ActionItem,
    MajorIncident,
    MajorIncidentEvent,
    MajorIncidentSettings,
    PostIncidentReview,
    Responder,
    StakeholderUpdate,
)
from incidents.models import Incident, TimelineEvent
from itsm import roles
from itsm.exceptions import Conflict, InvalidTransition, StaleRecord
from itsm.models import DomainEvent
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

RESOLUTION = {"resolution_code": "fixed", "resolution_notes": "Failed over to the standby."}


def types(mi) -> list[str]:
    return list(MajorIncidentEvent.objects.filter(major_incident=mi).order_by("id").values_list("type", flat=True))


def incident_events(incident, type_=None) -> list[dict]:
    rows = TimelineEvent.objects.filter(incident=incident).order_by("id")
    if type_:
        rows = rows.filter(type=type_)
    return list(rows.values_list("data", flat=True))


def snapshot():
    """What a refused use case must leave untouched."""
    return (
        MajorIncident.objects.count(),
        MajorIncidentEvent.objects.count(),
        TimelineEvent.objects.count(),
        Notification.objects.count(),
        list(Incident.objects.order_by("id").values_list("id", "version", "major_incident_id", "state")),
        list(MajorIncident.objects.order_by("id").values_list("id", "version", "state")),
    )


@pytest.fixture
def colleague(make_user):
    """Another Major Incident Manager: the default rules tell MIMs, never the one who acted."""
    return make_user(roles.MAJOR_INCIDENT_MANAGER)


def told(event: str) -> set[str]:
    return set(Notification.objects.filter(event=event).values_list("recipient", flat=True))


@pytest.fixture
def p1(service):
    return IncidentFactory(title="Payments down", service=service, impact=1, urgency=1)


# --- propose ------------------------------------------------------------------------------------
def test_an_agent_proposes_with_defaults_from_the_incident(agent, mim, p1, service):
    version = p1.version
    mi = lifecycle.propose(actor=agent, incident=p1, reason="Every shop is down.")
    assert mi.state == "proposed" and mi.number.startswith("MIM")
    assert mi.title == "Payments down" and mi.reason == "Every shop is down." and mi.proposed_by == agent
    assert mi.update_cadence_minutes == MajorIncidentSettings.current().cadence_p1_minutes == 30
    assert [s.slug for s in mi.affected_services.all()] == [service.slug]
    p1.refresh_from_db()
    assert p1.major_incident_id == mi.pk and p1.version == version + 1
    assert incident_events(p1, "linked") == [{"kind": "major_incident", "target": mi.pk}]
    assert types(mi)[0] == "created"
    proposed = Notification.objects.filter(event="major_incident.proposed")
    assert mim.email in set(proposed.values_list("recipient", flat=True))
    assert not Notification.objects.filter(event="major_incident.declared").exists()


def test_cadence_defaults_to_the_default_cadence_below_p1(agent, service):
    incident = IncidentFactory(service=service, impact=2, urgency=2)
    mi = lifecycle.propose(actor=agent, incident=incident, reason="Many users.")
    assert mi.update_cadence_minutes == 60


def test_optional_fields_on_propose(agent, mim, comms_lead, p1):
    other = ServiceFactory(slug="shop")
    started = timezone.now() - timedelta(hours=2)
    mi = lifecycle.propose(
        actor=agent,
        incident=p1,
        reason="r",
        title="Checkout broken",
        manager=mim.pk,
        comms_lead=comms_lead,
        bridge_url="https://meet.example.com/mi",
        chat_channel="#mi",
        affected_services=["shop"],
        impact_summary="No orders",
        customers_affected=1200,
        impact_started_at=started,
        detected_at=started + timedelta(minutes=5),
        update_cadence_minutes=15,
    )
    assert (mi.title, mi.manager, mi.comms_lead, mi.update_cadence_minutes) == ("Checkout broken", mim, comms_lead, 15)
    assert list(mi.affected_services.all()) == [other] and mi.customers_affected == 1200


@pytest.mark.parametrize(
    "reason, fields, bad",
    [
        ("", {}, {"reason"}),
        ("   ", {"title": ""}, {"reason", "title"}),
        ("ok", {"manager": 999999, "affected_services": ["ghost"]}, {"manager", "affected_services"}),
        ("ok", {"impact_started_at": timezone.now() + timedelta(hours=1)}, {"impact_started_at"}),
        ("ok", {"update_cadence_minutes": 0, "colour": "red"}, {"update_cadence_minutes", "colour"}),
    ],
)
def test_bad_proposals_name_every_field_and_write_nothing(agent, p1, reason, fields, bad):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        lifecycle.propose(actor=agent, incident=p1, reason=reason, **fields)
    assert set(caught.value.message_dict) == bad
    assert snapshot() == before


def test_detection_before_impact_is_refused(agent, p1):
    now = timezone.now()
    with pytest.raises(ValidationError) as caught:
        lifecycle.propose(
            actor=agent, incident=p1, reason="r", impact_started_at=now, detected_at=now - timedelta(minutes=5)
        )
    assert set(caught.value.message_dict) == {"impact_started_at", "detected_at"}


def test_a_second_major_incident_for_the_incident_is_409_naming_the_first(agent, p1):
    first = lifecycle.propose(actor=agent, incident=p1, reason="r")
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        lifecycle.propose(actor=agent, incident=p1, reason="again")
    assert first.number in caught.value.detail and first.number in caught.value.errors["incident"][0]
    assert snapshot() == before


def test_an_incident_linked_to_a_live_major_incident_cannot_get_its_own(agent, mim, service):
    mi = MajorIncidentFactory(state="active")
    report = IncidentFactory(service=service)
    links.link_incidents(mi, actor=mim, incidents=[report])
    with pytest.raises(Conflict) as caught:
        lifecycle.propose(actor=agent, incident=report, reason="r")
    assert mi.number in caught.value.detail


def test_a_rejected_proposal_frees_the_incident(agent, mim, p1):
    first = lifecycle.propose(actor=agent, incident=p1, reason="r")
    lifecycle.run_transition(first, "reject", actor=mim, payload={"reason": "Only one user."})
    second = lifecycle.propose(actor=agent, incident=p1, reason="Now everyone.")
    assert second.pk != first.pk and Incident.objects.get(pk=p1.pk).major_incident_id == second.pk


def test_an_agent_may_not_declare_and_a_reader_may_not_propose(agent, reader, p1):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        lifecycle.propose(actor=agent, incident=p1, reason="r", declare=True)
    with pytest.raises(PermissionDenied):
        lifecycle.propose(actor=reader, incident=p1, reason="r")
    assert snapshot() == before


def test_a_manager_declares_at_once(mim, p1, make_user):
    colleague = make_user(roles.MAJOR_INCIDENT_MANAGER)
    mi = lifecycle.propose(actor=mim, incident=p1, reason="Everything is down.", declare=True)
    assert mi.state == "active" and mi.manager == mim
    assert mi.next_update_due_at == mi.declared_at + timedelta(minutes=30)
    assert mi.detected_at == mi.declared_at == mi.impact_started_at
    assert types(mi)[:3] == ["created", "role_changed", "transition"]
    transition = MajorIncidentEvent.objects.get(major_incident=mi, type="transition").data
    assert transition == {"name": "declare", "from": "proposed", "to": "active"}
    declared = Notification.objects.filter(event="major_incident.declared")
    assert colleague.email in set(declared.values_list("recipient", flat=True))
    assert not Notification.objects.filter(event="major_incident.proposed").exists()


# --- declare / reject ---------------------------------------------------------------------------
def test_declare_names_the_team_and_starts_the_cadence(mim, comms_lead, make_user, p1, agent):
    tech = make_user("Resolver")
    mi = lifecycle.propose(actor=agent, incident=p1, reason="r")
    version = mi.version
    mi = lifecycle.run_transition(
        mi,
        "declare",
        actor=mim,
        payload={"comms_lead": comms_lead.pk, "tech_lead": tech, "bridge_url": "https://b.example.com/1"},
        expected_version=version,
    )
    assert (mi.manager, mi.comms_lead, mi.tech_lead) == (mim, comms_lead, tech)
    assert mi.bridge_url == "https://b.example.com/1" and mi.version > version
    assert mi.next_update_due_at == mi.declared_at + timedelta(minutes=mi.update_cadence_minutes)
    roles = MajorIncidentEvent.objects.filter(major_incident=mi, type="role_changed").values_list("data", flat=True)
    assert {r["role"] for r in roles} == {"manager", "comms_lead", "tech_lead"}
    declared = Notification.objects.filter(event="major_incident.declared")
    assert {comms_lead.email, tech.email} <= set(declared.values_list("recipient", flat=True))


def test_declare_with_a_stale_version_is_412(mim, agent, p1):
    mi = lifecycle.propose(actor=agent, incident=p1, reason="r")
    with pytest.raises(StaleRecord):
        lifecycle.run_transition(mi, "declare", actor=mim, expected_version=mi.version - 1)


def test_reject_needs_a_reason(mim, agent, p1):
    mi = lifecycle.propose(actor=agent, incident=p1, reason="r")
    before = snapshot()
    for payload in ({}, {"reason": "  "}):
        with pytest.raises(ValidationError) as caught:
            lifecycle.run_transition(mi, "reject", actor=mim, payload=payload)
        assert set(caught.value.message_dict) == {"reason"}
    assert snapshot() == before


def test_reject_lets_every_incident_go(mim, agent, p1, service):
    mi = lifecycle.propose(actor=agent, incident=p1, reason="r")
    reports = [IncidentFactory(service=service) for _ in range(3)]
    links.link_incidents(mi, actor=mim, incidents=reports)
    mi = lifecycle.run_transition(mi, "reject", actor=mim, payload={"reason": "A single user."})
    assert mi.state == "rejected" and mi.rejection_reason == "A single user." and mi.rejected_at
    assert not Incident.objects.filter(major_incident=mi).exists()
    for incident in [p1, *reports]:
        assert incident_events(incident, "unlinked") == [{"kind": "major_incident", "target": mi.pk}]
    unlinked = MajorIncidentEvent.objects.filter(major_incident=mi, type="unlinked").values_list("data", flat=True)
    assert sorted(d["target"] for d in unlinked) == sorted(r.pk for r in reports)
    rejected = Notification.objects.filter(event="major_incident.rejected")
    assert agent.email in set(rejected.values_list("recipient", flat=True))


def test_an_agent_may_not_reject(agent, p1):
    mi = lifecycle.propose(actor=agent, incident=p1, reason="r")
    with pytest.raises(PermissionDenied):
        lifecycle.run_transition(mi, "reject", actor=agent, payload={"reason": "no"})


def test_a_transition_from_the_wrong_state_is_409_naming_the_state(mim):
    mi = MajorIncidentFactory(state="proposed")
    with pytest.raises(InvalidTransition) as caught:
        lifecycle.run_transition(mi, "resolve", actor=mim)
    assert caught.value.current_state == "proposed" and "proposed" in caught.value.detail
    assert caught.value.available == ["declare", "reject"]


# --- resolve ------------------------------------------------------------------------------------
def test_resolve_freezes_the_costs_and_releases_the_responders(mim, make_user, colleague):
    service = ServiceFactory(downtime_cost_per_hour="600.00")
    started = timezone.now() - timedelta(hours=2)
    mi = MajorIncidentFactory(state="active", affected_services=[service], impact_started_at=started)
    responder = Responder.objects.create(
        major_incident=mi, user=make_user(), paged_at=started, acknowledged_at=started + timedelta(minutes=30)
    )
    mi = lifecycle.run_transition(mi, "resolve", actor=mim)
    assert mi.state == "resolved" and mi.resolved_at and mi.mitigated_at and mi.next_update_due_at is None
    stored = MajorIncident.objects.get(pk=mi.pk)
    hours = Decimal((stored.resolved_at - started).total_seconds()) / 3600
    assert stored.estimated_cost == (hours * 600).quantize(Decimal("0.01"))
    assert stored.response_effort_cost > 0
    responder.refresh_from_db()
    assert responder.released_at == stored.resolved_at and responder.next_page_at is None
    assert colleague.email in told("major_incident.resolved")


def test_resolve_linked_needs_code_and_notes(mim):
    mi = MajorIncidentFactory(state="active")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        lifecycle.run_transition(mi, "resolve", actor=mim, payload={"resolve_linked": True})
    assert set(caught.value.message_dict) == {"resolution_code", "resolution_notes"}
    with pytest.raises(ValidationError) as caught:
        lifecycle.run_transition(
            mi,
            "resolve",
            actor=mim,
            payload={"resolve_linked": True, "resolution_code": "magic", "resolution_notes": "x"},
        )
    assert set(caught.value.message_dict) == {"resolution_code"}
    assert snapshot() == before


def test_resolve_linked_resolves_every_open_incident_once(mim, service, group):
    mi = MajorIncidentFactory(state="active")
    new = [IncidentFactory(service=service) for _ in range(3)]
    working = [IncidentFactory(service=service, state="in_progress", group=group) for _ in range(2)]
    held = IncidentFactory(service=service, state="on_hold", group=group)
    done = IncidentFactory(service=service, state="resolved", group=group)
    links.link_incidents(mi, actor=mim, incidents=[*new, *working, held, done])
    done_version = Incident.objects.get(pk=done.pk).version
    mi = lifecycle.run_transition(mi, "resolve", actor=mim, payload={"resolve_linked": True, **RESOLUTION})
    expected = sorted([mi.incident_id, *(i.pk for i in [*new, *working, held])])
    assert (
        sorted(Incident.objects.filter(state="resolved").exclude(pk=done.pk).values_list("id", flat=True)) == expected
    )
    for pk in expected:
        transitions = [d for d in incident_events(pk, "transition") if d["name"] == "resolve"]
        assert len(transitions) == 1
        incident = Incident.objects.get(pk=pk)
        assert (incident.resolution_code, incident.resolution_notes) == ("fixed", RESOLUTION["resolution_notes"])
    assert Incident.objects.get(pk=done.pk).version == done_version
    data = MajorIncidentEvent.objects.get(major_incident=mi, type="transition", data__name="resolve").data
    assert data["resolve_linked"] is True and sorted(data["resolved_incidents"]) == expected


# --- review and close ---------------------------------------------------------------------------
def test_start_review_prefills_the_timeline(mim):
    mi = MajorIncidentFactory(state="resolved")
    mi = lifecycle.run_transition(mi, "start_review", actor=mim)
    assert mi.state == "in_review" and mi.review_started_at
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert review.timeline_markdown.startswith(f"## Timeline of {mi.number}")


def test_close_is_409_listing_what_the_review_misses(mim):
    mi = MajorIncidentFactory(state="in_review")
    review = PostIncidentReview.objects.create(major_incident=mi, summary="s")
    item = ActionItem.objects.create(review=review, title="Add alerting")
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        lifecycle.run_transition(mi, "close", actor=mim)
    assert caught.value.errors["review"] == [
        "root_cause is empty",
        "lessons_learned is empty",
        f"action item {item.pk} (Add alerting) has no owner",
        f"action item {item.pk} (Add alerting) has no due date",
    ]
    assert snapshot() == before and not DomainEvent.objects.filter(name="major_incident.closed").exists()


def test_close_without_any_review_lists_the_required_parts(mim):
    mi = MajorIncidentFactory(state="in_review")
    with pytest.raises(Conflict) as caught:
        lifecycle.run_transition(mi, "close", actor=mim)
    assert caught.value.errors["review"] == ["summary is empty", "root_cause is empty", "lessons_learned is empty"]


def test_close_hands_off_to_problem_management(mim, colleague, service, django_capture_on_commit_callbacks):
    other = ServiceFactory(slug="zz-shop")
    mi = MajorIncidentFactory(state="resolved", affected_services=[service, other])
    reports = [IncidentFactory(service=service) for _ in range(2)]
    links.link_incidents(mi, actor=mim, incidents=reports)
    lifecycle.run_transition(mi, "start_review", actor=mim)
    PostIncidentReview.objects.filter(major_incident=mi).update(
        summary="Payments stopped.", root_cause="Expired certificate.", lessons_learned="Monitor expiry."
    )
    with django_capture_on_commit_callbacks(execute=True):
        mi = lifecycle.run_transition(mi, "close", actor=mim)
    assert mi.state == "closed" and mi.closed_at
    event = DomainEvent.objects.get(name="major_incident.closed")
    assert event.payload == {
        "id": mi.pk,
        "number": mi.number,
        "title": mi.title,
        "summary": "Payments stopped.",
        "root_cause": "Expired certificate.",
        "lessons_learned": "Monitor expiry.",
        "affected_services": sorted([service.slug, "zz-shop"]),
        "incident": mi.incident_id,
        "incidents": sorted([mi.incident_id, *(r.pk for r in reports)]),
        "closed_at": mi.closed_at.isoformat(),
    }
    assert event.dispatched_at is not None  # handed over after commit; nobody subscribes yet
    assert colleague.email in told("major_incident.closed")


# --- edits --------------------------------------------------------------------------------------
def test_update_records_roles_and_fields(mim, comms_lead):
    mi = MajorIncidentFactory(state="active", manager=mim)
    shop = ServiceFactory(slug="shop")
    mi = lifecycle.update_major_incident(
        mi,
        actor=mim,
        changes={
            "comms_lead": comms_lead.pk,
            "bridge_url": "https://b.example.com/2",
            "affected_services": ["shop"],
            "stakeholders": [comms_lead.pk],
            "customers_affected": 10,
        },
        expected_version=mi.version,
    )
    assert mi.comms_lead == comms_lead and list(mi.affected_services.all()) == [shop]
    assert list(mi.stakeholders.all()) == [comms_lead]
    role = MajorIncidentEvent.objects.get(major_incident=mi, type="role_changed").data
    assert role == {"role": "comms_lead", "old": None, "new": comms_lead.pk}
    changed = {
        e["field"]: e
        for e in MajorIncidentEvent.objects.filter(major_incident=mi, type="field_changed").values_list(
            "data", flat=True
        )
    }
    assert set(changed) == {"bridge_url", "affected_services", "stakeholders", "customers_affected"}
    assert changed["affected_services"]["new"] == ["shop"] and changed["stakeholders"]["new"] == [comms_lead.pk]


def test_an_unchanged_update_changes_nothing(mim):
    mi = MajorIncidentFactory(state="active", manager=mim, chat_channel="#mi")
    version = mi.version
    mi = lifecycle.update_major_incident(mi, actor=mim, changes={"chat_channel": "#mi", "manager": mim.pk})
    assert mi.version == version and types(mi) == []


def test_a_new_cadence_moves_the_next_update_due(mim):
    declared = timezone.now() - timedelta(minutes=50)
    mi = MajorIncidentFactory(state="active", declared_at=declared, next_update_due_at=declared + timedelta(minutes=30))
    mi = lifecycle.update_major_incident(mi, actor=mim, changes={"update_cadence_minutes": 15})
    assert mi.next_update_due_at == declared + timedelta(minutes=15)
    posted = timezone.now() - timedelta(minutes=5)
    StakeholderUpdate.objects.create(
        major_incident=mi, audience="internal", status="identified", body="b", posted_at=posted
    )
    mi = lifecycle.update_major_incident(mi, actor=mim, changes={"update_cadence_minutes": 45})
    assert mi.next_update_due_at == posted + timedelta(minutes=45)


@pytest.mark.parametrize(
    "changes, bad",
    [
        ({"manager": "nobody", "tech_lead": 10**9}, {"manager", "tech_lead"}),
        ({"affected_services": ["ghost", "nope"]}, {"affected_services"}),
        ({"mitigated_at": timezone.now() + timedelta(days=1)}, {"mitigated_at"}),
        ({"update_cadence_minutes": 1441, "customers_affected": -1}, {"update_cadence_minutes", "customers_affected"}),
        ({"bridge_url": "not a url", "title": " "}, {"bridge_url", "title"}),
        ({"stakeholders": [10**9]}, {"stakeholders"}),
        ({"state": "closed"}, {"state"}),
    ],
)
def test_bad_updates_name_every_field_and_write_nothing(mim, changes, bad):
    mi = MajorIncidentFactory(state="active")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        lifecycle.update_major_incident(mi, actor=mim, changes=changes)
    assert set(caught.value.message_dict) == bad
    assert snapshot() == before


def test_an_inactive_user_cannot_take_a_role(mim, make_user):
    gone = make_user(is_active=False)
    mi = MajorIncidentFactory(state="active")
    with pytest.raises(ValidationError) as caught:
        lifecycle.update_major_incident(mi, actor=mim, changes={"comms_lead": gone.pk})
    assert set(caught.value.message_dict) == {"comms_lead"}


def test_milestones_stay_in_order(mim):
    declared = timezone.now() - timedelta(hours=1)
    mi = MajorIncidentFactory(state="active", declared_at=declared, detected_at=declared, impact_started_at=declared)
    with pytest.raises(ValidationError) as caught:
        lifecycle.update_major_incident(mi, actor=mim, changes={"detected_at": declared + timedelta(minutes=10)})
    assert set(caught.value.message_dict) == {"detected_at"}
    with pytest.raises(ValidationError) as caught:
        lifecycle.update_major_incident(mi, actor=mim, changes={"mitigated_at": declared - timedelta(minutes=10)})
    assert set(caught.value.message_dict) == {"mitigated_at"}
    earlier = declared - timedelta(minutes=20)
    mi = lifecycle.update_major_incident(mi, actor=mim, changes={"impact_started_at": earlier})
    assert mi.impact_started_at == earlier


@pytest.mark.parametrize("state", ["closed", "rejected"])
def test_closed_and_rejected_records_are_frozen(mim, state):
    mi = MajorIncidentFactory(state=state)
    with pytest.raises(InvalidTransition) as caught:
        lifecycle.update_major_incident(mi, actor=mim, changes={"title": "new"})
    assert state in caught.value.detail


def test_only_managers_and_leads_edit(agent, comms_lead, mim):
    mi = MajorIncidentFactory(state="active", comms_lead=comms_lead)
    with pytest.raises(PermissionDenied):
        lifecycle.update_major_incident(mi, actor=agent, changes={"title": "x"})
    mi = lifecycle.update_major_incident(mi, actor=comms_lead, changes={"title": "Checkout down"})
    assert mi.title == "Checkout down"
