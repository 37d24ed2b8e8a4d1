"""The framework ceiling's one table: a row of three columns and an id."""

from django.db import models
from django.utils import timezone


class Note(models.Model):
    """A trivial row: what the ceiling creates one of per request and lists 50 of."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "bench_ceiling"

    def __str__(self) -> str:
        return self.title
