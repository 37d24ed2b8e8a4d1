"""A task sent from a web request after commit is executed by a real worker on Redis."""

from itsm import roles
from itsm.models import DomainEvent
from tests.integration.conftest import wait_for


def test_request_publishes_after_commit_and_real_worker_dispatches(celery_worker_process, api, make_user):
    admin = make_user(roles.ADMINISTRATOR)
    response = api.as_user(admin).post("/api/v1/services/", {"slug": "payroll", "name": "Payroll"}, format="json")
    assert response.status_code == 201
    event = DomainEvent.objects.get(name="service.created", payload__id=response.json()["id"])
    dispatched = wait_for(lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).first())
    assert dispatched.attempts == 1


def test_sweep_catches_an_event_whose_message_was_lost(celery_worker_process):
    from itsm.tasks import sweep_domain_events

    event = DomainEvent.objects.create(name="lost.message", payload={})  # never handed to the broker
    sweep_domain_events.apply(kwargs={"older_than_seconds": 0})
    wait_for(lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists())
