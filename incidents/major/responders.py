"""The response team's pages: page people (or a group's members), page again, acknowledge, and the
re-page sweep that pages again whoever did not answer and finally tells the manager.

Pages are internal messages (`public=False`): they carry the bridge, the chat channel and a
signed acknowledge link, so they reach the paged person (explicitly, `user:<id>`) and the
webhook/chat endpoints that listen to `major_incident.paged` and take internal events
(`include_internal`); a service's subscribers never see them. Everything a page writes (the
responder row, the timeline, the outbox rows) commits in one transaction, so a broker outage
delays a page but never loses it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents.major import common, events, policy
from incidents.major.choices import LIVE_STATES, MajorTimelineType
from incidents.major.models import MajorIncident, MajorIncidentSettings, Responder
from incidents.major.notify import Occurrence, emit_events
from itsm.exceptions import InvalidTransition
from itsm.models import AssignmentGroup

User = get_user_model()

PAGED = "major_incident.paged"
UNANSWERED = "major_incident.page_unanswered"
ACKNOWLEDGE_SALT = "incidents.major.acknowledge"
ROLE_MAX_LENGTH = Responder._meta.get_field("role").max_length
SWEEP_LIMIT = 500  # responders per sweep; a bigger backlog is taken by the next minute's sweep
SWEPT_FIELDS = ["page_count", "last_paged_at", "paged_at", "next_page_at", "unanswered_at"]


# --- the signed acknowledge link ----------------------------------------------------------------
def acknowledge_token(responder: Responder) -> str:
    """A signed, URL-safe token naming one page (responder, person, major incident).

    No expiry and no timestamp: the link is only good while the major incident is live, which
    the view checks, and every page of one responder carries the same link.
    """
    data = {"r": responder.pk, "u": responder.user_id, "m": responder.major_incident_id}
    return signing.Signer(salt=ACKNOWLEDGE_SALT).sign_object(data, compress=True)


def read_acknowledge_token(token: str) -> dict | None:
    """{"r": responder id, "u": user id, "m": major incident id}, or None when forged or damaged."""
    try:
        data = signing.Signer(salt=ACKNOWLEDGE_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("r", "u", "m")):
        return None
    return data


def acknowledge_url(responder: Responder) -> str:
    """The absolute acknowledge link of one page (works without a login)."""
    path = reverse("major_incidents:acknowledge", args=[acknowledge_token(responder)])
    return settings.ITSM_SITE_URL.rstrip("/") + path


# --- helpers --------------------------------------------------------------------------------------
def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _require_live(mi: MajorIncident, what: str) -> None:
    """409 naming the state unless the major incident is proposed or active."""
    if mi.state not in LIVE_STATES:
        raise InvalidTransition(
            mi.number,
            what,
            mi.state,
            [],
            reason=f"{mi.number} is {mi.state}: responders are paged and acknowledge only while it is "
            "proposed or active.",
        )


def _lock_responder(responder: Responder | int) -> Responder:
    pk = responder.pk if isinstance(responder, Responder) else responder
    return Responder.objects.select_for_update(of=("self",)).select_related("user", "assignment_group").get(pk=pk)


def responder_context(responder: Responder, config: MajorIncidentSettings, *, with_link: bool = True) -> dict:
    """What page templates and webhook receivers get about one page (JSON data); the acknowledge
    link only for the page itself (`with_link`), never in messages to anyone else."""
    data = {
        "id": responder.pk,
        "user": responder.user_id,
        "name": _name(responder.user),
        "role": responder.role,
        "assignment_group": responder.assignment_group.name if responder.assignment_group_id else "",
        "page_count": responder.page_count,
        "max_pages": config.max_pages,
        "paged_at": responder.paged_at.isoformat() if responder.paged_at else None,
        "last_paged_at": responder.last_paged_at.isoformat() if responder.last_paged_at else None,
        "acknowledged_at": responder.acknowledged_at.isoformat() if responder.acknowledged_at else None,
    }
    if with_link:
        data["acknowledge_url"] = acknowledge_url(responder)
    return data


def _page_occurrence(responder: Responder, actor, config: MajorIncidentSettings) -> Occurrence:
    data = responder_context(responder, config)
    return Occurrence(
        PAGED,
        actor,
        extra={"responder": data, "acknowledge_url": data["acknowledge_url"]},
        public=False,
        recipients=[f"user:{responder.user_id}"],
    )


def _paged_row(mi: MajorIncident, responder: Responder, actor, *, automatic: bool = False):
    data = {
        "responder": responder.pk,
        "user": responder.user_id,
        "role": responder.role,
        "page_count": responder.page_count,
    }
    if automatic:
        data["automatic"] = True
    return events.TIMELINE.row(mi, MajorTimelineType.PAGED, actor, data)


def _as_id(value) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    pk = getattr(value, "pk", value)
    try:
        return int(pk)
    except (TypeError, ValueError):
        return None


def _people_to_page(user, assignment_group, role: str) -> tuple[list, AssignmentGroup | None]:
    """The people one request pages (and their group); ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    if (user is None) == (assignment_group is None):
        message = "Give exactly one of user or assignment_group."
        raise ValidationError({"user": [message], "assignment_group": [message]})
    if len(role) > ROLE_MAX_LENGTH:
        errors["role"] = [f"At most {ROLE_MAX_LENGTH} characters."]
    people: list = []
    group = None
    if user is not None:
        pk = _as_id(user)
        person = User.objects.filter(pk=pk).first() if pk is not None else None
        if person is None:
            errors["user"] = [f"No user with id {user!r}."]
        elif not person.is_active:
            errors["user"] = [f"{_name(person)} is not an active user."]
        elif not person.is_staff:
            # Pages are internal messages: only console users receive them (and can act on them).
            errors["user"] = [f"{_name(person)} is not a console user; only console users are paged."]
        else:
            people = [person]
    else:
        pk = _as_id(assignment_group)
        group = AssignmentGroup.objects.filter(pk=pk).first() if pk is not None else None
        if group is None:
            errors["assignment_group"] = [f"No assignment group with id {assignment_group!r}."]
        else:
            people = list(group.members.filter(is_active=True, is_staff=True).order_by("id"))
            if not people:
                errors["assignment_group"] = [f"{group} has no active members to page."]
    if errors:
        raise ValidationError(errors)
    return people, group


# --- use cases ------------------------------------------------------------------------------------
@transaction.atomic
def page_responders(
    mi: MajorIncident | int, *, actor, user=None, assignment_group=None, role: str = ""
) -> list[Responder]:
    """Page one person (`user`) or every active member of `assignment_group` into the response.

    Each new responder gets a row (paged now, page 1, re-paged after the settings' delay until
    acknowledged), a `paged` timeline event and a `major_incident.paged` notification (to them,
    and to the endpoints listening to it) with the bridge, the chat channel, the role and the
    signed acknowledge link. People already responding are returned as they are (paging them
    again is `page_again`). Rows paged by this call carry `paged_now = True`.

    Refusals: 403 (policy.can_run), 409 unless proposed or active, 400 naming `user`,
    `assignment_group` or `role`. Nothing is written on any refusal.
    """
    mi = common.lock(mi)
    common.require(policy.can_run(actor, mi))
    _require_live(mi, "page")
    role = (role or "").strip()
    people, group = _people_to_page(user, assignment_group, role)
    existing = {r.user_id: r for r in mi.responders.filter(user__in=people).select_related("user", "assignment_group")}
    config = MajorIncidentSettings.current()
    now = timezone.now()
    new = [
        Responder(
            major_incident=mi,
            user=person,
            role=role,
            assignment_group=group,
            paged_at=now,
            last_paged_at=now,
            page_count=1,
            next_page_at=now + timedelta(minutes=config.repage_after_minutes),
            added_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
        )
        for person in people
        if person.pk not in existing
    ]
    if new:
        Responder.objects.bulk_create(new)
        for responder in new:
            responder.paged_now = True
        events.TIMELINE.write_many([_paged_row(mi, r, actor) for r in new])
        emit_events(mi, [_page_occurrence(r, actor, config) for r in new])
    created = {r.user_id: r for r in new}
    return [existing.get(person.pk) or created[person.pk] for person in people]


@transaction.atomic
def page_again(responder: Responder | int, *, actor) -> Responder:
    """Page a responder once more (the console's "page again"): the same page, one more count.

    An unacknowledged responder is re-paged again after the delay (until the page limit; the
    manager is told once). 403 (policy.can_run), 409 unless the major incident is live.
    """
    pk = responder.pk if isinstance(responder, Responder) else responder
    mi_id = Responder.objects.filter(pk=pk).values_list("major_incident_id", flat=True).get()
    mi = common.lock(mi_id)  # major incident first, then the responder: the order every writer takes
    responder = _lock_responder(pk)
    common.require(policy.can_run(actor, mi))
    _require_live(mi, "page_again")
    config = MajorIncidentSettings.current()
    now = timezone.now()
    _bump(responder, now, config)
    responder.save(update_fields=["page_count", "last_paged_at", "next_page_at", "paged_at"])
    events.TIMELINE.write_many([_paged_row(mi, responder, actor)])
    emit_events(mi, [_page_occurrence(responder, actor, config)])
    return responder


def _bump(responder: Responder, now: datetime, config: MajorIncidentSettings) -> None:
    responder.page_count += 1
    responder.last_paged_at = now
    responder.paged_at = responder.paged_at or now
    # Someone who answered is not chased; everyone else is, until the sweep gives up on them.
    responder.next_page_at = None if responder.acknowledged_at else now + timedelta(minutes=config.repage_after_minutes)


@transaction.atomic
def acknowledge(responder: Responder | int, *, actor=None) -> Responder:
    """Record that the responder answered the page (once; repeating it changes nothing).

    `actor` None: the responder acknowledged through the signed link in the page (the timeline
    records them as the actor). Otherwise policy.can_acknowledge decides (the responder, or a
    MIM for them: 403). 409 unless the major incident is live (a late acknowledgement of a
    resolved one means nothing) - except that an acknowledged page stays acknowledged.
    """
    pk = responder.pk if isinstance(responder, Responder) else responder
    mi_id = Responder.objects.filter(pk=pk).values_list("major_incident_id", flat=True).get()
    mi = common.lock(mi_id)
    responder = _lock_responder(pk)
    responder.major_incident = mi
    if actor is not None:
        common.require(policy.can_acknowledge(actor, responder))
    if responder.acknowledged_at is not None:
        return responder
    _require_live(mi, "acknowledge")
    now = timezone.now()
    responder.acknowledged_at = now
    responder.next_page_at = None
    responder.save(update_fields=["acknowledged_at", "next_page_at"])
    since = responder.paged_at or responder.created_at
    events.write(
        mi,
        MajorTimelineType.ACKNOWLEDGED,
        actor if actor is not None else responder.user,
        {
            "responder": responder.pk,
            "user": responder.user_id,
            "via": "link" if actor is None else "console",
            "after_seconds": max(0, int((now - since).total_seconds())),
            "page_count": responder.page_count,
        },
    )
    return responder


# --- the re-page sweep ----------------------------------------------------------------------------
def repage_due(now: datetime | None = None, *, limit: int = SWEEP_LIMIT) -> int:
    """Every minute: page again every unacknowledged responder whose re-page is due, on live
    major incidents; one who already had `max_pages` pages is marked unanswered instead and the
    manager is told once (`major_incident.page_unanswered`, naming everyone who never answered;
    the Major Incident Managers when the record has no manager).

    Exactly once per due moment, with any number of sweeps at once: due rows are claimed with
    `FOR UPDATE SKIP LOCKED` (rows and their major incident; a record someone is changing right
    now waits for the next sweep), and the marker (`next_page_at` moved on or cleared) commits
    with the timeline and the outbox rows. Returns how many responders it acted on.
    """
    now = now or timezone.now()
    from incidents.services import system_user  # here, not at the top: incidents.services may import this package

    with transaction.atomic():
        # Records no longer live never re-page: drop their due marks (keeps the due index small).
        Responder.objects.filter(next_page_at__isnull=False).exclude(major_incident__state__in=LIVE_STATES).update(
            next_page_at=None
        )
        due = list(
            Responder.objects.filter(
                next_page_at__lte=now, acknowledged_at__isnull=True, major_incident__state__in=LIVE_STATES
            )
            .select_related("major_incident", "user", "assignment_group")
            .select_for_update(skip_locked=True, of=("self", "major_incident"))
            .order_by("next_page_at", "id")[:limit]
        )
        if not due:
            return 0
        config = MajorIncidentSettings.current()
        system = system_user()
        by_mi: dict[int, list[Responder]] = defaultdict(list)
        for responder in due:
            by_mi[responder.major_incident_id].append(responder)
        timeline = []
        for responders in by_mi.values():
            timeline += _repage_record(responders[0].major_incident, responders, now, config, system)
        events.TIMELINE.write_many(timeline)
    return len(due)


def _repage_record(mi: MajorIncident, responders: list[Responder], now: datetime, config, system) -> list:
    """Page again (or give up on) the due responders of one record; returns its timeline rows."""
    occurrences, unanswered, timeline = [], [], []
    for responder in responders:
        if responder.page_count < config.max_pages:
            _bump(responder, now, config)
            timeline.append(_paged_row(mi, responder, system, automatic=True))
            occurrences.append(_page_occurrence(responder, None, config))
            continue
        responder.next_page_at = None
        if responder.unanswered_at is None:  # the manager is told once per responder
            responder.unanswered_at = now
            unanswered.append(responder)
            data = {"responder": responder.pk, "user": responder.user_id, "page_count": responder.page_count}
            timeline.append(events.TIMELINE.row(mi, MajorTimelineType.UNANSWERED, system, data))
    if unanswered:
        occurrences.append(_unanswered_occurrence(mi, unanswered, config))
    Responder.objects.bulk_update(responders, SWEPT_FIELDS)
    emit_events(mi, occurrences)
    return timeline


def _unanswered_occurrence(mi: MajorIncident, responders: list[Responder], config) -> Occurrence:
    people = [responder_context(r, config, with_link=False) for r in responders]
    names = ", ".join(p["name"] for p in people)
    extra = {"responders": people, "unanswered_names": names, "nobody_named": mi.manager_id is None}
    recipients = [f"user:{mi.manager_id}"] if mi.manager_id else None
    # Without a manager the default rule for `nobody_named` tells the Major Incident Managers.
    return Occurrence(UNANSWERED, None, extra=extra, public=False, recipients=recipients)
