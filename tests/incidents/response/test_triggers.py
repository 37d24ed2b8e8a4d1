"""Trigger rules: each kind fires once, after commit, never for an incident that has a major incident."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.major import lifecycle
from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.response import trigger_check, triggers
from incidents.response.models import TriggerFiring, TriggerRule
from itsm import roles
from itsm.models import DomainEvent
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

P1_CRITICAL = [
    {"field": "priority", "op": "eq", "value": 1},
    {"field": "service.criticality", "op": "eq", "value": "critical"},
]


@pytest.fixture
def mim(make_user):
    return make_user(roles.MAJOR_INCIDENT_MANAGER, username="maya")


@pytest.fixture
def critical(group):
    return ServiceFactory(slug="payments", criticality="critical", owner_group=group)


def rule(name="P1 on critical", conditions=P1_CRITICAL, **fields):
    return TriggerRule.objects.create(name=name, conditions=conditions, active=True, **fields)


def open_p1(service, capture, **fields):
    with capture(execute=True):
        return IncidentFactory(impact=1, urgency=1, service=service, **fields)


def test_any_p1_on_a_critical_service_proposes_once(critical, django_capture_on_commit_callbacks):
    r = rule()

    incident = open_p1(critical, django_capture_on_commit_callbacks)

    firing = TriggerFiring.objects.get()
    mi = MajorIncident.objects.get()
    assert (firing.rule, firing.incident, firing.event, firing.decision) == (r, incident, "created", "proposed")
    assert firing.major_incident == mi and mi.state == "proposed" and mi.incident == incident
    assert mi.reason.startswith("Trigger rule P1 on critical: priority eq 1")
    assert mi.proposed_by.username == "system"
    # Evaluated again (a redelivered event): nothing more.
    assert triggers.evaluate(incident) is None
    assert TriggerFiring.objects.count() == 1 and MajorIncident.objects.count() == 1


def test_rules_do_not_fire_for_other_incidents(critical, service, django_capture_on_commit_callbacks):
    rule()
    open_p1(service, django_capture_on_commit_callbacks)  # medium criticality
    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory(impact=2, urgency=2, service=critical)  # P3
    assert not TriggerFiring.objects.exists() and not MajorIncident.objects.exists()


def test_no_active_rule_publishes_nothing(critical, django_capture_on_commit_callbacks):
    TriggerRule.objects.create(name="off", conditions=P1_CRITICAL)  # inactive by default
    open_p1(critical, django_capture_on_commit_callbacks)
    assert not DomainEvent.objects.filter(name=triggers.EVENT_NAME).exists()
    assert not TriggerFiring.objects.exists()


def test_with_rules_off_a_create_asks_nothing_and_turning_one_on_is_seen_at_once(
    critical, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):  # committed: the flag may be cached
        off = TriggerRule.objects.create(name="off", conditions=P1_CRITICAL)
    incident = IncidentFactory(service=critical)
    assert trigger_check.any_active_rule() is False  # loaded once per process
    with django_assert_num_queries(0):
        trigger_check.request_check(incident, "created")
    with django_capture_on_commit_callbacks(execute=True):
        off.active = True
        off.save()  # the flag is forgotten: the next create publishes
    open_p1(critical, django_capture_on_commit_callbacks)
    assert DomainEvent.objects.filter(name=triggers.EVENT_NAME).count() == 1
    assert TriggerFiring.objects.get().rule == off


def test_first_matching_rule_wins_and_declare_declares(critical, django_capture_on_commit_callbacks):
    first = rule("declare it", position=1, action="declare")
    rule("propose it", position=2)

    incident = open_p1(critical, django_capture_on_commit_callbacks)

    firing = TriggerFiring.objects.get()
    assert firing.rule == first and firing.decision == "declared"
    assert firing.major_incident.state == "active" and firing.major_incident.incident == incident


def test_a_priority_change_fires(critical, django_capture_on_commit_callbacks):
    rule()
    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory(impact=3, urgency=3, service=critical)
    assert not TriggerFiring.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident, actor=incident.created_by, changes={"impact": 1, "urgency": 1})
    firing = TriggerFiring.objects.get()
    assert firing.event == "priority_changed" and firing.decision == "proposed"


def test_a_service_change_fires(critical, service, django_capture_on_commit_callbacks):
    rule()
    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory(impact=1, urgency=1, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident, actor=incident.created_by, changes={"service": critical})
    assert TriggerFiring.objects.get().event == "service_changed"


def test_never_for_an_incident_that_has_a_major_incident(critical, mim, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory(impact=3, urgency=3, service=critical)
    lifecycle.propose(actor=mim, incident=incident, reason="By hand.")
    rule()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident, actor=incident.created_by, changes={"impact": 1, "urgency": 1})
    assert triggers.evaluate(incident) is None
    assert not TriggerFiring.objects.exists() and MajorIncident.objects.count() == 1


def test_a_rule_fires_once_per_incident_even_after_a_rejection(critical, mim, django_capture_on_commit_callbacks):
    r = rule()
    incident = open_p1(critical, django_capture_on_commit_callbacks)
    mi = MajorIncident.objects.get()
    lifecycle.run_transition(mi, "reject", actor=mim, payload={"reason": "Not major."})
    incident.refresh_from_db()
    assert incident.major_incident_id is None  # free again

    assert triggers.evaluate(incident) is None  # the rule already fired for it
    assert triggers._record(r, incident, "created") is None  # the unique row, in a savepoint
    assert TriggerFiring.objects.count() == 1 and MajorIncident.objects.count() == 1


def test_n_incidents_on_one_service_within_m_minutes(critical, django_capture_on_commit_callbacks):
    r = rule("three in ten", conditions=[], count_threshold=3, window_minutes=10)
    other = ServiceFactory(slug="mail")
    with django_capture_on_commit_callbacks(execute=True):
        old = IncidentFactory(service=critical, opened_at=timezone.now() - timedelta(minutes=30))  # outside
        IncidentFactory(service=other)
        first = IncidentFactory(service=critical)
        second = IncidentFactory(service=critical)
    assert not TriggerFiring.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        third = IncidentFactory(service=critical)

    firing = TriggerFiring.objects.get()
    assert (firing.rule, firing.incident, firing.decision) == (r, third, "proposed")
    mi = firing.major_incident
    assert mi.incident == third
    assert set(Incident.objects.filter(major_incident=mi).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
        third.pk,
    }
    old.refresh_from_db()
    assert old.major_incident_id is None

    # A fourth of the same cluster joins the major incident instead of firing again.
    with django_capture_on_commit_callbacks(execute=True):
        fourth = IncidentFactory(service=critical)
    fourth.refresh_from_db()
    assert fourth.major_incident_id == mi.pk
    assert MajorIncident.objects.count() == 1
    assert TriggerFiring.objects.get(incident=fourth).decision == "suppressed"


def test_conditions_and_operators():
    class Svc:
        slug, criticality, customer_facing = "vpn", "high", True

    class Inc:
        priority, impact, urgency, channel, alert_severity = 2, 1, 2, "monitoring", "error"
        service_id, service, category_id = 1, Svc(), None

    def holds(*conditions):
        return triggers.conditions_hold(TriggerRule(conditions=list(conditions)), Inc())

    assert holds(
        {"field": "priority", "op": "lte", "value": 2}, {"field": "channel", "op": "eq", "value": "monitoring"}
    )
    assert not holds({"field": "priority", "op": "lt", "value": 2})
    assert holds({"field": "service.criticality", "op": "gte", "value": "high"})
    assert not holds({"field": "service.criticality", "op": "gt", "value": "high"})
    assert holds({"field": "alert.severity", "op": "in", "value": ["error", "critical"]})
    assert holds({"field": "alert.severity", "op": "not_in", "value": ["info"]})
    assert holds({"field": "service", "op": "ne", "value": "mail"})
    assert holds({"field": "service.customer_facing", "op": "eq", "value": True})
    assert holds({"field": "service.customer_facing", "op": "eq", "value": "true"})
    assert not holds({"field": "category", "op": "eq", "value": 3})


def test_a_category_condition_matches_children(critical, django_capture_on_commit_callbacks):
    from tests.factories import CategoryFactory

    network = CategoryFactory(name="Network")
    vpn = CategoryFactory(name="VPN", parent=network)
    rule("network P1", conditions=[{"field": "category", "op": "eq", "value": network.pk}])
    open_p1(critical, django_capture_on_commit_callbacks, category=vpn)
    assert TriggerFiring.objects.get().decision == "proposed"


def test_proposals_accepted_and_rejected_by_a_mim_show_in_the_stats(critical, mim, django_capture_on_commit_callbacks):
    r = rule()
    first = open_p1(critical, django_capture_on_commit_callbacks)
    second = open_p1(critical, django_capture_on_commit_callbacks)
    open_p1(critical, django_capture_on_commit_callbacks)
    accepted = MajorIncident.objects.get(incident=first)
    rejected = MajorIncident.objects.get(incident=second)

    lifecycle.run_transition(accepted, "declare", actor=mim)
    lifecycle.run_transition(rejected, "reject", actor=mim, payload={"reason": "A blip."})

    accepted.refresh_from_db()
    assert accepted.state == "active" and accepted.manager == mim
    stats = triggers.with_stats(TriggerRule.objects.filter(pk=r.pk)).get()
    assert (stats.fired, stats.proposed, stats.accepted, stats.rejected, stats.pending) == (3, 3, 1, 1, 1)
