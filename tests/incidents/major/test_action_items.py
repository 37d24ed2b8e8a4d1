"""Review action items: adding and changing them (who, when, what), and the daily overdue reminder."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from communications.models import Notification
from incidents.major import review
from incidents.major.models import ActionItem, MajorIncidentEvent, PostIncidentReview
from incidents.major.review_tasks import remind_action_items
from itsm import roles
from itsm.exceptions import Conflict
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

TODAY = date(2030, 3, 15)
OVERDUE = "major_incident.action_item_overdue"


@pytest.fixture
def owner(make_user):
    return make_user(roles.RESOLVER, first_name="Olga", last_name="Owner")


@pytest.fixture
def mi(mim, comms_lead):
    return MajorIncidentFactory(state="in_review", manager=mim, comms_lead=comms_lead)


def item_events(mi):
    return list(MajorIncidentEvent.objects.filter(major_incident=mi, type="action_item").values_list("data", flat=True))


def snapshot(mi):
    items = ActionItem.objects.filter(review__major_incident=mi).values(
        "title", "owner", "due_date", "done", "done_at", "reminded_on"
    )
    versions = PostIncidentReview.objects.filter(major_incident=mi).values_list("version", flat=True)
    return list(items), list(versions), MajorIncidentEvent.objects.filter(major_incident=mi).count()


# --- adding -------------------------------------------------------------------------------------
def test_add_action_item_stores_it_bumps_the_review_and_writes_the_timeline(mi, mim, owner):
    item = review.add_action_item(mi, actor=mim, title=" Alert on certificate expiry ", owner=owner.pk, due_date=TODAY)
    item.refresh_from_db()
    assert (item.title, item.owner, item.due_date, item.done, item.done_at) == (
        "Alert on certificate expiry",
        owner,
        TODAY,
        False,
        None,
    )
    assert item.created_by == mim and item.review.version == 2
    assert item_events(mi) == [{"event": "added", "item": item.pk, "title": "Alert on certificate expiry"}]


def test_an_item_added_done_has_done_at(mi, mim):
    item = review.add_action_item(mi, actor=mim, title="Renewed the certificate", owner=mim, done=True)
    assert item.done and item.done_at is not None


def test_bad_input_is_400_naming_every_field_and_writes_nothing(mi, mim):
    review.get_review(mi)
    before = snapshot(mi)
    with pytest.raises(ValidationError) as caught:
        review.add_action_item(mi, actor=mim, title="  ", owner=987654, due_date="next week", done="yes")
    assert set(caught.value.message_dict) == {"title", "owner", "due_date", "done"}
    assert caught.value.message_dict["owner"] == ["No user with id 987654."]
    assert snapshot(mi) == before


def test_an_inactive_owner_is_400_naming_owner(mi, mim, make_user):
    gone = make_user(roles.RESOLVER, is_active=False)
    with pytest.raises(ValidationError) as caught:
        review.add_action_item(mi, actor=mim, title="t", owner=gone)
    assert list(caught.value.message_dict) == ["owner"]
    assert not ActionItem.objects.exists()


@pytest.mark.parametrize("state", ["proposed", "closed", "rejected"])
def test_adding_to_a_frozen_record_is_409(state, mim):
    mi = MajorIncidentFactory(state=state, manager=mim)
    with pytest.raises(Conflict) as caught:
        review.add_action_item(mi, actor=mim, title="Too late")
    assert caught.value.errors == {"state": [f"The major incident is {state}."]}
    assert not ActionItem.objects.exists() and not PostIncidentReview.objects.exists()


@pytest.mark.parametrize("who", ["agent", "reader", "owner"])
def test_only_review_editors_add_items(who, request, mi):
    with pytest.raises(PermissionDenied):
        review.add_action_item(mi, actor=request.getfixturevalue(who), title="Mine")
    assert not ActionItem.objects.exists()


# --- changing -----------------------------------------------------------------------------------
@pytest.fixture
def item(mi, mim, owner):
    return review.add_action_item(mi, actor=mim, title="Alert on expiry", owner=owner, due_date=TODAY)


def test_marking_done_sets_done_at_and_undoing_clears_it(mi, item, owner):
    done = review.update_action_item(item, actor=owner, changes={"done": True})
    assert done.done and done.done_at is not None
    assert item_events(mi)[-1] == {"event": "done", "item": item.pk, "title": "Alert on expiry", "fields": ["done"]}
    undone = review.update_action_item(item.pk, actor=owner, changes={"done": False})
    assert not undone.done and undone.done_at is None
    assert item_events(mi)[-1]["event"] == "updated"
    assert PostIncidentReview.objects.get(major_incident=mi).version == 4  # added, done, undone


def test_an_editor_changes_every_field_and_a_new_due_date_rearms_the_reminder(mi, mim, item, make_user):
    ActionItem.objects.filter(pk=item.pk).update(reminded_on=TODAY)
    other = make_user(roles.RESOLVER)
    changed = review.update_action_item(
        item, actor=mim, changes={"title": "Alert 30 days before expiry", "owner": other.pk, "due_date": "2030-04-01"}
    )
    changed.refresh_from_db()
    assert (changed.title, changed.owner, changed.due_date, changed.reminded_on) == (
        "Alert 30 days before expiry",
        other,
        date(2030, 4, 1),
        None,
    )
    assert item_events(mi)[-1]["fields"] == ["title", "owner", "due_date"]


def test_a_change_to_the_same_values_writes_nothing(mi, mim, item, owner):
    before = snapshot(mi)
    review.update_action_item(item, actor=mim, changes={"title": "Alert on expiry", "owner": owner, "due_date": TODAY})
    assert snapshot(mi) == before


def test_the_owner_only_marks_done(mi, item, owner):
    before = snapshot(mi)
    with pytest.raises(PermissionDenied):
        review.update_action_item(item, actor=owner, changes={"done": True, "due_date": "2031-01-01"})
    assert snapshot(mi) == before


@pytest.mark.parametrize("who", ["agent", "reader"])
def test_anyone_else_is_403(who, request, mi, item):
    before = snapshot(mi)
    with pytest.raises(PermissionDenied):
        review.update_action_item(item, actor=request.getfixturevalue(who), changes={"done": True})
    assert snapshot(mi) == before


def test_bad_changes_are_400_naming_every_field(mi, mim, item):
    before = snapshot(mi)
    with pytest.raises(ValidationError) as caught:
        review.update_action_item(
            item, actor=mim, changes={"title": "", "owner": "olga", "due_date": "2030-02-30", "done": None, "x": 1}
        )
    assert set(caught.value.message_dict) == {"title", "owner", "due_date", "done", "x"}
    assert snapshot(mi) == before


def test_items_of_a_closed_record_are_frozen(mi, mim, item, owner):
    type(mi).objects.filter(pk=mi.pk).update(state="closed")
    before = snapshot(mi)
    with pytest.raises(Conflict):
        review.update_action_item(item, actor=owner, changes={"done": True})
    assert snapshot(mi) == before


# --- the overdue reminder -----------------------------------------------------------------------
def reminders(user=None):
    rows = Notification.objects.filter(event=OVERDUE)
    return rows.filter(recipient_user=user) if user is not None else rows


def test_an_overdue_item_reminds_its_owner_once_a_day(mi, item, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert review.remind_overdue_action_items(TODAY + timedelta(days=1)) == 1
    sent = reminders(owner).get()
    assert sent.subject_number == mi.number and sent.public is False
    item.refresh_from_db()
    assert item.reminded_on == TODAY + timedelta(days=1)
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="notified", data__event=OVERDUE).count() == 1

    assert review.remind_overdue_action_items(TODAY + timedelta(days=1)) == 0  # same day: nothing
    assert reminders().count() == 1
    assert review.remind_overdue_action_items(TODAY + timedelta(days=2)) == 1  # the next day: again
    assert reminders(owner).count() == 2


def test_only_open_overdue_items_with_an_active_owner_remind(mi, mim, owner, make_user):
    gone = make_user(roles.RESOLVER, is_active=False)
    review.add_action_item(mi, actor=mim, title="due today", owner=owner, due_date=TODAY)
    review.add_action_item(mi, actor=mim, title="done", owner=owner, due_date=TODAY - timedelta(days=3), done=True)
    review.add_action_item(mi, actor=mim, title="no owner", due_date=TODAY - timedelta(days=3))
    review.add_action_item(mi, actor=mim, title="no due date", owner=owner)
    overdue = review.add_action_item(mi, actor=mim, title="overdue", owner=owner, due_date=TODAY - timedelta(days=1))
    late = review.add_action_item(mi, actor=mim, title="left", owner=owner, due_date=TODAY - timedelta(days=2))
    ActionItem.objects.filter(pk=late.pk).update(owner=gone)
    assert review.remind_overdue_action_items(TODAY) == 1
    assert list(ActionItem.objects.exclude(reminded_on=None).values_list("pk", flat=True)) == [overdue.pk]


def capture(monkeypatch) -> list[tuple[str, object]]:
    """(record number, occurrence) of every reminder queued, still queued for real."""
    seen: list = []
    real = review.notify.emit_events

    def spy(mi, occurrences):
        seen.extend((mi.number, o) for o in occurrences)
        return real(mi, occurrences)

    monkeypatch.setattr(review.notify, "emit_events", spy)
    return seen


def test_one_reminder_per_owner_and_record_lists_their_items(mim, owner, make_user, monkeypatch):
    closed = MajorIncidentFactory(state="in_review", manager=mim)
    second = MajorIncidentFactory(state="in_review", manager=mim)
    other = make_user(roles.RESOLVER)
    for mi, title, days, who in [(second, "a", 5, owner), (second, "b", 2, owner), (closed, "c", 1, owner)]:
        review.add_action_item(mi, actor=mim, title=title, owner=who, due_date=TODAY - timedelta(days))
    review.add_action_item(second, actor=mim, title="d", owner=other, due_date=TODAY - timedelta(days=1))
    type(closed).objects.filter(pk=closed.pk).update(state="closed")  # follow-ups outlive the record
    seen = capture(monkeypatch)
    assert review.remind_overdue_action_items(TODAY) == 4
    got = sorted((number, o.recipients[0], [i["title"] for i in o.extra["action_items"]]) for number, o in seen)
    assert got == sorted(
        [
            (second.number, f"user:{owner.pk}", ["a", "b"]),  # most overdue first
            (second.number, f"user:{other.pk}", ["d"]),
            (closed.number, f"user:{owner.pk}", ["c"]),
        ]
    )
    assert reminders(owner).values("subject_number").distinct().count() == 2


def test_the_context_carries_the_items(mi, item, owner, monkeypatch):
    seen = capture(monkeypatch)
    review.remind_overdue_action_items(TODAY + timedelta(days=3))
    ((_, occurrence),) = seen
    assert occurrence.event_type == OVERDUE and occurrence.recipients == [f"user:{owner.pk}"]
    assert occurrence.extra["action_item"] == {
        "id": item.pk,
        "title": "Alert on expiry",
        "owner": owner.pk,
        "due_date": TODAY.isoformat(),
        "done": False,
        "days_overdue": 3,
    }
    assert [i["id"] for i in occurrence.extra["action_items"]] == [item.pk]


def test_a_failure_while_reminding_marks_nothing(mi, item, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(review.notify, "emit_events", broken)
    with pytest.raises(RuntimeError):
        review.remind_overdue_action_items(TODAY + timedelta(days=1))
    item.refresh_from_db()
    assert item.reminded_on is None and not reminders().exists()  # the next run tries again


def test_the_sweep_works_in_chunks(mi, mim, owner, monkeypatch):
    monkeypatch.setattr(review, "SWEEP_CHUNK", 2)
    for i in range(5):
        review.add_action_item(mi, actor=mim, title=f"item {i}", owner=owner, due_date=TODAY - timedelta(days=1))
    assert review.remind_overdue_action_items(TODAY) == 5
    assert not ActionItem.objects.filter(reminded_on=None).exists()


def test_the_beat_task_runs_the_sweep(mi, item, owner, monkeypatch):
    monkeypatch.setattr(review.timezone, "localdate", lambda: TODAY + timedelta(days=1))
    assert remind_action_items.delay().get() == 1
    assert reminders(owner).exists()
