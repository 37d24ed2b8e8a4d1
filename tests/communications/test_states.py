"""`Notification.status`: a protected state machine, moved only by its named transitions."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from communications.choices import Status
from communications.models import Notification

NOW = timezone.now()


def calls(notification: Notification):
    """Each transition with plausible arguments."""
    return {
        "suppress": lambda: notification.suppress("duplicate"),
        "hold_for_digest": lambda: notification.hold_for_digest(),
        "start_sending": lambda: notification.start_sending(NOW),
        "mark_sent": lambda: notification.mark_sent(NOW),
        "retry_later": lambda: notification.retry_later(NOW, 30, "HTTP 503"),
        "give_up": lambda: notification.give_up("HTTP 400"),
        "fold_into_digest": lambda: notification.fold_into_digest(Notification(pk=99)),
        "requeue": lambda: notification.requeue(8),
    }


S = Status
ALLOWED = {
    "suppress": ({S.PENDING}, S.SUPPRESSED),
    "hold_for_digest": ({S.PENDING}, S.HELD),
    "start_sending": ({S.PENDING, S.FAILED}, S.SENDING),
    "mark_sent": ({S.PENDING, S.SENDING, S.FAILED, S.DEAD}, S.SENT),
    "retry_later": ({S.SENDING}, S.FAILED),
    "give_up": ({S.SENDING}, S.DEAD),
    "fold_into_digest": ({S.HELD}, S.DIGESTED),
    "requeue": ({S.PENDING, S.FAILED, S.DEAD, S.SUPPRESSED, S.HELD}, S.PENDING),
}


@pytest.mark.parametrize("source", list(Status))
@pytest.mark.parametrize("name", list(ALLOWED))
def test_transition_matrix(name, source):
    notification = Notification(status=source, attempts=1, max_attempts=8)
    sources, target = ALLOWED[name]
    call = calls(notification)[name]
    if source in sources:
        assert can_proceed(getattr(notification, name))
        call()
        assert notification.status == target
    else:
        assert not can_proceed(getattr(notification, name))
        with pytest.raises(TransitionNotAllowed):
            call()
        assert notification.status == source  # nothing happened


def test_the_declared_moves_are_what_the_set_based_forms_use():
    for name, (sources, target) in ALLOWED.items():
        assert Notification.move(name) == ([s for s in Status.values if s in sources], target)
    with pytest.raises(LookupError):
        Notification.move("teleport")


def test_status_cannot_be_assigned():
    notification = Notification(status=Status.PENDING)
    with pytest.raises(AttributeError):
        notification.status = Status.SENT


def test_transitions_set_the_fields_that_go_with_them():
    row = Notification(status=Status.PENDING, attempts=0, max_attempts=2)
    row.start_sending(NOW)
    assert row.attempts == 1 and row.sending_started_at == NOW
    row.retry_later(NOW, 30, "HTTP 503")
    assert row.next_attempt_at == NOW + timedelta(seconds=30) and row.queued_at == NOW
    assert row.sending_started_at is None and row.last_error == "HTTP 503"
    row.start_sending(NOW)
    row.give_up("HTTP 400")
    assert row.status == Status.DEAD and row.next_attempt_at is None
    row.requeue(8)
    assert row.status == Status.PENDING and row.max_attempts == 10  # a fresh budget
    row.mark_sent(NOW)
    assert row.sent_at == NOW and row.last_error == ""


@pytest.mark.django_db
def test_set_based_moves_touch_only_rows_in_a_source_state():
    rows = {
        status: Notification.objects.create(
            idempotency_key=status,
            event="x.y",
            occurred_at=NOW,
            channel="email",
            recipient="a@example.com",
            status=status,
        )
        for status in Status
    }
    ids = [row.pk for row in rows.values()]
    assert Notification.objects.filter(pk__in=ids).start_sending(timezone.now()) == 2  # pending, failed
    assert set(Notification.objects.filter(pk__in=ids, status=Status.SENDING).values_list("pk", flat=True)) == {
        rows[Status.PENDING].pk,
        rows[Status.FAILED].pk,
        rows[Status.SENDING].pk,
    }
    digest = rows[Status.SENT]
    assert Notification.objects.filter(pk__in=ids).fold_into_digest(digest) == 1  # held only
    rows[Status.HELD].refresh_from_db()
    assert rows[Status.HELD].status == Status.DIGESTED and rows[Status.HELD].digest == digest
