from django.db import models


class DomainEventQuerySet(models.QuerySet):
    def undispatched(self) -> "DomainEventQuerySet":
        return self.filter(dispatched_at__isnull=True)


class DomainEvent(models.Model):
    """A transactional outbox of named domain events (e.g. `major_incident.closed`).

    Written in the same transaction as the change that caused it; dispatched to the subscribers
    that apps register in `AppConfig.ready()` by a Celery task after commit, and again by the
    beat sweep if that hand-off was lost. Subscribers must be idempotent.
    """

    name = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="The sweep's lease: when it last re-sent this event (itsm.sweep)."
    )

    objects = DomainEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="domainevent_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"
