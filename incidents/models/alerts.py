"""Alert ingestion models: per-service alert routing, per-incident alert state, inbound email log."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class AlertSeverity(models.TextChoices):
    """Severity of a monitoring event (PagerDuty's four levels)."""

    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class OnResolve(models.TextChoices):
    """What a `resolve` event from monitoring does to the open incident."""

    RESOLVE = "resolve", "Resolve the incident (code auto_resolved)"
    ANNOTATE = "annotate", "Only add a work note; an agent resolves"


def validate_severity_map(value) -> None:
    """`{"critical": {"impact": 1, "urgency": 1}, ...}`: known severities, levels 1-3; partial is fine."""
    if not isinstance(value, dict):
        raise ValidationError("A JSON object keyed by severity.")
    problems = []
    for severity, levels in value.items():
        if severity not in AlertSeverity.values:
            problems.append(f"'{severity}' is not a severity ({', '.join(AlertSeverity.values)}).")
            continue
        if not isinstance(levels, dict) or set(levels) != {"impact", "urgency"}:
            problems.append(f"'{severity}' needs exactly impact and urgency.")
            continue
        for name, level in levels.items():
            if not isinstance(level, int) or isinstance(level, bool) or level not in (1, 2, 3):
                problems.append(f"'{severity}'.{name} must be 1, 2 or 3.")
    if problems:
        raise ValidationError(problems)


class AlertRoute(models.Model):
    """How alerts for one service become incidents: severity mapping, default group, resolve behaviour.

    Severities missing from `severity_map` fall back to the global default (ALERT_SEVERITY_MAP in
    `incidents.alerts.conf`); a service without a route uses the global default throughout, its
    owner group, and resolves on `resolve`.
    """

    service = models.OneToOneField("itsm.Service", on_delete=models.CASCADE, related_name="alert_route")
    severity_map = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_severity_map],
        help_text='Per severity: {"critical": {"impact": 1, "urgency": 1}}. Missing severities use the global default.',
    )
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Group for incidents from alerts; empty: the service's owner group.",
    )
    on_resolve = models.CharField(max_length=10, choices=OnResolve.choices, default=OnResolve.RESOLVE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert route"

    def __str__(self) -> str:
        return f"Alert route for {self.service}"


class IncidentAlert(models.Model):
    """The alert behind an incident opened by monitoring: latest occurrence and timeline bookkeeping.

    The incident itself carries the counters integrators read (`alert_count`, first/last seen);
    this row keeps what changes with every occurrence but must not flood the timeline (latest
    summary, severity and details) and when the timeline last summarised the occurrences.
    `dedup_key` is copied here, indexed, to find the previous incident of a key cheaply.
    """

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, primary_key=True, related_name="alert"
    )
    dedup_key = models.CharField(max_length=255, db_index=True)
    source = models.CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=10, choices=AlertSeverity.choices)
    summary = models.TextField(blank=True, help_text="Summary of the latest occurrence.")
    details = models.JSONField(default=dict, blank=True, help_text="Details of the latest occurrence.")
    summarised_count = models.PositiveIntegerField(
        default=1, help_text="The occurrence count the last `alert` timeline event recorded."
    )
    summarised_at = models.DateTimeField(default=timezone.now, help_text="When that timeline event was written.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="Monitoring reported it resolved (set while the incident may stay open)."
    )

    class Meta:
        verbose_name = "incident alert"

    def __str__(self) -> str:
        return f"Alert {self.dedup_key}"


class InboundOutcome(models.TextChoices):
    """What became of an inbound email."""

    CREATED = "created", "Opened an incident"
    COMMENTED = "commented", "Commented on an incident"
    IGNORED = "ignored", "Ignored (auto-reply, bulk or our own mail)"


class InboundMessage(models.Model):
    """An email the service desk received, recorded once per Message-ID so it is processed once.

    Messages without a Message-ID get a synthetic one from a hash of their bytes, so a mailbox
    read twice still does not open two incidents.
    """

    message_id = models.CharField(max_length=255, unique=True)
    received_at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(max_length=10, help_text="api, maildir, mbox or imap.")
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=10, choices=InboundOutcome.choices)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was ignored, or what was done.")
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    attachments = models.JSONField(default=list, blank=True, help_text="[{filename, content_type, size}]")

    class Meta:
        ordering = ["-id"]
        verbose_name = "inbound email"
        verbose_name_plural = "inbound emails"

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"
