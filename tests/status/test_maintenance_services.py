"""Maintenance use cases: validation (400 writing nothing), permissions, transitions, versions,
the sweep's steps, notifications to service subscribers, and SLA clocks paused by a window."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from freezegun import freeze_time

from communications.models import Notification, Subscription
from incidents import services as incidents
from incidents.models import SlaClock
from itsm import roles
from itsm.exceptions import InvalidTransition, StaleRecord
from status.maintenance import services as maintenance
from status.models import MaintenanceWindow
from status.page import cache as page_cache
from status.tasks import sweep_maintenance

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def body(**overrides):
    fields = {
        "title": "Upgrade",
        "description": "Read-only.",
        "services": ["payroll"],
        "starts_at": NOW + H,
        "ends_at": NOW + 3 * H,
    }
    fields.update(overrides)
    return fields


# --- bad input: 400 naming the field, nothing written ---------------------------------------------
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"ends_at": NOW + H}, "ends_at"),  # ends when it starts
        ({"ends_at": NOW + H / 2}, "ends_at"),  # ends before it starts
        ({"services": []}, "services"),
        ({"services": ["nope"]}, "services"),
        ({"services": "payroll"}, "services"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": ""}, "description"),
        ({"starts_at": NOW - H, "ends_at": NOW + H}, "starts_at"),  # more than 5 minutes in the past
        ({"starts_at": NOW - 3 * H, "ends_at": NOW - 2 * H}, "ends_at"),  # over already
        ({"starts_at": datetime(2026, 6, 1, 9)}, "starts_at"),  # naive
        ({"pause_sla": "yes"}, "pause_sla"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(administrator, desk, overrides, field):
    with freeze_time(NOW), pytest.raises(ValidationError) as exc:
        maintenance.announce(actor=administrator, **body(**overrides))
    assert field in exc.value.message_dict
    assert not MaintenanceWindow.objects.exists() and not Notification.objects.exists()


def test_inactive_service_is_refused(administrator, desk):
    _, payroll, _ = desk
    payroll.active = False
    payroll.save()
    with freeze_time(NOW), pytest.raises(ValidationError) as exc:
        maintenance.announce(actor=administrator, **body())
    assert "services" in exc.value.message_dict


@pytest.mark.parametrize("role", [roles.SERVICE_DESK_AGENT, roles.RESOLVER, roles.READ_ONLY, roles.INTEGRATION])
def test_only_administrators_and_mims_announce(make_user, desk, role):
    with freeze_time(NOW), pytest.raises(PermissionDenied):
        maintenance.announce(actor=make_user(role), **body())
    assert not MaintenanceWindow.objects.exists()


def test_a_mim_announces(manager, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=manager, **body(services=["payroll", "mail", "payroll"]))
    assert window.state == "scheduled" and window.announced_at == NOW and window.version == 1
    assert sorted(window.services.values_list("slug", flat=True)) == ["mail", "payroll"]
    assert window.created_by == manager


def test_a_start_within_the_grace_starts_at_once(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body(starts_at=NOW - timedelta(minutes=2)))
    assert window.state == "in_progress" and window.started_at == NOW
    assert set(Notification.objects.values_list("event", flat=True)) <= {"maintenance.announced", "maintenance.started"}


# --- update ---------------------------------------------------------------------------------------
def test_update_changes_fields_and_bumps_the_version(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        window = maintenance.update_window(
            window, actor=administrator, changes={"title": "Bigger upgrade", "services": ["mail"]}, expected_version=1
        )
    assert window.title == "Bigger upgrade" and window.version == 2
    assert list(window.services.values_list("slug", flat=True)) == ["mail"]


def test_update_with_an_old_version_is_412_and_writes_nothing(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        with pytest.raises(StaleRecord):
            maintenance.update_window(window, actor=administrator, changes={"title": "x"}, expected_version=7)
    window.refresh_from_db()
    assert window.title == "Upgrade" and window.version == 1


def test_update_ending_before_the_start_is_400(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        with pytest.raises(ValidationError) as exc:
            maintenance.update_window(window, actor=administrator, changes={"ends_at": NOW})
    assert list(exc.value.message_dict) == ["ends_at"]
    window.refresh_from_db()
    assert window.ends_at == NOW + 3 * H


def test_a_running_window_keeps_its_start_but_may_end_later(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
    with freeze_time(NOW + 2 * H):
        maintenance.start_due()
        with pytest.raises(ValidationError) as exc:
            maintenance.update_window(window, actor=administrator, changes={"starts_at": NOW + 2 * H})
        assert "starts_at" in exc.value.message_dict
        window = maintenance.update_window(window, actor=administrator, changes={"ends_at": NOW + 5 * H})
    assert window.state == "in_progress" and window.ends_at == NOW + 5 * H


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_update_after_the_end_is_409(administrator, desk, final):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        if final == "cancelled":
            maintenance.cancel(window, actor=administrator)
    if final == "completed":
        with freeze_time(NOW + 4 * H):
            maintenance.sweep()
    with freeze_time(NOW + 5 * H), pytest.raises(InvalidTransition):
        maintenance.update_window(window, actor=administrator, changes={"title": "x"})


# --- cancel ---------------------------------------------------------------------------------------
def test_cancel_then_cancel_again_is_409(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        window = maintenance.cancel(window, actor=administrator, reason="Postponed")
        assert window.state == "cancelled" and window.cancelled_at == NOW and window.version == 2
        with pytest.raises(InvalidTransition):
            maintenance.cancel(window, actor=administrator)


def test_cancel_refused_for_an_agent(desk, administrator):
    agent, _, _ = desk
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        with pytest.raises(PermissionDenied):
            maintenance.cancel(window, actor=agent)
    window.refresh_from_db()
    assert window.state == "scheduled"


def test_state_is_protected(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
    with pytest.raises(AttributeError):
        window.state = "completed"


# --- the sweep ------------------------------------------------------------------------------------
def test_sweep_starts_and_completes_each_window_once(administrator, desk, django_capture_on_commit_callbacks):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
    with freeze_time(NOW + H / 2):
        assert maintenance.sweep() == (0, 0)
    with freeze_time(NOW + H):
        assert maintenance.start_due() == 1
        assert maintenance.start_due() == 0
    window.refresh_from_db()
    assert window.state == "in_progress" and window.started_at == NOW + H and window.version == 2
    with freeze_time(NOW + 3 * H):
        assert sweep_maintenance.delay().get() == {"started": 0, "completed": 1}
        assert maintenance.sweep() == (0, 0)
    window.refresh_from_db()
    assert window.state == "completed" and window.completed_at == NOW + 3 * H and window.version == 3


def test_a_window_missed_entirely_starts_and_completes_in_one_sweep(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
    with freeze_time(NOW + 10 * H):
        assert maintenance.sweep() == (1, 1)
    window.refresh_from_db()
    assert window.state == "completed"


def test_a_step_on_a_window_another_sweep_did_is_a_no_op(administrator, desk):
    with freeze_time(NOW):
        maintenance.announce(actor=administrator, **body())
    with freeze_time(NOW + H):
        due = maintenance._due("scheduled", "starts_at", NOW + H)
        assert maintenance.start_due() == 1
        # a second sweep that read the same due ids before the first acted
        assert maintenance._step(due[0], "scheduled", "starts_at", maintenance._start, NOW + H) is False
    assert (
        Notification.objects.filter(event="maintenance.started").count()
        == Notification.objects.filter(event="maintenance.started").values("recipient").distinct().count()
    )


def test_cancelled_windows_are_never_started(administrator, desk):
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
        maintenance.cancel(window, actor=administrator)
    with freeze_time(NOW + H):
        assert maintenance.sweep() == (0, 0)


# --- notifications --------------------------------------------------------------------------------
def test_service_subscriber_hears_of_announcement_start_completion_and_cancellation(administrator, desk):
    _, payroll, mail = desk
    Subscription.objects.create(email="watcher@example.com", service=payroll, events=["maintenance.*"])
    Subscription.objects.create(email="other@example.com", service=mail)
    with freeze_time(NOW):
        window = maintenance.announce(actor=administrator, **body())
    with freeze_time(NOW + H):
        maintenance.sweep()
    with freeze_time(NOW + 3 * H):
        maintenance.sweep()
    with freeze_time(NOW):
        cancelled = maintenance.announce(actor=administrator, **body(title="Second"))
        maintenance.cancel(cancelled, actor=administrator, reason="Postponed")
    sent = Notification.objects.filter(recipient="watcher@example.com").order_by("id")
    assert [n.event for n in sent] == [
        "maintenance.announced",
        "maintenance.started",
        "maintenance.completed",
        "maintenance.announced",
        "maintenance.cancelled",
    ]
    assert not Notification.objects.filter(recipient="other@example.com").exists()
    first = sent[0]
    assert first.subject_kind == "maintenance" and first.subject_id == window.pk
    assert first.public and "Upgrade" in first.message_subject and "Read-only." in first.body_text
    assert "Postponed" in sent[4].body_text


def test_notifications_are_public(administrator, desk):
    from communications.services import emit_many

    captured = []
    import status.maintenance.notify as notify_module

    original = notify_module.emit_many

    def spy(emissions):
        captured.extend(emissions)
        return original(emissions)

    notify_module.emit_many = spy
    try:
        with freeze_time(NOW):
            maintenance.announce(actor=administrator, **body())
    finally:
        notify_module.emit_many = original
    assert emit_many is original
    assert [e.public for e in captured] == [True]
    (emission,) = captured
    assert emission.subject.kind == "maintenance" and emission.subject.number.startswith("MNT")
    assert emission.subject.service_ids == (desk[1].pk,)
    assert "pause_sla" not in emission.context["maintenance"]


def test_status_page_cache_is_invalidated_after_commit(
    administrator, desk, monkeypatch, django_capture_on_commit_callbacks
):
    # The services invalidate after commit (their plain UPDATEs send no signal; the page's model
    # hooks add their own calls): every step leaves the cache invalidated, none before commit.
    calls = []
    monkeypatch.setattr(page_cache, "invalidate", lambda: calls.append(1))
    with freeze_time(NOW), django_capture_on_commit_callbacks(execute=False) as callbacks:
        window = maintenance.announce(actor=administrator, **body())
    assert calls == []
    for callback in callbacks:
        callback()
    assert calls  # announced: invalidated once committed
    steps = [
        (NOW + H, lambda: maintenance.start_due()),
        (NOW + H, lambda: maintenance.update_window(window, actor=administrator, changes={"title": "t2"})),
        (NOW + H, lambda: maintenance.cancel(window, actor=administrator)),
    ]
    for moment, step in steps:
        before = len(calls)
        with freeze_time(moment), django_capture_on_commit_callbacks(execute=True):
            step()
        assert len(calls) > before


# --- SLA clocks paused by a window ----------------------------------------------------------------
def resolution(incident) -> SlaClock:
    return SlaClock.objects.get(incident=incident, kind="resolution", stopped_at__isnull=True)


def open_incident(agent, service):
    return incidents.open_incident(actor=agent, title="Payroll slow", impact=2, urgency=2, service=service)


def announce_committed(django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        return maintenance.announce(**fields)


def test_a_pausing_window_moves_due_at_by_its_length(
    administrator, desk, sla_policies, django_capture_on_commit_callbacks
):
    agent, payroll, mail = desk
    with freeze_time(NOW):
        incident = open_incident(agent, payroll)
        other = open_incident(agent, mail)
        due = resolution(incident).due_at
        assert due == NOW + 8 * H
        announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
    with freeze_time(NOW + H + timedelta(seconds=30)), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    clock = resolution(incident)
    assert clock.stage == "paused" and clock.paused_since == NOW + H and clock.due_at is None
    with freeze_time(NOW + 3 * H + timedelta(seconds=40)), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    clock = resolution(incident)
    assert clock.stage == "running" and clock.running_since == NOW + 3 * H
    assert clock.due_at == due + 2 * H and clock.paused_seconds == 2 * 3600
    assert resolution(other).due_at == NOW + 8 * H  # another service: not paused
    sla_rows = [e.data for e in incident.timeline.filter(type="sla", data__kind="resolution")]
    assert [r["event"] for r in sla_rows] == ["started", "paused", "resumed"]
    assert sla_rows[1]["reason"].startswith("maintenance MNT")


def test_without_pause_sla_due_at_stays(administrator, desk, sla_policies, django_capture_on_commit_callbacks):
    agent, payroll, _ = desk
    with freeze_time(NOW):
        incident = open_incident(agent, payroll)
        announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body())
    for moment in (NOW + H, NOW + 3 * H):
        with freeze_time(moment), django_capture_on_commit_callbacks(execute=True):
            maintenance.sweep()
    clock = resolution(incident)
    assert clock.due_at == NOW + 8 * H and clock.paused_seconds == 0


def test_an_incident_opened_during_a_window_starts_paused(
    administrator, desk, sla_policies, django_capture_on_commit_callbacks
):
    agent, payroll, _ = desk
    with freeze_time(NOW):
        announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
    with freeze_time(NOW + H), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    with freeze_time(NOW + 2 * H):
        incident = open_incident(agent, payroll)
    assert resolution(incident).stage == "paused"
    with freeze_time(NOW + 3 * H), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    assert resolution(incident).due_at == NOW + 3 * H + 8 * H


def test_a_transition_during_the_window_keeps_the_pause(
    administrator, desk, sla_policies, django_capture_on_commit_callbacks
):
    agent, payroll, _ = desk
    with freeze_time(NOW):
        announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
    with freeze_time(NOW + H / 2):
        incident = open_incident(agent, payroll)
    with freeze_time(NOW + H), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    with freeze_time(NOW + 2 * H):
        incidents.run_transition(incident.pk, "start", actor=agent, payload={})
    assert resolution(incident).stage == "paused"
    response = SlaClock.objects.get(incident=incident, kind="response")
    assert response.stage == "met" and response.elapsed_seconds == 1800  # 08:30-09 ran, 09-10 paused


def test_cancelling_a_running_pausing_window_resumes_the_clocks(
    administrator, desk, sla_policies, django_capture_on_commit_callbacks
):
    agent, payroll, _ = desk
    with freeze_time(NOW):
        incident = open_incident(agent, payroll)
        window = announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
    with freeze_time(NOW + H), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    with freeze_time(NOW + 2 * H), django_capture_on_commit_callbacks(execute=True):
        maintenance.cancel(window, actor=administrator, reason="Done early")
    clock = resolution(incident)
    assert clock.stage == "running" and clock.running_since == NOW + 2 * H
    assert clock.due_at == NOW + 9 * H


def test_switching_pause_sla_off_while_running_resumes_retroactively(
    administrator, desk, sla_policies, django_capture_on_commit_callbacks
):
    agent, payroll, _ = desk
    with freeze_time(NOW):
        incident = open_incident(agent, payroll)
        window = announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
    with freeze_time(NOW + H), django_capture_on_commit_callbacks(execute=True):
        maintenance.sweep()
    with freeze_time(NOW + 2 * H), django_capture_on_commit_callbacks(execute=True):
        maintenance.update_window(window, actor=administrator, changes={"pause_sla": False})
    clock = resolution(incident)
    assert clock.stage == "running" and clock.due_at == NOW + 8 * H and clock.paused_seconds == 0


def test_create_costs_no_query_for_pauses_once_cached(desk, sla_policies, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent, payroll, _ = desk
    open_incident(agent, payroll)  # warms the caches
    with CaptureQueriesContext(connection) as ctx:
        open_incident(agent, payroll)
    assert not [q for q in ctx.captured_queries if "status_maintenancewindow" in q["sql"]]


# --- the pause source -----------------------------------------------------------------------------
def test_pause_source_answers_from_the_cache_and_reads_old_history_from_the_database(
    administrator, desk, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from status.maintenance.pauses import LOOKBACK, maintenance_pauses

    _, payroll, mail = desk
    with freeze_time(NOW):
        window = announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(pause_sla=True))
        announce_committed(django_capture_on_commit_callbacks, actor=administrator, **body(services=["mail"]))
        expected = [(NOW + H, NOW + 3 * H, f"maintenance MNT{window.pk:07d}: Upgrade")]
        assert maintenance_pauses([payroll.pk], NOW, NOW + 5 * H) == expected  # loads the cache
        with django_assert_num_queries(0):
            assert maintenance_pauses([payroll.pk], NOW, NOW + 5 * H) == expected
            assert maintenance_pauses([mail.pk], NOW, NOW + 5 * H) == []  # not pausing
            assert maintenance_pauses([payroll.pk], NOW, NOW + H / 2) == []  # not yet
    with freeze_time(NOW + LOOKBACK + 5 * H):
        assert maintenance_pauses([payroll.pk], NOW, NOW + LOOKBACK) == expected  # older than the cache: database
    with freeze_time(NOW + 2 * H), django_capture_on_commit_callbacks(execute=True):
        maintenance.start_due()
    with freeze_time(NOW + 2 * H), django_capture_on_commit_callbacks(execute=True):
        maintenance.cancel(window, actor=administrator)
    with freeze_time(NOW + 2 * H):
        assert maintenance_pauses([payroll.pk], NOW, NOW + 5 * H) == [(NOW + H, NOW + 2 * H, expected[0][2])]
