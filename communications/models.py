"""The outbox and what decides it: rules, templates, endpoints, subscriptions.

`Notification` is a transactional outbox row: written by `services.emit()` in the transaction of
the change that caused it, handed to Celery after commit, re-sent by the beat sweep if that
hand-off was lost. `DeliveryAttempt` keeps every try. The rest is configuration.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from itsm import roles
from itsm.models import TimeStampedModel

from . import registry
from .choices import (
    DELIVERABLE,
    RETRYABLE,
    AttemptOutcome,
    Channel,
    EndpointChannel,
    RecipientKind,
    Status,
    TemplateChannel,
)
from .netguard import UnsafeURL, validate_target_url
from .rendering import template_errors


def _validate_patterns(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("A list of event types.")
    bad = registry.invalid_patterns(value)
    if bad:
        raise ValidationError(f"Unknown event type(s): {', '.join(bad)}.")


def _validate_email_list(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("A list of email addresses.")
    for address in value:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"Not an email address: {address}.") from None


# --- Endpoints ---------------------------------------------------------------------------------


class WebhookEndpoint(TimeStampedModel):
    """An outbound HTTP receiver: a signed JSON webhook, or a Slack / Teams incoming webhook.

    It receives every event in `events` without any rule; rules may also name it. Internal
    events (work notes) reach it only with `include_internal`. A 410 answer disables it.
    """

    url = models.URLField(max_length=2000, help_text="http(s) only; private addresses are refused (SSRF).")
    channel = models.CharField(max_length=10, choices=EndpointChannel.choices, default=EndpointChannel.WEBHOOK)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Event types, `prefix.*` or `*`.")
    # Kept in clear because the HMAC needs it; never returned by the API, never in history.
    secret = models.CharField(max_length=200, blank=True, help_text="HMAC-SHA256 key, at least 16 characters.")
    include_internal = models.BooleanField(
        default=False, help_text="Also receive internal events (work notes, internal updates)."
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    total_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords(
        excluded_fields=[
            "secret",
            "consecutive_failures",
            "total_failures",
            "last_success_at",
            "last_failure_at",
        ]
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        errors = {}
        try:
            validate_target_url(self.url)
        except UnsafeURL as exc:
            errors["url"] = str(exc)
        try:
            _validate_patterns(self.events)
        except ValidationError as exc:
            errors["events"] = exc.messages
        if self.channel == EndpointChannel.WEBHOOK and len(self.secret or "") < 16:
            errors["secret"] = "A webhook secret of at least 16 characters is required."
        elif self.secret and len(self.secret) < 16:
            errors["secret"] = "At least 16 characters."
        if errors:
            raise ValidationError(errors)


# --- Rules -------------------------------------------------------------------------------------


class NotificationRule(TimeStampedModel):
    """Which events go to whom, on which channel, for which records (admin configuration).

    An email rule notifies people: the recipient kinds (relative to the record), holders of
    `roles`, named `users` and the external `emails`. A webhook/Slack/Teams rule posts to its
    `endpoints` (of that channel). Empty filters match everything; `conditions` compares values
    of the event's context (`{"record.state": ["resolved"]}`).
    """

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    events = models.JSONField(default=list, help_text="Event types, `prefix.*` or `*`.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    recipients = models.JSONField(default=list, blank=True, help_text="Recipient kinds (email rules).")
    roles = models.JSONField(default=list, blank=True, help_text="Everyone holding one of these roles.")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    emails = models.JSONField(default=list, blank=True, help_text="External stakeholder addresses.")
    endpoints = models.ManyToManyField(WebhookEndpoint, blank=True, related_name="rules")
    priorities = models.JSONField(default=list, blank=True, help_text="Only these priorities (1-5); empty: any.")
    services = models.ManyToManyField("itsm.Service", blank=True, related_name="+")
    groups = models.ManyToManyField("itsm.AssignmentGroup", blank=True, related_name="+")
    conditions = models.JSONField(
        default=dict, blank=True, help_text='Context values, e.g. {"record.state": ["resolved"]}.'
    )
    notify_actor = models.BooleanField(default=False, help_text="Also notify the person who caused the event.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "notification rule"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            _validate_patterns(self.events)
            if not self.events:
                errors["events"] = ["At least one event type."]
        except ValidationError as exc:
            errors["events"] = exc.messages
        kinds = set(RecipientKind.values)
        if not isinstance(self.recipients, list) or any(r not in kinds for r in self.recipients):
            errors["recipients"] = [f"Recipient kinds are: {', '.join(RecipientKind.values)}."]
        if not isinstance(self.roles, list) or any(r not in roles.ALL_ROLES for r in self.roles):
            errors["roles"] = [f"Roles are: {', '.join(roles.ALL_ROLES)}."]
        try:
            _validate_email_list(self.emails)
        except ValidationError as exc:
            errors["emails"] = exc.messages
        if not isinstance(self.priorities, list) or any(p not in (1, 2, 3, 4, 5) for p in self.priorities):
            errors["priorities"] = ["A list of priorities from 1 to 5."]
        if not _valid_conditions(self.conditions):
            errors["conditions"] = ['An object of "dotted.path": [allowed values].']
        if self.channel != Channel.EMAIL and (self.recipients or self.roles or self.emails):
            errors["channel"] = ["Only email rules notify people; a webhook, Slack or Teams rule posts to endpoints."]
        if errors:
            raise ValidationError(errors)

    def matches(self, subject, context: dict) -> bool:
        """The filters (priorities, services, groups, conditions) against one event.

        Expects `services` and `groups` prefetched (emit prefetches matching rules).
        """
        if self.priorities and subject.priority not in self.priorities:
            return False
        service_ids = {s.pk for s in self.services.all()}
        if service_ids and service_ids.isdisjoint(subject.all_service_ids()):
            return False
        group_ids = {g.pk for g in self.groups.all()}
        if group_ids and subject.group_id not in group_ids:
            return False
        for path, allowed in (self.conditions or {}).items():
            if _lookup(context, path) not in {str(a) for a in allowed}:
                return False
        return True


def _valid_conditions(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and k and isinstance(v, list) and v and all(isinstance(i, str | int | bool) for i in v)
        for k, v in value.items()
    )


def _lookup(context: dict, path: str) -> str | None:
    """`a.b.c` in nested dicts, as a string (None when absent)."""
    value = context
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool):
        return str(value).lower()
    return None if value is None else str(value)


class InstalledDefaultRule(models.Model):
    """A registered default rule that was installed once (`defaults.install_default_rules`):
    it is not installed again, even after an administrator deleted or renamed the rule."""

    name = models.CharField(max_length=200, unique=True)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "installed default rule"

    def __str__(self) -> str:
        return self.name


# --- Templates ---------------------------------------------------------------------------------


class NotificationTemplate(TimeStampedModel):
    """An administrator's version of the message of one event on one channel.

    Overrides the shipped default `templates/communications/<event>/<channel>_*.txt|html`.
    Django template syntax; refused at save unless it compiles and renders against the event's
    sample; if it still fails at send time the shipped default is used (and the error logged).
    """

    event = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices, default=TemplateChannel.EMAIL)
    subject = models.CharField(max_length=500, blank=True, help_text="Email subject / chat title (one line).")
    body_text = models.TextField(help_text="Plain text (email), mrkdwn (Slack) or markdown (Teams).")
    body_html = models.TextField(blank=True, help_text="HTML part of emails; empty: derived from the text.")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["event", "channel"]
        verbose_name = "notification template"
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="notificationtemplate_unique")]

    def __str__(self) -> str:
        return f"{self.event} / {self.get_channel_display()}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if not registry.is_registered(self.event, internal=True):
            errors["event"] = [f"Unknown event type: {self.event}."]
        else:
            errors.update(template_errors(self.event, self.channel, self.subject, self.body_text, self.body_html))
        if errors:
            raise ValidationError(errors)


# --- Subscriptions -----------------------------------------------------------------------------


class Subscription(models.Model):
    """A person (a user, or an external email) following a service or one record.

    Subscribers receive the public events about it (all of them, or those in `events`); emails
    to them carry a signed unsubscribe link that works without login.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    email = models.EmailField(blank=True, help_text="External stakeholder (no account).")
    service = models.ForeignKey(
        "itsm.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    subject_kind = models.CharField(max_length=50, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Event types or patterns; empty: every event.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(email="")) | (Q(user__isnull=True) & ~Q(email="")),
                name="subscription_user_xor_email",
            ),
            models.CheckConstraint(
                condition=(Q(service__isnull=False) & Q(subject_kind="") & Q(subject_id__isnull=True))
                | (Q(service__isnull=True) & ~Q(subject_kind="") & Q(subject_id__isnull=False)),
                name="subscription_service_xor_record",
            ),
            models.UniqueConstraint(
                fields=["user", "service"],
                condition=Q(user__isnull=False, service__isnull=False),
                name="subscription_unique_user_service",
            ),
            models.UniqueConstraint(
                fields=["email", "service"],
                condition=Q(user__isnull=True, service__isnull=False),
                name="subscription_unique_email_service",
            ),
            models.UniqueConstraint(
                fields=["user", "subject_kind", "subject_id"],
                condition=Q(user__isnull=False, service__isnull=True),
                name="subscription_unique_user_record",
            ),
            models.UniqueConstraint(
                fields=["email", "subject_kind", "subject_id"],
                condition=Q(user__isnull=True, service__isnull=True),
                name="subscription_unique_email_record",
            ),
        ]
        indexes = [models.Index(fields=["subject_kind", "subject_id"], name="subscription_record")]

    def __str__(self) -> str:
        who = self.email or str(self.user)
        what = f"service {self.service}" if self.service_id else f"{self.subject_kind} {self.subject_id}"
        return f"{who} -> {what}"

    @property
    def address(self) -> str:
        return self.email or (self.user.email if self.user_id else "")


# --- The outbox --------------------------------------------------------------------------------


class NotificationQuerySet(models.QuerySet):
    """Domain queries of the outbox, and the set-based forms of its transitions.

    Two transitions also run as one UPDATE over many rows: claiming rows for sending (the claim
    must be a single conditional statement so that two workers can never both win a row) and
    folding held rows into their digest. They move exactly along the declared transition
    (`Notification.move()` gives its sources and target), so the state machine stays the one
    place that says which moves exist.
    """

    def due(self, now) -> "NotificationQuerySet":
        """Rows a delivery task may send now."""
        sources, _ = Notification.move("start_sending")
        return self.filter(status__in=sources).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))

    def start_sending(self, now: datetime) -> int:
        """`start_sending` on every due row of the queryset, in one statement; how many moved."""
        _, target = Notification.move("start_sending")
        return self.due(now).update(
            status=target, attempts=models.F("attempts") + 1, sending_started_at=now, updated_at=now
        )

    def fold_into_digest(self, digest: "Notification") -> int:
        """`fold_into_digest` on every held row of the queryset, in one statement."""
        sources, target = Notification.move("fold_into_digest")
        return self.filter(status__in=sources).update(status=target, digest=digest, updated_at=timezone.now())

    def visible_to(self, user) -> "NotificationQuerySet":
        """Administrators see every row; others the messages addressed to them and, for the
        Integration role, the deliveries to endpoints they created."""
        if roles.has_role(user, roles.ADMINISTRATOR):
            return self
        condition = Q(recipient_user=user)
        if roles.has_role(user, roles.INTEGRATION):
            condition |= Q(endpoint__created_by=user)
        return self.filter(condition)


class Notification(FSMModelMixin, models.Model):
    """One message to one recipient on one channel: the transactional outbox row.

    `status` is a protected state machine (see `Status`); it changes only through the named
    transitions below, each of which also sets the fields that go with the move:

    - `suppress` / `hold_for_digest`: storm control on a new row (pending -> suppressed | held);
    - `start_sending`: a delivery claims a due row (pending | failed -> sending);
    - `mark_sent`: the receiver took it (a late success wins over a sweep's recovery);
    - `retry_later` / `give_up`: an attempt failed or its worker was lost (sending -> failed | dead);
    - `fold_into_digest`: a held row went out in a digest (held -> digested);
    - `requeue`: an operator's "retry now" (pending | failed | dead | suppressed | held -> pending).

    `idempotency_key` is unique per event occurrence x recipient x channel, so the same
    occurrence is never queued twice; `delivery_id` is sent with every attempt (webhook header
    `X-ITSM-Delivery`, email `Message-ID`) so a receiver can drop a repeat after an unclear
    failure. For webhooks `body_text` holds the exact JSON body that is signed.
    """

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    event = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    public = models.BooleanField(default=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=2000, help_text="Email address or endpoint URL.")
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    rule = models.ForeignKey(
        NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    reason = models.CharField(max_length=200, blank=True, help_text="Why this recipient gets it.")
    subject_kind = models.CharField(max_length=50, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    subject_number = models.CharField(max_length=50, blank=True)
    subject_url = models.URLField(max_length=2000, blank=True)
    message_subject = models.CharField(max_length=1000, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True, help_text="Storm control: same message, same hash.")
    status = FSMField(max_length=10, choices=Status.choices, default=Status.PENDING, protected=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last re-publish by the sweep.")
    sending_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Suppressed repeat of."
    )
    digest = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="digested_items")

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "failed", "sending", "held"]),
                name="notification_open",
            ),
            models.Index(fields=["recipient", "channel", "created_at"], name="notification_storm"),
            models.Index(fields=["subject_kind", "subject_id"], name="notification_subject"),
            models.Index(fields=["event", "created_at"], name="notification_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.recipient} ({self.channel}, {self.status})"

    @classmethod
    def move(cls, name: str) -> tuple[list[str], str]:
        """(sources, target) of the transition `name`, for the set-based forms of it."""
        # django-fsm lists a transition once per source state.
        found = [t for t in cls._meta.get_field("status").get_all_transitions(cls) if t.name == name]
        if found:
            sources = {t.source for t in found}
            return [s for s in Status.values if s in sources or "*" in sources], found[0].target
        raise LookupError(f"Notification has no transition {name!r}")

    # --- transitions --------------------------------------------------------------------------

    @transition(field=status, source=Status.PENDING, target=Status.SUPPRESSED)
    def suppress(self, reason: str) -> None:
        """Storm control: the same message reached the same recipient within the window."""
        self.last_error = reason

    @transition(field=status, source=Status.PENDING, target=Status.HELD)
    def hold_for_digest(self) -> None:
        """Storm control: the recipient got enough already; the sweep sends this in a digest."""

    @transition(field=status, source=DELIVERABLE, target=Status.SENDING)
    def start_sending(self, at: datetime) -> None:
        """A delivery claims the row (the set-based form: `NotificationQuerySet.start_sending`)."""
        self.attempts += 1
        self.sending_started_at = at

    @transition(field=status, source=[Status.PENDING, Status.SENDING, Status.FAILED, Status.DEAD], target=Status.SENT)
    def mark_sent(self, at: datetime) -> None:
        """The receiver took it. Final even if the sweep meanwhile took the row over (a slow
        receiver): the other attempt will find it sent and only log itself."""
        self.sent_at = at
        self.last_error = ""
        self.next_attempt_at = None
        self.sending_started_at = None

    @transition(field=status, source=Status.SENDING, target=Status.FAILED)
    def retry_later(self, at: datetime, delay_seconds: float, error: str) -> None:
        """The attempt failed (or its worker was lost) and attempts remain: try again later."""
        self.last_error = error[:4000]
        self.sending_started_at = None
        self.next_attempt_at = at + timedelta(seconds=delay_seconds)
        self.queued_at = at

    @transition(field=status, source=Status.SENDING, target=Status.DEAD)
    def give_up(self, error: str) -> None:
        """The attempt failed for good, or it was the last one."""
        self.last_error = error[:4000]
        self.sending_started_at = None
        self.next_attempt_at = None

    @transition(field=status, source=Status.HELD, target=Status.DIGESTED)
    def fold_into_digest(self, digest: "Notification") -> None:
        """Sent as part of `digest` (the set-based form: `NotificationQuerySet.fold_into_digest`)."""
        self.digest = digest

    @transition(field=status, source=RETRYABLE, target=Status.PENDING)
    def requeue(self, extra_attempts: int) -> None:
        """ "Retry now": send again at once; a row out of attempts gets `extra_attempts` more."""
        self.next_attempt_at = None
        if self.attempts >= self.max_attempts:
            self.max_attempts = min(32767, self.attempts + extra_attempts)


class DeliveryAttempt(models.Model):
    """One try at delivering a notification: when, how it ended, what the receiver said."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=12, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["notification", "number", "id"]
        verbose_name = "delivery attempt"

    def __str__(self) -> str:
        return f"#{self.number} {self.outcome}"
