"""Maintenance window use cases: announce, change, cancel, and the sweep's start and complete.

Every function runs in one `transaction.atomic()`: lock the window (`select_for_update`), check
the client's version, ask `status.maintenance.policy`, validate (one ValidationError naming every
bad field), run the FSM transition (the `state` field is protected), save with a version bump,
queue the notifications (public, to the services' subscribers), and after commit invalidate the
status page cache. A window with `pause_sla` replays the live SLA clocks of open incidents on
its services whenever it starts, completes, is cancelled while running or is changed once
started (`incidents.sla.clocks.replay_open_clocks`), so their `due_at` moves.

Times: `starts_at` may lie up to `START_GRACE` in the past (a form's "now" is a little old when
it arrives; anything earlier would rewrite SLA history retroactively); `ends_at` must be after
`starts_at` and in the future. A window whose start has come when it is announced (or moved)
starts at once. Errors: ValidationError (400), PermissionDenied (403), InvalidTransition (409),
StaleRecord (412).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from incidents.sla.clocks import replay_open_clocks
from itsm.exceptions import InvalidTransition, StaleRecord
from itsm.models import Service
from status.choices import MaintenanceState as M
from status.models import MaintenanceWindow
from status.page import cache as page_cache

from . import notify, pauses, policy

logger = logging.getLogger(__name__)

START_GRACE = timedelta(minutes=5)
EDITABLE_FIELDS = ("title", "description", "services", "starts_at", "ends_at", "pause_sla")
TITLE_MAX = MaintenanceWindow._meta.get_field("title").max_length
CHANGEABLE_STATES = (M.SCHEDULED, M.IN_PROGRESS)


# --- helpers ------------------------------------------------------------------------------------
def _after_commit() -> None:
    pauses.changed()
    # Plain UPDATEs send no signal: the page's own model hooks would miss them.
    page_cache.invalidate_on_commit()


def _require(user) -> None:
    decision = policy.can_manage(user)
    if not decision:
        raise PermissionDenied(decision.reason)


def _lock(window: MaintenanceWindow | int) -> MaintenanceWindow:
    pk = window.pk if isinstance(window, MaintenanceWindow) else window
    return MaintenanceWindow.objects.select_for_update().get(pk=pk)


def _save(window: MaintenanceWindow, update_fields: list[str] | None = None) -> None:
    window.version += 1
    if update_fields is not None:
        update_fields = sorted({*update_fields, "version", "updated_at"})
    window.save(update_fields=update_fields)


def _services(values) -> tuple[list[Service], list[str]]:
    """Active services named by slug, id or instance; the names that are unknown (or inactive)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        return [], ["(not a list)"]
    values = list(values)
    keys = [v.pk if isinstance(v, Service) else v for v in values]
    slugs = {k for k in keys if isinstance(k, str)}
    ids = {k for k in keys if isinstance(k, int) and not isinstance(k, bool)}
    found = Service.objects.filter(active=True).filter(slug__in=slugs) | Service.objects.filter(active=True, pk__in=ids)
    by_key: dict[Any, Service] = {}
    for service in found:
        by_key[service.slug] = service
        by_key[service.pk] = service
    unknown = [str(k) for k in keys if isinstance(k, bool) or k not in by_key]
    chosen = {by_key[k].pk: by_key[k] for k in keys if not isinstance(k, bool) and k in by_key}
    return sorted(chosen.values(), key=lambda s: s.slug), unknown


def _text(errors: dict, name: str, value, limit: int | None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors[name] = ["This field is required."]
        return None
    if limit is not None and len(value.strip()) > limit:
        errors[name] = [f"At most {limit} characters."]
        return None
    return value.strip()


def _moment(errors: dict, name: str, value) -> datetime | None:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        errors[name] = ["A date and time with a timezone."]
        return None
    return value


def _clean(window: MaintenanceWindow | None, changes: dict, now: datetime) -> dict[str, Any]:
    """Validated values of `changes` for a new window (None) or an existing one."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "title":
            out[name] = _text(errors, name, value, TITLE_MAX)
        elif name == "description":
            out[name] = _text(errors, name, value, 100_000)
        elif name == "services":
            services, unknown = _services(value)
            if unknown:
                errors[name] = [f"Unknown or inactive service(s): {', '.join(unknown)}."]
            elif not services:
                errors[name] = ["Name at least one service."]
            else:
                out[name] = services
        elif name in ("starts_at", "ends_at"):
            out[name] = _moment(errors, name, value)
        elif name == "pause_sla":
            if not isinstance(value, bool):
                errors[name] = ["true or false."]
            else:
                out[name] = value
        else:
            errors[name] = ["Unknown field."]
    started = window is not None and window.state == M.IN_PROGRESS
    if "starts_at" in out and out["starts_at"] is not None:
        if started and out["starts_at"] != window.starts_at:
            errors["starts_at"] = ["The window has started; its start can no longer change."]
        elif not started and out["starts_at"] < now - START_GRACE:
            errors["starts_at"] = [f"Must not be more than {START_GRACE.seconds // 60} minutes in the past."]
    starts_at = out.get("starts_at", window.starts_at if window else None)
    ends_at = out.get("ends_at", window.ends_at if window else None)
    if "ends_at" not in errors and starts_at is not None and ends_at is not None:
        if ends_at <= starts_at:
            errors["ends_at"] = ["Must be after starts_at."]
        elif "ends_at" in out and ends_at <= now:
            errors["ends_at"] = ["Must be in the future."]
    if errors:
        raise ValidationError(errors)
    return out


def _pausing_services(window: MaintenanceWindow) -> list[int]:
    return list(window.services.values_list("id", flat=True))


def _replay(window: MaintenanceWindow, service_ids: Iterable[int] | None = None) -> None:
    """Replay the clocks a pausing window affects (the cache of pauses forgets the old intervals first)."""
    pauses.changed()
    ids = sorted(set(service_ids if service_ids is not None else _pausing_services(window)))
    replay_open_clocks(ids)


def _start(window: MaintenanceWindow, actor, now: datetime) -> None:
    """scheduled -> in_progress (the caller holds the lock and checked the time)."""
    window.start()
    window.started_at = now
    _save(window)
    if window.pause_sla:
        _replay(window)
    notify.emit(window, "maintenance.started", actor, occurred_at=window.started_at)


def _complete(window: MaintenanceWindow, actor, now: datetime) -> None:
    window.complete()
    window.completed_at = now
    _save(window)
    if window.pause_sla:
        _replay(window)
    notify.emit(window, "maintenance.completed", actor, occurred_at=window.completed_at)


# --- use cases ----------------------------------------------------------------------------------
@transaction.atomic
def announce(
    *,
    actor,
    title: str,
    description: str,
    services,
    starts_at: datetime,
    ends_at: datetime,
    pause_sla: bool = False,
) -> MaintenanceWindow:
    """Announce a maintenance window (administrators and MIMs); subscribers of its services are told.

    `services`: slugs, ids or Service instances (at least one, all active). A window whose start
    has come (within `START_GRACE`) starts at once.
    """
    _require(actor)
    now = timezone.now()
    values = _clean(
        None,
        {
            "title": title,
            "description": description,
            "services": services,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "pause_sla": pause_sla,
        },
        now,
    )
    chosen = values.pop("services")
    window = MaintenanceWindow(
        **values, announced_at=now, created_by=actor if getattr(actor, "pk", None) else None, created_at=now
    )
    window.save()
    window.services.set(chosen)
    notify.emit(window, "maintenance.announced", actor, occurred_at=now)
    if window.starts_at <= now:
        _start(window, actor, now)
    _after_commit()
    return window


@transaction.atomic
def update_window(
    window: MaintenanceWindow | int, *, actor, changes: dict, expected_version: int | None = None
) -> MaintenanceWindow:
    """Change a scheduled or running window (title, text, services, times, pause_sla).

    409 once it is completed or cancelled; 412 when `expected_version` is not the stored one.
    A running window keeps its start. Replays the SLA clocks when the pause changed for a
    window that has begun; starts the window at once when its new start has come.
    """
    window = _lock(window)
    _require(actor)
    if expected_version is not None and expected_version != window.version:
        raise StaleRecord(
            f"{pauses.number(window)} changed since you read it (version {window.version}, you had {expected_version})."
        )
    if window.state not in CHANGEABLE_STATES:
        raise InvalidTransition(
            pauses.number(window),
            "update",
            window.state,
            [],
            reason=f"{pauses.number(window)} is {window.state}; it can no longer be changed.",
        )
    now = timezone.now()
    values = _clean(window, dict(changes), now)
    before_services = set(_pausing_services(window))
    before = (window.pause_sla, window.starts_at, window.ends_at, before_services)
    changed = []
    for name, value in values.items():
        if name == "services":
            if {s.pk for s in value} != before_services:
                window.services.set(value)
                changed.append(name)
        elif getattr(window, name) != value:
            setattr(window, name, value)
            changed.append(name)
    if not changed:
        return window
    _save(window)
    after_services = set(_pausing_services(window))
    begun = window.state == M.IN_PROGRESS or window.starts_at <= now or before[1] <= now
    if (before[0] or window.pause_sla) and begun:
        _replay(window, before_services | after_services)
    if window.state == M.SCHEDULED and window.starts_at <= now:
        _start(window, actor, now)
    _after_commit()
    return window


@transaction.atomic
def cancel(window: MaintenanceWindow | int, *, actor, reason: str = "", expected_version: int | None = None):
    """Cancel a scheduled or running window (409 otherwise); subscribers are told, with `reason`.

    A running window with `pause_sla` stops pausing at the cancellation (the clocks are replayed);
    one cancelled before the sweep started it never paused anything.
    """
    window = _lock(window)
    _require(actor)
    if expected_version is not None and expected_version != window.version:
        raise StaleRecord(
            f"{pauses.number(window)} changed since you read it (version {window.version}, you had {expected_version})."
        )
    if not isinstance(reason, str) or len(reason) > 2000:
        raise ValidationError({"reason": ["Text of at most 2000 characters."]})
    if not can_proceed(window.cancel):
        raise InvalidTransition(pauses.number(window), "cancel", window.state, [])
    # Begun (running, or due but not yet started by the sweep): a replay may have paused clocks.
    begun = window.state == M.IN_PROGRESS or window.starts_at <= timezone.now()
    window.cancel()
    _save(window)
    if window.pause_sla and begun:
        _replay(window)
    notify.emit(
        window, "maintenance.cancelled", actor, occurred_at=window.cancelled_at, extra={"reason": reason.strip()}
    )
    _after_commit()
    return window


def available_transitions(window: MaintenanceWindow, user) -> list[str]:
    """What `user` may do to `window` now (the console's buttons): `cancel` or nothing."""
    return ["cancel"] if can_proceed(window.cancel) and policy.can_manage(user) else []


# --- the sweep's steps --------------------------------------------------------------------------
BATCH = 100


def _due(state: str, field: str, now: datetime) -> list[int]:
    return list(
        MaintenanceWindow.objects.filter(state=state, **{f"{field}__lte": now})
        .order_by(field, "id")
        .values_list("id", flat=True)[:BATCH]
    )


def _step(window_id: int, state: str, field: str, act, now: datetime) -> bool:
    """Lock one due window (skipping one another sweep holds), re-check it, act; True if it acted."""
    with transaction.atomic():
        window = (
            MaintenanceWindow.objects.select_for_update(skip_locked=True)
            .filter(pk=window_id, state=state, **{f"{field}__lte": now})
            .first()
        )
        if window is None:
            return False  # done by another sweep, changed meanwhile, or held right now
        act(window, None, now)
        _after_commit()
        return True


def start_due(now: datetime | None = None) -> int:
    """Start every scheduled window whose start has come (each in its own transaction); how many started.

    A window whose end has passed as well starts and completes in the same sweep (subscribers get
    both messages; the pause covers its whole time).
    """
    now = now or timezone.now()
    started = 0
    for window_id in _due(M.SCHEDULED, "starts_at", now):
        try:
            started += _step(window_id, M.SCHEDULED, "starts_at", _start, now)
        except Exception:
            logger.exception("Maintenance window %s could not start; the next sweep retries it", window_id)
    return started


def complete_due(now: datetime | None = None) -> int:
    """Complete every running window whose end has passed; how many completed."""
    now = now or timezone.now()
    completed = 0
    for window_id in _due(M.IN_PROGRESS, "ends_at", now):
        try:
            completed += _step(window_id, M.IN_PROGRESS, "ends_at", _complete, now)
        except Exception:
            logger.exception("Maintenance window %s could not complete; the next sweep retries it", window_id)
    return completed


def sweep(now: datetime | None = None) -> tuple[int, int]:
    """One run of the maintenance sweep: start what is due, then complete what is over."""
    now = now or timezone.now()
    return start_due(now), complete_due(now)
