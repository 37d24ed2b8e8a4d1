"""Indexes of the incident reports (reporting/incidents/): MTTA by responded_at, MTTR and volume by
resolved_at (closed incidents included), volume and backlog by the moment an incident was finished
(COALESCE(resolved_at, closed_at), the expression the reports filter on), the open incidents by
opening (backlog ageing now), SLA compliance by the moment a clock was met or breached (with its
kind and incident, so the scan is index-only)."""

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_problem_links"),
        ("itsm", "0007_service_customer_facing"),
        ("problems", "0002_knownerror_document_gin"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("responded_at__isnull", False)),
                fields=["responded_at"],
                name="incident_responded_at",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)), fields=["resolved_at"], name="incident_resolved_at"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                django.db.models.functions.comparison.Coalesce("resolved_at", "closed_at"), name="incident_finished_at"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("state__in", ["new", "in_progress", "on_hold"])),
                fields=["opened_at"],
                name="incident_open_opened_at",
            ),
        ),
        migrations.AddIndex(
            model_name="slaclock",
            index=models.Index(
                condition=models.Q(("stage", "met")), fields=["stopped_at", "kind", "incident"], name="slaclock_met_at"
            ),
        ),
        migrations.AddIndex(
            model_name="slaclock",
            index=models.Index(
                condition=models.Q(("stage", "breached")),
                fields=["breached_at", "kind", "incident"],
                name="slaclock_breached_at",
            ),
        ),
    ]
