"""Use cases of communications: emit an event, send a test event, retry a delivery.

`emit()` is the contract the practices call. It writes one `Notification`
per matching rule or listening endpoint x recipient x channel in the caller's transaction and
hands them to Celery after commit; if the broker is down the rows wait for the beat sweep.
"""

import hashlib
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_fsm import can_proceed

from . import conf, registry, rendering, snapshot
from .choices import COUNTED, Channel, Status
from .models import Notification, NotificationTemplate, WebhookEndpoint
from .outbox import insert_new_rows, publish, reset_breaker
from .recipients import Directory, Target, endpoint_target, resolve, subscriptions_for
from .registry import register_event_types  # re-exported: part of the contract
from .signatures import unsubscribe_url
from .subject import Subject

__all__ = [
    "Emission",
    "NotRetryable",
    "Subject",
    "emit",
    "emit_many",
    "publish",
    "register_event_types",
    "reset_breaker",
    "retry_notification",
    "send_test_event",
]

logger = logging.getLogger(__name__)


class NotRetryable(Exception):
    """The notification is in a state (or has a target) that cannot be sent again now."""


# --- emit ----------------------------------------------------------------------------------------


def emit(
    event_type: str,
    subject: Subject,
    context: dict,
    *,
    actor=None,
    public: bool = True,
    occurred_at: datetime | None = None,
    recipients: list[str] | None = None,
) -> list[Notification]:
    """Write the notifications of one event occurrence and hand them to Celery after commit.

    One `Notification` per (matching rule or listening endpoint) x recipient x channel, written
    in the caller's transaction (a rollback leaves none). `context` is JSON-serialisable data
    the templates render (`{"record": {...}, "changes": {...}, "comment": {...}}`) and webhook
    receivers get as `data`. `public=False` (internal work notes, internal updates) reaches only
    console users, group mailboxes and endpoints with `include_internal` (see `recipients`).
    The actor is not notified unless a rule says so. `recipients` adds people by email on top of
    the rules: recipient kinds ("assignee", "group", "group_manager", ...), "user:<id>" or
    "email:<address>" (a policy naming who to tell). Calling twice with the same `occurred_at`
    writes nothing new (idempotency key per occurrence x recipient x channel).

    Returns the rows written, including those storm control suppressed or held for a digest.
    Raises ValueError for an unregistered event type or a context that is not JSON data.
    """
    _check(event_type, subject)
    data = _json_data(context)
    occurred_at = occurred_at or timezone.now()
    actor_id = getattr(actor, "pk", None)
    config = snapshot.current()
    targets = resolve(event_type, subject, data, actor_id=actor_id, public=public, explicit=recipients, config=config)
    return _write(
        event_type, subject, data, targets, actor=actor, public=public, occurred_at=occurred_at, config=config
    )


@dataclass
class Emission:
    """One event occurrence for `emit_many()`: the arguments of one `emit()` call."""

    event_type: str
    subject: Subject
    context: dict
    actor: Any = None
    public: bool = True
    occurred_at: datetime | None = None
    recipients: list[str] | None = None


def emit_many(emissions: list[Emission]) -> list[list[Notification]]:
    """`emit()` for several occurrences at once (e.g. the breaches found by one sweep chunk).

    Writes the same rows with the same statuses as calling `emit()` for each in order within
    one transaction (storm control sees the rows of earlier occurrences in the call), but with a
    fixed number of statements for the whole call: people, groups and subscriptions are read
    once for all, storm control and idempotency with one query each, the rows with one INSERT,
    and one after-commit hand-off publishes them all. Returns the rows of each occurrence, in
    order. Raises like `emit()`, before writing anything.
    """
    if not emissions:
        return []
    prepared = []
    for emission in emissions:
        _check(emission.event_type, emission.subject)
        prepared.append((emission, _json_data(emission.context)))
    config = snapshot.current()
    directory = Directory()
    _preload_people(directory, emissions, config)
    public = [i for i, e in enumerate(emissions) if e.public]
    subscriptions = dict(zip(public, subscriptions_for([emissions[i].subject for i in public]), strict=True))
    batches = []
    for index, (emission, data) in enumerate(prepared):
        occurred_at = emission.occurred_at or timezone.now()
        targets = resolve(
            emission.event_type,
            emission.subject,
            data,
            actor_id=getattr(emission.actor, "pk", None),
            public=emission.public,
            explicit=emission.recipients,
            config=config,
            directory=directory,
            subscriptions=subscriptions.get(index, []),
        )
        rows = _build_rows(
            emission.event_type,
            emission.subject,
            data,
            targets,
            actor=emission.actor,
            public=emission.public,
            occurred_at=occurred_at,
            config=config,
        )
        batches.append((emission.event_type, emission.subject, rows))
    with transaction.atomic():
        created = _store(batches, storm_control=True)
        pending = [row.pk for rows in created for row in rows if row.status == Status.PENDING]
        if pending:
            _hand_off_after_commit(pending)
    return created


def _check(event_type: str, subject: Subject) -> None:
    if not registry.is_registered(event_type):
        raise ValueError(f"Unknown event type {event_type!r}; register it with register_event_types().")
    if not isinstance(subject, Subject):
        raise TypeError("subject must be a communications.services.Subject")


def _preload_people(directory: Directory, emissions: list[Emission], config: snapshot.Snapshot) -> None:
    """Read every user and group the occurrences may name with one query each."""
    user_ids: set[int] = set()
    for emission in emissions:
        subject = emission.subject
        user_ids.update(i for i in (subject.assignee_id, subject.caller_id, *subject.watcher_ids) if i)
        user_ids.update(int(w[5:]) for w in emission.recipients or () if w.startswith("user:") and w[5:].isdigit())
    events = {e.event_type for e in emissions}
    for rule in config.rules:
        if any(registry.matches(rule.events, event) for event in events):
            user_ids.update(config.user_ids.get(rule.pk, ()))
    if user_ids:
        directory.users(sorted(user_ids))
    directory.load_groups({e.subject.group_id for e in emissions})


def _json_data(context: dict) -> dict:
    if not isinstance(context, dict):
        raise ValueError("context must be a dict")
    try:
        return json.loads(json.dumps(context, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"context is not JSON-serialisable: {exc}") from exc


def _actor_data(actor) -> dict | None:
    if actor is None or getattr(actor, "pk", None) is None:
        return None
    name = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
    return {"id": actor.pk, "name": name or getattr(actor, "username", str(actor))}


def idempotency_key(event: str, subject: Subject, occurred_at: datetime, target: Target) -> str:
    """Unique per event occurrence x recipient x channel."""
    parts = [event, subject.kind, str(subject.id), occurred_at.isoformat(), target.channel, *map(str, target.key)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_body(delivery_id: uuid.UUID, event: str, occurred_at: datetime, data: dict) -> str:
    """The exact JSON body a webhook receives (stored, then signed unchanged on every attempt)."""
    payload = {"id": str(delivery_id), "event": event, "occurred_at": _iso(occurred_at), "data": data}
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _email_footer(message: rendering.Message, target: Target) -> tuple[str, str]:
    """Append why the recipient gets this (and the unsubscribe link for subscribers)."""
    from django.utils.html import escape

    lines = [f"Why you received this: {target.reason}."]
    html = f"Why you received this: {escape(target.reason)}."
    if target.subscription_id:
        url = unsubscribe_url(target.subscription_id, target.address)
        lines.append(f"Unsubscribe: {url}")
        html += f' <a href="{escape(url)}" style="color:#6b7280">Unsubscribe</a>'
    text = message.text.rstrip("\n") + "\n\n-- \n" + "\n".join(lines) + "\n"
    footer = f'<p style="color:#6b7280;font-size:12px;margin-top:24px">{html}</p>'
    body = message.html
    if "<!--itsm-footer-->" in body:
        body = body.replace("<!--itsm-footer-->", footer, 1)
    elif "</body>" in body:
        body = body.replace("</body>", footer + "</body>", 1)
    else:
        body += footer
    return text, body


def _write(
    event: str,
    subject: Subject,
    data: dict,
    targets: list[Target],
    *,
    actor,
    public: bool,
    occurred_at: datetime,
    storm_control: bool = True,
    config: snapshot.Snapshot | None = None,
) -> list[Notification]:
    """Render, apply storm control, insert the rows and publish them after commit."""
    if not targets:
        return []
    rows = _build_rows(
        event, subject, data, targets, actor=actor, public=public, occurred_at=occurred_at, config=config
    )
    with transaction.atomic():
        (created,) = _store([(event, subject, rows)], storm_control=storm_control)
        pending = [row.pk for row in created if row.status == Status.PENDING]
        if pending:
            _hand_off_after_commit(pending)
    return created


def _build_rows(
    event: str,
    subject: Subject,
    data: dict,
    targets: list[Target],
    *,
    actor,
    public: bool,
    occurred_at: datetime,
    config: snapshot.Snapshot | None = None,
) -> list[Notification]:
    """One unsaved row per target, its message rendered (once per channel)."""
    if not targets:
        return []
    actor_data = _actor_data(actor)
    context = rendering.template_context(event, subject, data, actor=actor_data, public=public, occurred_at=occurred_at)
    overrides: dict[str, NotificationTemplate] | None = None
    messages: dict[str, rendering.Message] = {}
    webhook_data = {**data, "subject": subject.public_data(), "actor": actor_data, "public": public}
    max_attempts = conf.max_attempts()
    rows: list[Notification] = []
    for target in targets:
        row = Notification(
            delivery_id=uuid.uuid4(),
            idempotency_key=idempotency_key(event, subject, occurred_at, target),
            event=event,
            occurred_at=occurred_at,
            public=public,
            channel=target.channel,
            recipient=target.address.lower() if target.channel == Channel.EMAIL else target.address,
            recipient_user_id=target.user_id,
            endpoint=target.endpoint,
            subscription_id=target.subscription_id,
            rule_id=target.rule_id,
            reason=target.reason[:200],
            subject_kind=subject.kind,
            subject_id=subject.id,
            subject_number=subject.number[:50],
            subject_url=subject.url[:2000],
            max_attempts=max_attempts,
        )
        if target.channel == Channel.WEBHOOK:
            row.message_subject = f"[{subject.number}] {registry.label(event)}: {subject.title}"[:1000]
            row.body_text = webhook_body(row.delivery_id, event, occurred_at, webhook_data)
        else:
            if target.channel not in messages:
                if overrides is None:
                    overrides = (config or snapshot.current()).templates.get(event, {})
                override = overrides.get(target.channel)
                messages[target.channel] = rendering.render(event, target.channel, context, override)
            message = messages[target.channel]
            row.message_subject = message.subject[:1000]
            row.content_hash = hashlib.sha256(f"{message.subject}\n{message.text}".encode()).hexdigest()
            if target.channel == Channel.EMAIL:
                row.body_text, row.body_html = _email_footer(message, target)
            else:
                row.body_text = message.text
        rows.append(row)
    return rows


Batch = tuple[str, Subject, list[Notification]]  # event, subject, its unsaved rows


def _store(batches: list[Batch], *, storm_control: bool) -> list[list[Notification]]:
    """Apply storm control and insert the rows of each batch, as if each were written in turn.

    Storm control (not for webhooks): same message = same event, record, recipient, channel and
    rendered subject + text within NOTIFICATION_DEDUP_WINDOW_SECONDS is suppressed (a new comment
    is a new message, a flapping state that reads the same is not); a recipient who already got
    NOTIFICATION_DIGEST_THRESHOLD messages within the window gets the rest in one digest (the
    sweep collects them). A row whose idempotency key exists is not written (the same occurrence
    emitted twice). The database is read once for all batches; what earlier batches of the call
    wrote is tracked in memory, so a batch sees them exactly as a later emit() would.
    Returns the rows written per batch (suppressed and held ones included).
    """
    rows = [row for _, _, batch_rows in batches for row in batch_rows]
    if not rows:
        return [[] for _ in batches]
    window = conf.dedup_window_seconds()
    threshold = conf.digest_threshold()
    human = [r for r in rows if r.channel != Channel.WEBHOOK] if storm_control and window > 0 else []
    originals: dict[tuple, int | Notification] = {}  # message key -> an earlier row that was not suppressed
    counts: Counter[tuple[str, str]] = Counter()  # (recipient, channel) -> rows counted in the window
    if human:
        cutoff = timezone.now() - timedelta(seconds=window)
        addresses = {r.recipient for r in human}
        earlier = (
            Notification.objects.filter(
                event__in={event for event, _, _ in batches},
                subject_kind__in={subject.kind for _, subject, _ in batches},
                subject_id__in={subject.id for _, subject, _ in batches},
                recipient__in=addresses,
                content_hash__in={r.content_hash for r in human},
                created_at__gte=cutoff,
            )
            .exclude(status=Status.SUPPRESSED)
            .values_list("event", "subject_kind", "subject_id", "recipient", "channel", "content_hash", "pk")
        )
        for *key, pk in earlier:
            originals[tuple(key)] = pk
        if threshold:
            counts.update(
                {
                    (c["recipient"], c["channel"]): c["n"]
                    for c in Notification.objects.filter(
                        recipient__in=addresses, created_at__gte=cutoff, status__in=COUNTED
                    )
                    .values("recipient", "channel")
                    .annotate(n=Count("id"))
                }
            )
    existing = set(
        Notification.objects.filter(idempotency_key__in={r.idempotency_key for r in rows}).values_list(
            "idempotency_key", flat=True
        )
    )
    kept_per_batch: list[list[Notification]] = []
    duplicates_of_new: dict[int, Notification] = {}  # id(row) -> the original written in this call
    for event, subject, batch_rows in batches:
        controlled = [r for r in batch_rows if r.channel != Channel.WEBHOOK] if human else []
        for row in controlled:
            original = originals.get(_message_key(event, subject, row))
            if original is not None:
                row.suppress(f"Same message to the same recipient within {window} s (storm control).")
                if isinstance(original, Notification):
                    duplicates_of_new[id(row)] = original
                else:
                    row.duplicate_of_id = original
        if threshold:
            for row in controlled:
                if row.status == Status.PENDING and counts[(row.recipient, row.channel)] >= threshold:
                    row.hold_for_digest()
        kept = []
        for row in batch_rows:
            if row.idempotency_key in existing:
                continue
            existing.add(row.idempotency_key)
            kept.append(row)
            if row.status in COUNTED:
                counts[(row.recipient, row.channel)] += 1
            if human and row.channel != Channel.WEBHOOK and row.status != Status.SUPPRESSED:
                originals[_message_key(event, subject, row)] = row
        kept_per_batch.append(kept)
    # Rows suppressed as repeats of a row written by this call need its id: they go second.
    first = [r for kept in kept_per_batch for r in kept if id(r) not in duplicates_of_new]
    written = {id(r) for r in insert_new_rows(first)}
    second = [r for kept in kept_per_batch for r in kept if id(r) in duplicates_of_new]
    for row in second:
        row.duplicate_of_id = duplicates_of_new[id(row)].pk if id(duplicates_of_new[id(row)]) in written else None
    written |= {id(r) for r in insert_new_rows(second)}
    return [[r for r in kept if id(r) in written] for kept in kept_per_batch]


def _message_key(event: str, subject: Subject, row: Notification) -> tuple:
    return (event, subject.kind, subject.id, row.recipient, row.channel, row.content_hash)


# --- hand-off to Celery ------------------------------------------------------------------------


def _hand_off_after_commit(ids: list[int]) -> None:
    """Publish the ids once the transaction commits (one hook per emit call: a use case makes one)."""
    ids = list(dict.fromkeys(ids))
    transaction.on_commit(lambda: publish(ids, use_breaker=True))  # the module global, looked up then: tests patch it


# --- test events, retries, endpoints -----------------------------------------------------------


def send_test_event(endpoint: WebhookEndpoint, actor=None) -> Notification:
    """Queue a `webhook.test` delivery to one endpoint (whatever its `events`)."""
    try:
        url = conf.site_url() + reverse("admin:communications_webhookendpoint_change", args=[endpoint.pk])
    except NoReverseMatch:
        url = conf.site_url()
    subject = Subject("webhook", endpoint.pk, f"WH{endpoint.pk}", "Test event", url)
    data = {
        "endpoint": {"id": endpoint.pk, "description": endpoint.description, "url": endpoint.url},
        "message": "This is a test event from ITSM. No action is needed.",
    }
    target = endpoint_target(endpoint, "test event")
    rows = _write(
        registry.WEBHOOK_TEST,
        subject,
        data,
        [target],
        actor=actor,
        public=True,
        occurred_at=timezone.now(),
        storm_control=False,
    )
    return rows[0]


def retry_notification(notification_id: int) -> Notification:
    """ "Retry now": send again at once. A dead row gets a fresh budget of attempts.

    Raises NotRetryable for rows already sent or in flight, and when the endpoint is gone or
    disabled (re-activate it first).
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if not can_proceed(notification.requeue):
            raise NotRetryable(f"A {notification.get_status_display().lower()} notification cannot be retried.")
        if notification.channel != Channel.EMAIL:
            endpoint = WebhookEndpoint.objects.filter(pk=notification.endpoint_id).first()
            if endpoint is None:
                raise NotRetryable("The endpoint of this notification was deleted.")
            if not endpoint.active:
                raise NotRetryable("The endpoint is disabled; activate it before retrying.")
        notification.requeue(conf.max_attempts())
        notification.save(update_fields=["status", "next_attempt_at", "max_attempts", "updated_at"])
        transaction.on_commit(partial(publish, [notification.pk]))
    return notification


def activate_endpoint(endpoint: WebhookEndpoint) -> None:
    """Re-enable an endpoint: forget why it was disabled and its failure streak."""
    endpoint.active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
