"""The public status page's configuration, scheduled maintenance and public subscribers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from status.choices import MaintenanceState

M = MaintenanceState


class StatusPageGroup(models.Model):
    """A heading on the status page that services are arranged under ("Customer apps", "Internal")."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class StatusPageEntry(models.Model):
    """How one service shows on the status page: its group, order and public name (or hidden).

    Active services without an entry show under "Other services" with their own name.
    """

    service = models.OneToOneField("itsm.Service", on_delete=models.CASCADE, related_name="status_entry")
    group = models.ForeignKey(StatusPageGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries")
    position = models.PositiveIntegerField(default=100)
    public_name = models.CharField(max_length=150, blank=True, help_text="Empty: the service's name.")
    public_description = models.CharField(max_length=300, blank=True)
    hidden = models.BooleanField(default=False, help_text="Never shown on the public page.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "status page entries"

    def __str__(self) -> str:
        return self.public_name or str(self.service)


class MaintenanceWindow(FSMModelMixin, models.Model):
    """Announced scheduled maintenance: services, start, end and a public text.

    Shows on the status page before it starts; sets its services to `maintenance` while it runs;
    subscribers are told at announcement and at start; with `pause_sla`, the SLA clocks of
    incidents on its services count the window as paused time.
    """

    title = models.CharField(max_length=200)
    description = models.TextField(help_text="Public text: what changes and what users will notice.")
    services = models.ManyToManyField("itsm.Service", related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    pause_sla = models.BooleanField(
        default=False, help_text="Count the window as paused time on SLA clocks of incidents on these services."
    )
    state = FSMField(default=M.SCHEDULED, choices=M.choices, protected=True, db_index=True)
    announced_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Lease of the maintenance sweep.")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="maintenance_ends_after_start")
        ]
        indexes = [
            models.Index(fields=["state", "starts_at"], name="maintenance_state_start"),
            models.Index(fields=["state", "ends_at"], name="maintenance_state_end"),
        ]

    def __str__(self) -> str:
        return self.title

    @transition(field=state, source=M.SCHEDULED, target=M.IN_PROGRESS)
    def start(self) -> None:
        self.started_at = timezone.now()

    @transition(field=state, source=M.IN_PROGRESS, target=M.COMPLETED)
    def complete(self) -> None:
        self.completed_at = timezone.now()

    @transition(field=state, source=[M.SCHEDULED, M.IN_PROGRESS], target=M.CANCELLED)
    def cancel(self) -> None:
        self.cancelled_at = timezone.now()


class StatusSubscriber(models.Model):
    """A public visitor who asked for status emails (the whole page, or chosen services).

    Double opt-in: nothing is sent but the confirmation until `confirmed_at`; confirming writes
    the communications subscriptions that deliver external updates through the outbox.
    """

    email = models.EmailField(unique=True)
    all_services = models.BooleanField(default=True)
    services = models.ManyToManyField("itsm.Service", blank=True, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email
