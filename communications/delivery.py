"""Delivering outbox rows: claim, send, record; and the sweep that recovers lost work.

A delivery claims its row in a short transaction (row lock with SKIP LOCKED where the database
has it, status must be pending/failed and due), marks it `sending`, commits, sends outside any
transaction, then records the attempt in a second transaction. Two tasks for one row (a sweep
re-queue racing the original message) cannot both send: the loser finds the row locked or no
longer deliverable and exits. A worker killed mid-send leaves the row `sending`; the sweep
declares it interrupted after NOTIFICATION_SENDING_TIMEOUT_SECONDS and sends it again with the
same delivery id, so the receiver can recognise the repeat.
"""

import logging
import random
import socket
import time
from collections import Counter
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from django_fsm import can_proceed

from itsm.queue import send_now
from itsm.sweep import LeasedSweep

from . import conf, outbox, registry, rendering, snapshot
from .channels import SendResult, send
from .choices import AttemptOutcome, Channel, Status
from .models import DeliveryAttempt, Notification, NotificationTemplate, WebhookEndpoint
from .outbox import insert_rows, publish, reset_breaker, task
from .subject import Subject

SWEEP = LeasedSweep(Notification)  # the lease is Notification.queued_at

logger = logging.getLogger(__name__)
WORKER = socket.gethostname()[:200]
ENDPOINT_SUCCESS_REFRESH_SECONDS = 5
COUNTDOWN_MAX_SECONDS = 300


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, times 0.5-1.0.

    Jitter spreads the retries of a receiver that failed for everyone at once; a Retry-After
    from the receiver is honoured (within the cap).
    """
    cap = conf.backoff_max_seconds()
    delay = min(cap, conf.backoff_base_seconds() * (2 ** max(0, attempt - 1)))
    delay *= random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def _locked(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset.select_for_update()


def _fast_sql() -> bool:
    """PostgreSQL: claim and record each in one statement (UPDATE ... RETURNING, writable CTEs)."""
    return connection.vendor == "postgresql"


class _Loader:
    """Model instances from the columns of a raw statement, with the ORM's value converters."""

    def __init__(self, model, alias: str):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        quote = connection.ops.quote_name
        self.columns = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self.converters = []
        for field in self.fields:
            col = field.get_col(alias)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            self.converters.append((col, converters))

    def load(self, values):
        converted = []
        for value, (col, converters) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


_loaders: dict[str, tuple[_Loader, _Loader]] = {}


def _claim_loaders() -> tuple[_Loader, _Loader]:
    loaders = _loaders.get(connection.alias)
    if loaders is None:
        loaders = _loaders[connection.alias] = (_Loader(Notification, "c"), _Loader(WebhookEndpoint, "e"))
    return loaders


def claim(notification_id: int) -> tuple[Notification | None, str]:
    """Mark the row `sending` if it is deliverable now; (row, "") or (None, why not).

    One conditional UPDATE: the row lock it takes, and the re-check of status and due time after
    waiting for a concurrent holder, make two claims of one row exclusive. The row comes back with
    its endpoint (read fresh, so a disabled endpoint or a rotated secret is seen at once).
    """
    now = timezone.now()
    # `start_sending` as one conditional statement (see NotificationQuerySet): it must be the lock.
    deliverable, sending = Notification.move("start_sending")
    if _fast_sql():
        rows, endpoints = _claim_loaders()
        table = Notification._meta.db_table
        sql = (
            f"WITH c AS (UPDATE {table} SET status = %s, attempts = attempts + 1, sending_started_at = %s, "
            "updated_at = %s WHERE id = %s AND status = ANY(%s) "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) RETURNING *) "
            f"SELECT {rows.columns}, {endpoints.columns} FROM c "
            f"LEFT JOIN {WebhookEndpoint._meta.db_table} e ON e.id = c.endpoint_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [sending, now, now, notification_id, deliverable, now])
            found = cursor.fetchone()
        if found is not None:
            split = len(rows.fields)
            row = rows.load(found[:split])
            if row.endpoint_id:
                row.endpoint = endpoints.load(found[split:]) if found[split] is not None else None
            return row, ""
    else:
        if Notification.objects.filter(pk=notification_id).start_sending(now):
            row = Notification.objects.select_related("endpoint").filter(pk=notification_id).first()
            if row is not None:
                return row, ""
    state = Notification.objects.filter(pk=notification_id).values_list("status", "next_attempt_at").first()
    if state is None:
        return None, "missing"
    status, next_attempt_at = state
    if status not in deliverable:
        return None, f"status is {status}"
    if next_attempt_at and next_attempt_at > now:
        return None, "not due yet"
    return None, "changed by another transaction"


def deliver(notification_id: int) -> str:
    """Deliver one notification if it is due; safe to call any number of times."""
    row, why_not = claim(notification_id)
    if row is None:
        return f"skipped: {why_not}"
    started = timezone.now()
    result = send(row)
    return record(row, result, started)


def record(row: Notification, result: SendResult, started) -> str:
    """Write the attempt and move the row on: sent, failed (retry scheduled) or dead."""
    if result.ok and _fast_sql():
        return _record_success(row, result, started)
    return _record(row, result, started)


def _endpoint_needs_stamp(row: Notification, at) -> bool:
    """Whether a success must touch the endpoint row (failure streak to reset, stale stamp).

    Judged from the endpoint as read by the claim, milliseconds ago: thousands of concurrent
    successes to one endpoint must not queue on its row lock.
    """
    if not row.endpoint_id:
        return False
    endpoint = row._state.fields_cache.get("endpoint")
    if endpoint is None:
        return True
    stale_before = at - timedelta(seconds=ENDPOINT_SUCCESS_REFRESH_SECONDS)
    return bool(
        endpoint.consecutive_failures or endpoint.last_success_at is None or endpoint.last_success_at < stale_before
    )


def _record_success(row: Notification, result: SendResult, started) -> str:
    _record_successes([(row, result, started, timezone.now())])
    return f"{AttemptOutcome.SUCCESS} ({Status.SENT})"


def _record_successes(done: list[tuple[Notification, SendResult, object, object]]) -> None:
    """PostgreSQL: the attempts, `sent` and (if needed) the endpoints' success stamps in one
    statement, for one delivery or a batch.

    Sent is final even if the sweep meanwhile took a row over (a slow receiver): the other
    attempt will find it sent and only log itself.
    """
    if not done:
        return
    table = Notification._meta.db_table
    values = ", ".join(["(%s::bigint, %s::timestamptz)"] * len(done))
    params: list = [value for row, _, _, finished in done for value in (row.pk, finished)]
    # `mark_sent` for the batch in one statement (the same fields as the transition sets).
    sources, sent = Notification.move("mark_sent")
    params += [sent, sources]
    sql = (
        f"WITH v (id, finished) AS (VALUES {values}), "
        f"s AS (UPDATE {table} n SET status = %s, sent_at = v.finished, last_error = '', next_attempt_at = NULL, "
        "sending_started_at = NULL, updated_at = v.finished FROM v WHERE n.id = v.id AND n.status = ANY(%s) "
        "RETURNING n.id)"
    )
    last = max(finished for _, _, _, finished in done)
    stamp = sorted({row.endpoint_id for row, _, _, finished in done if _endpoint_needs_stamp(row, finished)})
    if stamp:
        sql += (
            f", e AS (UPDATE {WebhookEndpoint._meta.db_table} SET consecutive_failures = 0, last_success_at = %s "
            "WHERE id = ANY(%s) AND (consecutive_failures > 0 OR last_success_at IS NULL OR last_success_at < %s) "
            "RETURNING id)"
        )
        params += [last, stamp, last - timedelta(seconds=ENDPOINT_SUCCESS_REFRESH_SECONDS)]
    sql += (
        f" INSERT INTO {DeliveryAttempt._meta.db_table} (notification_id, number, started_at, finished_at, "
        "duration_ms, outcome, status_code, error, response_excerpt, worker) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(done))
    )
    for row, result, started, finished in done:
        params += [
            row.pk,
            row.attempts,
            started,
            finished,
            int((finished - started).total_seconds() * 1000),
            AttemptOutcome.SUCCESS,
            result.status_code,
            result.error[:4000],
            result.response_excerpt[:1000],
            WORKER,
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- batches ---------------------------------------------------------------------------------------

BATCH_FLUSH_SECONDS = 1.0


def claim_many(notification_ids: list[int]) -> list[Notification]:
    """PostgreSQL: claim every deliverable row of the batch in one statement (rows another worker
    holds are skipped: it is claiming or recording them), endpoints joined."""
    rows, endpoints = _claim_loaders()
    table = Notification._meta.db_table
    now = timezone.now()
    # `start_sending` as one statement for the batch (see NotificationQuerySet).
    deliverable, sending = Notification.move("start_sending")
    due = "status = ANY(%s) AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
    sql = (
        f"WITH c AS (UPDATE {table} SET status = %s, attempts = attempts + 1, sending_started_at = %s, "
        f"updated_at = %s WHERE {due} AND id IN (SELECT id FROM {table} WHERE id = ANY(%s) AND {due} "
        "ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING *) "
        f"SELECT {rows.columns}, {endpoints.columns} FROM c "
        f"LEFT JOIN {WebhookEndpoint._meta.db_table} e ON e.id = c.endpoint_id ORDER BY c.id"
    )
    params = [sending, now, now, deliverable, now, list(notification_ids), deliverable, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    split = len(rows.fields)
    claimed = []
    for values in found:
        row = rows.load(values[:split])
        if row.endpoint_id:
            row.endpoint = endpoints.load(values[split:]) if values[split] is not None else None
        claimed.append(row)
    return claimed


def _extend_claims(rows: list[Notification]) -> list[Notification]:
    """Re-stamp `sending_started_at` of rows still waiting in a slow batch, so the sweep does not
    declare them lost; returns the rows still ours (the sweep may have taken some over)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Notification._meta.db_table} SET sending_started_at = %s WHERE id = ANY(%s) "
            "AND status = %s RETURNING id, attempts",
            [now, [row.pk for row in rows], Status.SENDING],
        )
        ours = set(cursor.fetchall())
    return [row for row in rows if (row.pk, row.attempts) in ours]


def deliver_many(notification_ids: list[int]) -> str:
    """Deliver a batch of notifications (each if it is due); safe to call any number of times.

    PostgreSQL: one statement claims the batch, each row is sent over the pooled connection,
    successes are recorded together (at the latest every BATCH_FLUSH_SECONDS), failures one by
    one as in `deliver`. Elsewhere: `deliver` per id.
    """
    outcomes: Counter[str] = Counter()
    if not _fast_sql():
        for pk in notification_ids:
            outcomes[deliver(pk)] += 1
        return _summary(outcomes, notification_ids)
    rows = claim_many(notification_ids)
    outcomes["skipped: not deliverable or held by another worker"] = len(notification_ids) - len(rows)
    claimed_at = flushed_at = time.monotonic()
    extend_after = conf.sending_timeout_seconds() / 2
    done: list = []
    index = 0
    while index < len(rows):
        if time.monotonic() - claimed_at > extend_after:
            rest = _extend_claims(rows[index:])
            outcomes["skipped: taken over by the sweep"] += len(rows) - index - len(rest)
            rows, index, claimed_at = rest, 0, time.monotonic()
            continue
        row = rows[index]
        index += 1
        started = timezone.now()
        result = send(row)
        if result.ok:
            done.append((row, result, started, timezone.now()))
            outcomes[f"{AttemptOutcome.SUCCESS} ({Status.SENT})"] += 1
            if time.monotonic() - flushed_at > BATCH_FLUSH_SECONDS:
                _record_successes(done)
                done, flushed_at = [], time.monotonic()
        else:
            outcomes[_record(row, result, started)] += 1
    _record_successes(done)
    return _summary(outcomes, notification_ids)


def _summary(outcomes: Counter, ids: list[int]) -> str:
    parts = ", ".join(f"{n} {what}" for what, n in outcomes.most_common() if n)
    return f"{len(ids)} ids: {parts}"


def _record(row: Notification, result: SendResult, started) -> str:
    """Any database, any outcome: lock the row, write the attempt, move the row on."""
    finished = timezone.now()
    attempt_number = row.attempts
    retry_in: float | None = None
    with transaction.atomic():
        current = Notification.objects.select_for_update().get(pk=row.pk)
        owner = current.status == Status.SENDING and current.attempts == attempt_number
        if result.ok:
            outcome = AttemptOutcome.SUCCESS
        elif result.retry and attempt_number < current.max_attempts:
            outcome = AttemptOutcome.RETRY
        else:
            outcome = AttemptOutcome.FAILURE
        DeliveryAttempt.objects.create(
            notification=current,
            number=attempt_number,
            started_at=started,
            finished_at=finished,
            duration_ms=int((finished - started).total_seconds() * 1000),
            outcome=outcome,
            status_code=result.status_code,
            error=result.error[:4000],
            response_excerpt=result.response_excerpt[:1000],
            worker=WORKER,
        )
        fields = ["status", "last_error", "next_attempt_at", "sending_started_at", "updated_at"]
        if result.ok and can_proceed(current.mark_sent):
            current.mark_sent(finished)
            current.save(update_fields=[*fields, "sent_at"])
        elif not result.ok and owner:
            if outcome == AttemptOutcome.RETRY:
                retry_in = backoff_seconds(attempt_number, result.retry_after)
                current.retry_later(finished, retry_in, result.error)
                fields.append("queued_at")
            else:
                current.give_up(result.error)
            current.save(update_fields=fields)
        if current.endpoint_id and not result.local:
            _count_on_endpoint(current.endpoint_id, result, finished)
        if retry_in is not None and retry_in <= COUNTDOWN_MAX_SECONDS:
            # A countdown message is the fast path for short delays; longer ones (and lost
            # messages) are picked up by the sweep once due. Long ETAs would sit unacked in a
            # worker's memory and come back from Redis after its visibility timeout.
            transaction.on_commit(lambda: send_now(task(outbox.DELIVER_ONE), row.pk, countdown=retry_in))
    return f"{outcome} ({current.status})"


def _count_on_endpoint(endpoint_id: int, result: SendResult, at) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if result.ok:
        # Only when something changes: thousands of concurrent successes to one endpoint must
        # not queue on its row lock (the delivery log counts them anyway).
        endpoints.filter(
            Q(consecutive_failures__gt=0)
            | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=at - timedelta(seconds=ENDPOINT_SUCCESS_REFRESH_SECONDS))
        ).update(consecutive_failures=0, last_success_at=at)
        return
    endpoints.update(
        total_failures=F("total_failures") + 1, consecutive_failures=F("consecutive_failures") + 1, last_failure_at=at
    )
    if result.disable_endpoint:
        if endpoints.filter(active=True).update(active=False, disabled_at=at, disabled_reason=result.error[:255]):
            snapshot.changed()  # emit() must stop targeting it (its cached configuration)


# --- the sweep -----------------------------------------------------------------------------------


def sweep(limit: int = 1000) -> dict[str, int]:
    """Recover lost work; run by beat every minute. Returns counts per kind of work.

    - pending rows whose after-commit hand-off was lost (broker down, process killed);
    - failed rows that are due and whose countdown message was lost;
    - rows `sending` for longer than the timeout (worker killed): the attempt is recorded as
      interrupted and the row sent again (same delivery id) or declared dead;
    - rows held by storm control: collected into one digest per recipient.
    """
    now = timezone.now()
    grace = timedelta(seconds=conf.sweep_grace_seconds())
    counts = {"interrupted": _recover_interrupted(now, limit), "digests": _build_digests(now, limit)}

    # Claim the rows (skip those a worker or another sweep holds) and stamp their lease *before*
    # publishing: a worker that receives a message must never find its row locked by this sweep,
    # and two sweeps running at once never publish the same rows.
    lease = timedelta(seconds=conf.requeue_interval_seconds())
    pending = SWEEP.claim(
        Notification.objects.filter(status=Status.PENDING, created_at__lte=now - grace),
        now=now,
        lease=lease,
        limit=limit,
        order_by=("id",),
    )
    failed = SWEEP.claim(
        Notification.objects.filter(status=Status.FAILED, next_attempt_at__lte=now - grace),
        now=now,
        lease=lease,
        limit=limit,
        order_by=("next_attempt_at", "id"),
    )
    ids = pending + failed
    counts["pending"], counts["failed"] = len(pending), len(failed)
    if ids:
        published = publish(ids)
        if published < len(ids):
            # The broker is still down: release the rest so the next sweep tries again.
            SWEEP.release(ids[published:], leased_at=now)
        if published:
            reset_breaker()
        counts["published"] = published
    return counts


def _recover_interrupted(now, limit: int) -> int:
    cutoff = now - timedelta(seconds=conf.sending_timeout_seconds())
    recovered = []
    with transaction.atomic():
        rows = list(
            _locked(Notification.objects.filter(status=Status.SENDING, sending_started_at__lt=cutoff)).order_by("id")[
                :limit
            ]
        )
        for row in rows:
            DeliveryAttempt.objects.create(
                notification=row,
                number=row.attempts,
                started_at=row.sending_started_at,
                finished_at=now,
                duration_ms=int((now - row.sending_started_at).total_seconds() * 1000),
                outcome=AttemptOutcome.INTERRUPTED,
                error="No result within the sending timeout: the worker was lost. Sending again.",
                worker="sweep",
            )
            error = "Interrupted: the worker was lost mid-delivery."
            if row.attempts >= row.max_attempts:
                row.give_up(error)
            else:
                row.retry_later(now, 0, error)  # at once: the backoff was spent waiting for the timeout
                recovered.append(row.pk)
            row.save(
                update_fields=[
                    "status",
                    "last_error",
                    "sending_started_at",
                    "next_attempt_at",
                    "queued_at",
                    "updated_at",
                ]
            )
        for pk in recovered:
            transaction.on_commit(lambda pk=pk: send_now(task(outbox.DELIVER_ONE), pk))
    return len(rows)


def _build_digests(now, limit: int) -> int:
    """One digest per (recipient, channel) whose oldest held row waited the digest delay."""
    ready_before = now - timedelta(seconds=conf.digest_delay_seconds())
    groups = (
        Notification.objects.filter(status=Status.HELD)
        .values("recipient", "channel")
        .annotate(first=Min("created_at"), n=Count("id"))
        .filter(first__lte=ready_before)
        .order_by("first")[:limit]
    )
    made = 0
    for group in groups:
        if make_digest(group["recipient"], group["channel"]) is not None:
            made += 1
    return made


def make_digest(recipient: str, channel: str) -> Notification | None:
    """Fold every held row of one recipient into one digest notification (queued after commit)."""
    with transaction.atomic():
        items = list(
            _locked(Notification.objects.filter(status=Status.HELD, recipient=recipient, channel=channel)).order_by(
                "id"
            )
        )
        if not items:
            return None
        first = items[0]
        subject = Subject("digest", first.pk, f"{len(items)} notifications", "Digest", conf.site_url())
        data = {
            "count": len(items),
            "window_minutes": max(1, conf.dedup_window_seconds() // 60),
            "items": [
                {
                    "event": item.event,
                    "event_label": registry.label(item.event),
                    "number": item.subject_number,
                    "message_subject": item.message_subject,
                    "occurred_at": item.occurred_at.isoformat(),
                    "url": item.subject_url,
                }
                for item in items
            ],
        }
        context = rendering.template_context(registry.DIGEST, subject, data, occurred_at=timezone.now())
        override = NotificationTemplate.objects.filter(event=registry.DIGEST, channel=channel, active=True).first()
        message = rendering.render(registry.DIGEST, channel, context, override)
        digest = Notification(
            idempotency_key=f"digest-{channel}-{first.pk}"[:64],
            event=registry.DIGEST,
            occurred_at=timezone.now(),
            public=all(item.public for item in items),
            channel=channel,
            recipient=recipient,
            recipient_user_id=first.recipient_user_id,
            endpoint_id=first.endpoint_id,
            reason=f"{len(items)} notifications within {conf.dedup_window_seconds()} s (storm control)",
            subject_kind="digest",
            message_subject=message.subject[:1000],
            body_text=message.text,
            body_html=message.html if channel == Channel.EMAIL else "",
            max_attempts=conf.max_attempts(),
        )
        created = insert_rows([digest])
        if not created:
            return None
        # `fold_into_digest` for every item in one statement (they are locked above).
        Notification.objects.filter(pk__in=[i.pk for i in items]).fold_into_digest(created[0])
        transaction.on_commit(lambda: publish([created[0].pk]))
    return created[0]
