"""Stakeholder updates: posting (audiences, validation, states), cadence compliance, the overdue
reminder sweep (once per overdue period), and the sweep task."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from communications.models import Notification, Subscription
from incidents.major import updates
from incidents.major.models import MajorIncident, MajorIncidentEvent, StakeholderUpdate
from incidents.major.tasks import sweep_major_incidents
from itsm import roles
from itsm.exceptions import InvalidTransition
from tests.communications.factories import WebhookEndpointFactory
from tests.factories import ServiceFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.incidents.major.urls")]

POSTED = "major_incident.update_posted"
OVERDUE = "major_incident.update_overdue"


@pytest.fixture
def manager(make_user):
    return make_user(roles.SERVICE_DESK_AGENT, first_name="Mona", last_name="Manager")


@pytest.fixture
def staff_stakeholder(make_user):
    return make_user(first_name="Stella", last_name="Staff")


@pytest.fixture
def mi(manager, comms_lead, service, staff_stakeholder):
    return MajorIncidentFactory(
        manager=manager,
        comms_lead=comms_lead,
        bridge_url="https://meet.example.com/bridge",
        affected_services=[service],
        stakeholders=[staff_stakeholder],
        update_cadence_minutes=30,
    )


def reread(mi) -> MajorIncident:
    return MajorIncident.objects.get(pk=mi.pk)


def recipients(event=POSTED, **filters) -> set[str]:
    return set(Notification.objects.filter(event=event, channel="email", **filters).values_list("recipient", flat=True))


def written(mi) -> tuple:
    row = reread(mi)
    timeline = MajorIncidentEvent.objects.filter(major_incident=mi).count()
    rows = StakeholderUpdate.objects.count(), timeline, Notification.objects.count()
    return (*rows, row.version, row.next_update_due_at)


# --- post_update -----------------------------------------------------------------------------------
def test_an_internal_update_reaches_console_people_only(mi, comms_lead, staff_stakeholder, service, mim, make_user):
    outsider = make_user(is_staff=False)
    MajorIncident.stakeholders.through.objects.create(majorincident_id=mi.pk, user_id=outsider.pk)
    Subscription.objects.create(email="ceo@example.com", service=service)
    Subscription.objects.create(email="cfo@example.com", subject_kind="major_incident", subject_id=mi.pk)
    public_hook = WebhookEndpointFactory(events=[POSTED])
    version = mi.version
    before = timezone.now()

    update = updates.post_update(mi, actor=comms_lead, audience="internal", status="investigating", body=" Looking. ")

    assert update.body == "Looking." and update.author == comms_lead and before <= update.posted_at
    assert update.next_update_due_at == update.posted_at + timedelta(minutes=30)
    assert update.due_at is None and update.late_seconds == 0 and update.on_time
    row = reread(mi)
    assert row.next_update_due_at == update.next_update_due_at and row.version == version + 1
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="update_posted")
    assert event.actor == comms_lead
    assert event.data == {"update": update.pk, "audience": "internal", "status": "investigating", "late_seconds": 0}
    got = recipients()
    assert {staff_stakeholder.email, mim.email} <= got
    assert not got & {outsider.email, "ceo@example.com", "cfo@example.com", comms_lead.email}
    assert set(Notification.objects.filter(event=POSTED).values_list("public", flat=True)) == {False}
    assert not Notification.objects.filter(endpoint=public_hook).exists()
    body = Notification.objects.filter(event=POSTED, recipient=staff_stakeholder.email).get().body_text
    assert "Looking." in body and "https://meet.example.com/bridge" in body and "Chris Comms" in body


def test_an_external_update_reaches_subscribers_of_every_service_and_of_the_record(mi, comms_lead, service, make_user):
    second = ServiceFactory()
    mi.affected_services.add(second)
    outsider = make_user(is_staff=False)
    MajorIncident.stakeholders.through.objects.create(majorincident_id=mi.pk, user_id=outsider.pk)
    Subscription.objects.create(email="ceo@example.com", service=service)
    Subscription.objects.create(email="ops@partner.example", service=second)
    Subscription.objects.create(email="cfo@example.com", subject_kind="major_incident", subject_id=mi.pk)
    Subscription.objects.create(email="other@example.com", subject_kind="major_incident", subject_id=mi.pk + 1)
    hook = WebhookEndpointFactory(events=["major_incident.*"])

    updates.post_update(mi, actor=comms_lead, audience="external", status="identified", body="Database failed over.")

    got = recipients()
    assert {"ceo@example.com", "ops@partner.example", "cfo@example.com", outsider.email} <= got
    assert "other@example.com" not in got
    external = Notification.objects.get(event=POSTED, recipient="ceo@example.com")
    assert external.public and "Database failed over." in external.body_text
    # Nothing internal reaches the outside: no bridge, no staff names.
    assert "meet.example.com" not in external.body_text and "Chris Comms" not in external.body_text
    assert "Unsubscribe:" in external.body_text
    delivery = Notification.objects.get(endpoint=hook, event=POSTED)
    record = json.loads(delivery.body_text)["data"]["major_incident"]
    assert record["number"] == mi.number and set(record["affected_services"]) == {service.slug, second.slug}
    for internal in ("bridge_url", "chat_channel", "manager", "comms_lead", "tech_lead", "incident"):
        assert internal not in record


def test_cadence_compliance_is_recorded_on_each_update(mi, comms_lead):
    due = timezone.now() - timedelta(minutes=7)
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=due)
    late = updates.post_update(mi, actor=comms_lead, audience="external", status="identified", body="Late.")
    assert late.due_at == due and 7 * 60 <= late.late_seconds < 7 * 60 + 30 and not late.on_time
    chosen = timezone.now() + timedelta(minutes=10)
    on_time = updates.post_update(
        mi, actor=comms_lead, audience="internal", status="monitoring", body="Fix deployed.", next_update_due_at=chosen
    )
    assert on_time.due_at == late.next_update_due_at and on_time.late_seconds == 0
    assert reread(mi).next_update_due_at == on_time.next_update_due_at == chosen
    event = MajorIncidentEvent.objects.filter(major_incident=mi, type="update_posted").first()
    assert event.data["late_seconds"] == late.late_seconds


def test_cadence_compliance_summary(mi, comms_lead, django_assert_num_queries):
    assert updates.cadence_compliance(reread(mi)) == {
        "updates": 0,
        "on_time": 0,
        "late": 0,
        "on_time_percent": None,
        "worst_late_seconds": 0,
        "overdue_now": False,
    }
    for minutes_late in (0, 0, 5):
        MajorIncident.objects.filter(pk=mi.pk).update(
            next_update_due_at=timezone.now() - timedelta(minutes=minutes_late, seconds=1 if minutes_late else -60)
        )
        updates.post_update(mi, actor=comms_lead, audience="internal", status="identified", body="Now.")
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=timezone.now() - timedelta(minutes=1))
    summary = updates.cadence_compliance(reread(mi))
    assert summary["updates"] == 3 and summary["on_time"] == 2 and summary["late"] == 1
    assert summary["on_time_percent"] == 67 and 300 <= summary["worst_late_seconds"] < 330 and summary["overdue_now"]
    prefetched = MajorIncident.objects.prefetch_related("updates").get(pk=mi.pk)
    with django_assert_num_queries(0):
        assert updates.cadence_compliance(prefetched) == summary


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"audience": "everyone"}, {"audience"}),
        ({"status": "fixed"}, {"status"}),
        ({"body": "   "}, {"body"}),
        ({"body": ""}, {"body"}),
        ({"next_update_due_at": "PAST"}, {"next_update_due_at"}),
        ({"audience": "x", "status": "y", "body": "", "next_update_due_at": "PAST"}, {"audience", "status", "body"}),
    ],
)
def test_bad_input_is_400_naming_every_field_and_writes_nothing(mi, comms_lead, kwargs, fields):
    body = {"audience": "internal", "status": "identified", "body": "Text.", **kwargs}
    if body.get("next_update_due_at") == "PAST":
        body["next_update_due_at"] = timezone.now() - timedelta(minutes=1)
        fields = fields | {"next_update_due_at"}
    counts = written(mi)
    with pytest.raises(ValidationError) as excinfo:
        updates.post_update(mi, actor=comms_lead, **body)
    assert set(excinfo.value.message_dict) == fields
    assert written(mi) == counts


@pytest.mark.parametrize("state", ["proposed", "in_review", "closed", "rejected"])
def test_posting_is_409_naming_the_state_outside_active_and_resolved(comms_lead, state):
    mi = MajorIncidentFactory(state=state, comms_lead=comms_lead)
    counts = written(mi)
    with pytest.raises(InvalidTransition) as excinfo:
        updates.post_update(mi, actor=comms_lead, audience="internal", status="identified", body="x")
    assert excinfo.value.current_state == state and state in excinfo.value.detail
    assert written(mi) == counts


def test_a_final_update_after_resolve_sets_no_next_one(comms_lead):
    mi = MajorIncidentFactory(state="resolved", comms_lead=comms_lead)
    final = updates.post_update(mi, actor=comms_lead, audience="external", status="resolved", body="All good.")
    assert final.next_update_due_at is None and reread(mi).next_update_due_at is None
    with pytest.raises(ValidationError) as excinfo:
        updates.post_update(
            mi,
            actor=comms_lead,
            audience="external",
            status="resolved",
            body="Again.",
            next_update_due_at=timezone.now() + timedelta(hours=1),
        )
    assert set(excinfo.value.message_dict) == {"next_update_due_at"}


def test_only_the_comms_lead_the_manager_and_mims_post(mi, manager, mim, agent, reader, make_user):
    tech = make_user(roles.RESOLVER)
    MajorIncident.objects.filter(pk=mi.pk).update(tech_lead=tech)
    for outsider in (agent, reader, tech):
        with pytest.raises(PermissionDenied):
            updates.post_update(mi, actor=outsider, audience="internal", status="identified", body="x")
    assert not StakeholderUpdate.objects.exists()
    for allowed in (manager, mim):
        assert updates.post_update(mi, actor=allowed, audience="internal", status="identified", body="x").pk


# --- the overdue reminder sweep ------------------------------------------------------------------
def _overdue(mi, due):
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=due)


def test_the_reminder_goes_to_the_comms_lead_and_the_manager_once_per_period(mi, comms_lead, manager):
    due = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    _overdue(mi, due)
    version = reread(mi).version
    assert updates.remind_overdue_updates(due - timedelta(seconds=1)) == 0  # not due yet

    assert updates.remind_overdue_updates(due + timedelta(minutes=1)) == 1
    row = reread(mi)
    assert row.update_reminded_for == due and row.version == version  # bookkeeping, not a change
    assert recipients(OVERDUE) == {comms_lead.email, manager.email}
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="update_overdue")
    assert event.data == {"due_at": due.isoformat(), "period": 1, "overdue_seconds": 60}
    # Later in the same period: nothing; the next period: once more.
    assert updates.remind_overdue_updates(due + timedelta(minutes=29, seconds=59)) == 0
    assert updates.remind_overdue_updates(due + timedelta(minutes=30)) == 1
    assert updates.remind_overdue_updates(due + timedelta(minutes=45)) == 0
    assert reread(mi).update_reminded_for == due + timedelta(minutes=30)
    assert Notification.objects.filter(event=OVERDUE, channel="email").count() == 4
    second = Notification.objects.filter(event=OVERDUE).order_by("-id").first()
    assert "reminder 2" in second.body_text and second.public is False
    # Skipping periods (the beat was down) reminds once, for the period it is in now.
    assert updates.remind_overdue_updates(due + timedelta(minutes=125)) == 1
    assert reread(mi).update_reminded_for == due + timedelta(minutes=120)


def test_posting_an_update_ends_the_overdue_period(mi, comms_lead):
    due = timezone.now() - timedelta(minutes=2)
    _overdue(mi, due)
    assert updates.remind_overdue_updates() == 1
    updates.post_update(mi, actor=comms_lead, audience="internal", status="identified", body="Here.")
    assert updates.remind_overdue_updates() == 0
    next_due = reread(mi).next_update_due_at
    assert updates.remind_overdue_updates(next_due) == 1
    assert reread(mi).update_reminded_for == next_due


def test_without_comms_lead_and_manager_the_major_incident_managers_are_reminded(mim, make_user):
    mi = MajorIncidentFactory(manager=None, comms_lead=None)
    other = make_user(roles.MAJOR_INCIDENT_MANAGER)
    _overdue(mi, timezone.now() - timedelta(minutes=1))
    assert updates.remind_overdue_updates() == 1
    assert recipients(OVERDUE) == {mim.email, other.email}


def test_with_a_manager_the_mims_are_not_reminded_too(mi, mim):
    _overdue(mi, timezone.now() - timedelta(minutes=1))
    updates.remind_overdue_updates()
    assert mim.email not in recipients(OVERDUE)


@pytest.mark.parametrize("state", ["proposed", "resolved", "in_review"])
def test_only_active_records_are_reminded(state, comms_lead):
    mi = MajorIncidentFactory(state=state, comms_lead=comms_lead)
    _overdue(mi, timezone.now() - timedelta(hours=1))
    assert updates.remind_overdue_updates() == 0
    assert not Notification.objects.filter(event=OVERDUE).exists()


def test_the_beat_task_runs_both_sweeps(mi, mim, make_user):
    from incidents.major import responders

    (row,) = responders.page_responders(mi, actor=mim, user=make_user(roles.RESOLVER))
    type(row).objects.filter(pk=row.pk).update(next_page_at=timezone.now() - timedelta(seconds=1))
    _overdue(mi, timezone.now() - timedelta(minutes=1))
    assert sweep_major_incidents.delay().get() == {"repaged": 1, "update_reminders": 1}
    assert reread(mi).update_reminded_for is not None
    assert type(row).objects.get(pk=row.pk).page_count == 2
    assert sweep_major_incidents() == {"repaged": 0, "update_reminders": 0}


def test_the_sweep_is_in_the_beat_schedule():
    from itsm.celery import BEAT_SCHEDULE

    entry = next(e for e in BEAT_SCHEDULE.values() if e["task"] == "incidents.major.tasks.sweep_major_incidents")
    assert entry["schedule"] == 60.0
