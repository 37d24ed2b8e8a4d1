"""`make run`'s demo: an active major incident mid-outage and a closed, reviewed one."""

import io

import pytest
from django.core.management import call_command

from incidents.major import updates
from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.response.models import Task

pytestmark = pytest.mark.django_db


def test_demo_major_incidents(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent: nothing twice

    active, closed = MajorIncident.objects.order_by("id")
    assert MajorIncident.objects.count() == 2

    assert active.state == "active" and active.manager.username == "mim"
    assert active.bridge_url and active.chat_channel
    responders = list(active.responders.order_by("id"))
    assert len(responders) == 2
    assert [r.acknowledged_at is not None for r in responders] == [True, False]
    posted = list(active.updates.order_by("posted_at"))
    assert [u.audience for u in posted] == ["external", "internal"]
    assert posted[0].late_seconds == 0 and posted[1].late_seconds >= 30 * 60
    compliance = updates.cadence_compliance(active)
    assert compliance["updates"] == 2 and compliance["late"] == 1
    assert Incident.objects.filter(major_incident=active).count() == 4  # the primary and three reports
    tasks = list(Task.objects.filter(major_incident=active).order_by("position"))
    assert [t.blocking for t in tasks] == [True, False] and all(t.assignee_id for t in tasks)
    assert [t.is_overdue for t in tasks] == [False, True]
    assert Task.objects.filter(incident=active.incident).count() == 1

    assert closed.state == "closed" and closed.estimated_cost > 0
    assert closed.review.missing() == []
    assert closed.review.action_items.count() == 1
    assert all(i.state == "resolved" for i in Incident.objects.filter(major_incident=closed))
