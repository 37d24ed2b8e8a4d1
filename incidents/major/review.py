"""The post-incident review (PIR) of a major incident and its action items (DOMAIN.md section 4).

Use cases the console and the API both call. Each runs in one transaction: lock the major
incident (then the review), check the client's version of the review, ask `policy`, check the
state, validate every field at once, change, bump the review's `version` (its ETag), write the
major incident's timeline (`review_changed`, `action_item`). Nothing is written on a refusal.

The review can be written while the major incident is active (preliminary notes), resolved or
in review; it is frozen once the major incident is closed or rejected (and there is nothing to
review while it is only proposed). Action items outlive the record: overdue ones remind their
owner once a day (`remind_overdue_action_items`, the beat sweep), closed record or not.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.major import common, events, history, notify, policy
from incidents.major.choices import MajorIncidentState as S
from incidents.major.choices import MajorTimelineType as T
from incidents.major.models import ActionItem, MajorIncident, PostIncidentReview
from itsm.exceptions import Conflict, StaleRecord

User = get_user_model()

# The review's text sections, in the order the document reads (API.md: the first, third to
# seventh; `timeline_markdown` is pre-filled at start_review and may be edited).
TEXT_FIELDS = (
    "summary",
    "timeline_markdown",
    "root_cause",
    "contributing_factors",
    "went_well",
    "went_badly",
    "lessons_learned",
)
ACTION_ITEM_FIELDS = ("title", "owner", "due_date", "done")
# What an item's owner may change without editing the review (reporting progress).
OWNER_FIELDS = {"done"}
# While proposed there is nothing to review; closed and rejected records are frozen.
EDITABLE_STATES = (S.ACTIVE, S.RESOLVED, S.IN_REVIEW)
MAX_TEXT = 100_000
MAX_TIMELINE = 1_000_000  # the pre-filled timeline of a large major incident is long
SWEEP_CHUNK = 200

OVERDUE_EVENT = "major_incident.action_item_overdue"


# --- helpers ------------------------------------------------------------------------------------
def _require_editable(mi: MajorIncident) -> None:
    """409 naming the state when the review may not change now."""
    if mi.state not in EDITABLE_STATES:
        label = S(mi.state).label.lower()
        raise Conflict(
            f"{mi.number} is {label}: its review can change only while it is active, resolved or in review.",
            errors={"state": [f"The major incident is {mi.state}."]},
        )


def _review_for_update(mi: MajorIncident) -> PostIncidentReview:
    """The review of `mi` (created if missing), row-locked for the rest of the transaction."""
    review, _ = PostIncidentReview.objects.get_or_create(major_incident=mi)
    return PostIncidentReview.objects.select_for_update().get(pk=review.pk)


def _check_review_version(review: PostIncidentReview, mi: MajorIncident, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != review.version:
        raise StaleRecord(
            f"The review of {mi.number} changed since you read it "
            f"(version {review.version}, you had {expected_version})."
        )


def _bump(review: PostIncidentReview, actor, update_fields: list[str]) -> None:
    review.version += 1
    review.updated_by = actor if getattr(actor, "pk", None) else None
    review.save(update_fields=sorted({*update_fields, "version", "updated_at", "updated_by"}))


def _clean_owner(value, errors: dict) -> User | None:
    """The owner as a user: an active user instance or id, or None (400 naming `owner` otherwise)."""
    if value is None:
        return None
    if isinstance(value, User):
        user = value
    elif isinstance(value, int) and not isinstance(value, bool):
        user = User.objects.filter(pk=value).first()
        if user is None:
            errors["owner"] = [f"No user with id {value}."]
            return None
    else:
        errors["owner"] = ["A user id is expected."]
        return None
    if not user.is_active:
        errors["owner"] = [f"{user.get_username()} is not an active user."]
        return None
    return user


def _clean_due_date(value, errors: dict) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            errors["due_date"] = ["A date (YYYY-MM-DD) is expected."]
            return None
    if isinstance(value, datetime) or not isinstance(value, date):
        errors["due_date"] = ["A date (YYYY-MM-DD) is expected."]
        return None
    return value


def _clean_title(value, errors: dict) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["title"] = ["A title is required."]
        return ""
    if len(value) > 255:
        errors["title"] = ["At most 255 characters."]
    return value.strip()


def _clean_done(value, errors: dict) -> bool:
    if not isinstance(value, bool):
        errors["done"] = ["true or false is expected."]
        return False
    return value


def _unknown(fields, known) -> dict[str, list[str]]:
    return {name: ["Unknown field."] for name in sorted(set(fields) - set(known), key=str)}


def item_view(item: ActionItem) -> dict:
    """An action item as notification templates and webhook receivers get it."""
    return {
        "id": item.pk,
        "title": item.title,
        "owner": item.owner_id,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "done": item.done,
    }


# --- the review ---------------------------------------------------------------------------------
def get_review(mi: MajorIncident) -> PostIncidentReview:
    """The review of `mi`, created empty on first read (readable in any state)."""
    review, _ = PostIncidentReview.objects.get_or_create(major_incident=mi)
    return review


@transaction.atomic
def update_review(
    mi: MajorIncident | int, *, actor, fields: dict, expected_version: int | None = None
) -> PostIncidentReview:
    """Set the review's text sections named in `fields` (the API's PUT sends all of them).

    403 unless `policy.can_edit_review`; 409 naming the state outside active/resolved/in review;
    412 when `expected_version` is not the review's version; 400 naming every unknown or
    invalid field. Writes `review_changed` {fields} on the major incident's timeline and bumps
    the review's version, only when something changed.
    """
    mi = common.lock(mi)
    review = _review_for_update(mi)
    _check_review_version(review, mi, expected_version)
    common.require(policy.can_edit_review(actor, mi))
    _require_editable(mi)
    errors = _unknown(fields, TEXT_FIELDS)
    for name, value in fields.items():
        if name not in TEXT_FIELDS:
            continue
        limit = MAX_TIMELINE if name == "timeline_markdown" else MAX_TEXT
        if value is not None and not isinstance(value, str):
            errors[name] = ["Text is expected."]
        elif value is not None and len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
    if errors:
        raise ValidationError(errors)
    changed = [name for name in TEXT_FIELDS if name in fields and (fields[name] or "") != getattr(review, name)]
    if not changed:
        return review
    for name in changed:
        setattr(review, name, fields[name] or "")
    _bump(review, actor, changed)
    events.write(mi, T.REVIEW_CHANGED, actor, {"fields": changed})
    return review


@transaction.atomic
def prefill_review(mi: MajorIncident | int) -> PostIncidentReview:
    """Fill the review's timeline section from the merged timeline (`start_review` calls this).

    Creates the review if needed; replaces only `timeline_markdown`, never what people wrote in
    the other sections. Recorded as `review_changed` {fields, prefilled: true} by the system.
    """
    mi = common.lock(mi)
    review = _review_for_update(mi)
    markdown = history.timeline_markdown(mi)
    if markdown != review.timeline_markdown:
        review.timeline_markdown = markdown
        _bump(review, None, ["timeline_markdown"])
        events.write(mi, T.REVIEW_CHANGED, None, {"fields": ["timeline_markdown"], "prefilled": True})
    return review


# --- action items -------------------------------------------------------------------------------
@transaction.atomic
def add_action_item(
    mi: MajorIncident | int, *, actor, title: str, owner=None, due_date: date | str | None = None, done: bool = False
) -> ActionItem:
    """Add a follow-up to the review: `title` (required), `owner` (an active user), `due_date`, `done`.

    403 unless `policy.can_edit_review`; 409 naming the state when the review is frozen; 400
    naming every bad field. Writes `action_item` {event: added, item, title} on the timeline.
    """
    mi = common.lock(mi)
    review = _review_for_update(mi)
    common.require(policy.can_edit_review(actor, mi))
    _require_editable(mi)
    errors: dict[str, list[str]] = {}
    title = _clean_title(title, errors)
    owner = _clean_owner(owner, errors)
    due_date = _clean_due_date(due_date, errors)
    done = _clean_done(done, errors)
    if errors:
        raise ValidationError(errors)
    item = ActionItem.objects.create(
        review=review,
        title=title,
        owner=owner,
        due_date=due_date,
        done=done,
        done_at=timezone.now() if done else None,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _bump(review, actor, [])
    events.write(mi, T.ACTION_ITEM, actor, {"event": "added", "item": item.pk, "title": item.title})
    return item


@transaction.atomic
def update_action_item(item: ActionItem | int, *, actor, changes: dict) -> ActionItem:
    """Change an action item's `title`, `owner`, `due_date` or `done`.

    Whoever edits the review changes anything; the item's owner may mark it done (or not done).
    `done` sets `done_at` (and clearing it clears `done_at`); a new due date lets the overdue
    reminder go out again. 403/409/400 as for `add_action_item`. Writes `action_item` {event:
    done (when it became done) or updated, item, title, fields} when something changed.
    """
    pk = item.pk if isinstance(item, ActionItem) else item
    mi_id = ActionItem.objects.filter(pk=pk).values_list("review__major_incident_id", flat=True).get()
    mi = common.lock(mi_id)  # the record first, as every major incident use case locks it
    item = ActionItem.objects.select_for_update().select_related("review").get(pk=pk)
    item.review.major_incident = mi
    common.require(policy.can_update_action_item(actor, item))
    if (set(changes) & set(ACTION_ITEM_FIELDS)) - OWNER_FIELDS and not policy.can_edit_review(actor, mi):
        raise PermissionDenied(
            f"Only Major Incident Managers and the leads of {mi.number} change an action item's title, "
            "owner or due date; its owner may mark it done."
        )
    _require_editable(mi)
    errors = _unknown(changes, ACTION_ITEM_FIELDS)
    cleaned: dict = {}
    if "title" in changes:
        cleaned["title"] = _clean_title(changes["title"], errors)
    if "owner" in changes:
        cleaned["owner"] = _clean_owner(changes["owner"], errors)
    if "due_date" in changes:
        cleaned["due_date"] = _clean_due_date(changes["due_date"], errors)
    if "done" in changes:
        cleaned["done"] = _clean_done(changes["done"], errors)
    if errors:
        raise ValidationError(errors)
    changed: list[str] = []
    for name, value in cleaned.items():
        current = item.owner_id if name == "owner" else getattr(item, name)
        new = value.pk if name == "owner" and value is not None else value
        if current != new:
            setattr(item, name, value)
            changed.append(name)
    if not changed:
        return item
    update_fields = [*changed, "updated_at"]
    if "done" in changed:
        item.done_at = timezone.now() if item.done else None
        update_fields.append("done_at")
    if "due_date" in changed:
        item.reminded_on = None  # a new deadline: remind again once it passes
        update_fields.append("reminded_on")
    item.save(update_fields=update_fields)
    _bump(item.review, actor, [])
    event = "done" if "done" in changed and item.done else "updated"
    events.write(mi, T.ACTION_ITEM, actor, {"event": event, "item": item.pk, "title": item.title, "fields": changed})
    return item


# --- the overdue reminder (beat sweep) ----------------------------------------------------------
def remind_overdue_action_items(today: date | None = None) -> int:
    """Remind the owners of open action items whose due date has passed; returns the items reminded.

    Any major incident's items (closed ones too: follow-ups outlive the record). Each item at
    most once per day (`reminded_on`); one notification per owner and major incident, listing
    their overdue items. Chunks of `SWEEP_CHUNK` items, each in one transaction: the rows are
    locked with `FOR UPDATE SKIP LOCKED` (a concurrent sweep skips them, then sees them marked),
    the notifications are queued in the outbox and the items marked together, so a reminder is
    never lost (the outbox sweep re-sends if the broker was down) and never sent twice.
    """
    today = today or timezone.localdate()
    total = 0
    while True:
        reminded = _remind_chunk(today)
        total += reminded
        if reminded < SWEEP_CHUNK:
            return total


@transaction.atomic
def _remind_chunk(today: date) -> int:
    """Remind up to SWEEP_CHUNK overdue items in one transaction; returns how many."""
    due = (
        ActionItem.objects.filter(done=False, due_date__lt=today, owner__isnull=False, owner__is_active=True)
        .filter(Q(reminded_on__isnull=True) | Q(reminded_on__lt=today))
        .select_for_update(skip_locked=True, of=("self",))
        # An owner's items of one record side by side (one message for them), most overdue first.
        .order_by("review_id", "owner_id", "due_date", "id")
    )
    items = list(due[:SWEEP_CHUNK])
    if not items:
        return 0
    reviews = PostIncidentReview.objects.filter(pk__in={i.review_id for i in items}).values_list(
        "pk", "major_incident_id"
    )
    mi_of_review = dict(reviews)
    majors = MajorIncident.objects.select_related("incident", "manager", "comms_lead", "tech_lead").in_bulk(
        set(mi_of_review.values())
    )
    grouped: dict[int, dict[int, list[ActionItem]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        grouped[mi_of_review[item.review_id]][item.owner_id].append(item)
    for mi_id, by_owner in grouped.items():
        mi = majors[mi_id]
        occurrences = [
            notify.Occurrence(
                OVERDUE_EVENT,
                None,
                extra={
                    "action_item": {**item_view(owned[0]), "days_overdue": (today - owned[0].due_date).days},
                    "action_items": [{**item_view(i), "days_overdue": (today - i.due_date).days} for i in owned],
                },
                public=False,
                recipients=[f"user:{owner_id}"],
            )
            for owner_id, owned in by_owner.items()
        ]
        notify.emit_events(mi, occurrences)
    ActionItem.objects.filter(pk__in=[i.pk for i in items]).update(reminded_on=today)
    return len(items)
