"""Task rows on the record's timeline read as sentences: the incident narrator, the workbench
narrator and the Markdown export of a major incident's timeline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.major import history
from incidents.major.admin.display import MajorNarrator
from incidents.major.models import MajorIncidentEvent
from incidents.models import TimelineEvent
from incidents.narration import TimelineNarrator
from incidents.response import worktasks
from incidents.response.narration import task_sentence
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"event": "created", "blocking": True}, "added (blocking)"),
        ({"event": "changed", "changes": {"due_at": {}, "assignee": {}}}, "changed: due at, assignee."),
        ({"event": "started"}, "started."),
        ({"event": "completed"}, "completed."),
        ({"event": "cancelled", "reason": "Not needed"}, "cancelled: “Not needed”."),
        ({"event": "overdue", "overdue_minutes": 5, "period": 2}, "overdue, 5 min past due"),
    ],
)
def test_sentences(data, text):
    sentence = task_sentence({"task": 7, "title": "Call the ISP", **data})
    assert sentence.startswith("Task “Call the ISP” (#7)") and text in sentence


def test_the_incident_narrator_tells_task_rows():
    incident = IncidentFactory()
    task = worktasks.create_task(actor=None, record=incident, title="Call the ISP")
    worktasks.run_task_transition(task, "cancel", actor=None, payload={"reason": "Fixed itself"})
    rows = list(TimelineEvent.objects.filter(incident=incident, type="task").order_by("id"))
    narrator = TimelineNarrator(rows)
    assert [narrator.sentence(r) for r in rows] == [
        f"Task “Call the ISP” (#{task.pk}) added.",
        f"Task “Call the ISP” (#{task.pk}) cancelled: “Fixed itself”.",
    ]


def test_the_workbench_and_the_markdown_export_tell_task_rows():
    mi = MajorIncidentFactory()
    due = timezone.now() + timedelta(hours=1)
    task = worktasks.create_task(actor=None, record=mi, title="Fail over", blocking=True, due_at=due)
    worktasks.run_task_transition(task, "complete", actor=None)
    rows = list(MajorIncidentEvent.objects.filter(major_incident=mi, type="task").order_by("id"))
    narrator = MajorNarrator(rows)
    assert narrator.sentence(rows[1]) == f"Task “Fail over” (#{task.pk}) completed."
    assert "added (blocking), due" in narrator.sentence(rows[0])
    assert f"Task “Fail over” (#{task.pk}) completed." in history.timeline_markdown(mi)
