"""The Celery app, its beat schedule and routes.

Broker: CELERY_BROKER_URL (Redis in production); with none set, kombu's filesystem transport
under var/broker so that `make run` runs a real worker and beat without any server. The
CELERY_* settings in settings.py carry the rest (late acks, prefetch 1, fail-fast publishing).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

app = Celery("itsm")
app.config_from_object("django.conf:settings", namespace="CELERY")


# Periodic sweeps. Later practices add theirs here (the composition root names them).
BEAT_SCHEDULE: dict[str, dict] = {
    "sweep-domain-events": {"task": "itsm.tasks.sweep_domain_events", "schedule": 60.0},
    # Domain events are rows; dispatched ones older than a week go, pending ones stay.
    "purge-domain-events": {"task": "itsm.tasks.purge_domain_events", "schedule": 86400.0},
    # Lost hand-offs, due retries, interrupted deliveries, storm-control digests.
    "sweep-notifications": {"task": "communications.tasks.sweep_notifications", "schedule": 60.0},
    "sweep-sla-clocks": {"task": "incidents.tasks.sweep_sla_clocks", "schedule": 60.0},
    "auto-close-resolved": {"task": "incidents.tasks.auto_close_resolved", "schedule": 300.0},
    "remind-on-hold": {"task": "incidents.tasks.remind_on_hold", "schedule": 3600.0},
    # Re-pages and overdue stakeholder updates.
    "sweep-major-incidents": {"task": "incidents.major.tasks.sweep_major_incidents", "schedule": 60.0},
    # Overdue review action items: once per item and day; hourly so an outage delays it by an hour at most.
    "remind-action-items": {"task": "incidents.major.review_tasks.remind_action_items", "schedule": 3600.0},
    "remind-overdue-tasks": {"task": "incidents.response.jobs.remind_overdue_tasks", "schedule": 60.0},
    "sweep-maintenance": {"task": "status.tasks.sweep_maintenance", "schedule": 60.0},
    # Clusters of recurring incidents open proactive problems; hourly is plenty for a days-long window.
    "detect-problem-trends": {"task": "problems.tasks.detect_problem_trends", "schedule": 3600.0},
}

app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()
