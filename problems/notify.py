"""Hand problem events to the communications app (which knows nothing of problems).

The problem is described as a `Subject` (kind `problem`; its owner as the assignee, its
watchers) plus a JSON context for the templates. `emit_events()` is the one way a problem use
case queues notifications: one `emit_many()` in the use case's transaction (delivered after
commit, swept if the broker was down), each queued notification noted on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from communications.choices import Status
from communications.services import Emission, Subject, emit_many
from problems import events
from problems.models import Problem


def problem_url(problem: Problem) -> str:
    """The problem's page in the console (its API URL if the console is not installed)."""
    try:
        path = reverse("admin:problems_problem_change", args=[problem.pk])
    except NoReverseMatch:
        try:
            path = reverse("problem-detail", args=[problem.pk])
        except NoReverseMatch:
            path = f"/api/v1/problems/{problem.pk}/"
    return settings.ITSM_SITE_URL.rstrip("/") + path


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def problem_context(problem: Problem) -> dict:
    """The fields templates and webhook receivers get (JSON-serialisable)."""
    return {
        "id": problem.pk,
        "number": problem.number,
        "title": problem.title,
        "state": problem.state,
        "priority": problem.priority,
        "source": problem.source,
        "service": problem.service.slug if problem.service_id else None,
        "service_name": problem.service.name if problem.service_id else "",
        "owner": _name(problem.owner) if problem.owner_id else "",
        "root_cause": problem.root_cause,
        "workaround": problem.workaround,
        "fix": problem.fix,
        "fix_reference": problem.fix_reference,
        "lessons_learned": problem.lessons_learned,
        "recurrence_count": problem.recurrence_count,
        "url": problem_url(problem),
    }


def subject_for(problem: Problem) -> Subject:
    """The problem as communications sees it."""
    return Subject(
        kind="problem",
        id=problem.pk,
        number=problem.number,
        title=problem.title,
        url=problem_url(problem),
        priority=problem.priority,
        service_id=problem.service_id,
        group_id=problem.assignment_group_id,
        assignee_id=problem.owner_id,
        watcher_ids=tuple(problem.watchers.values_list("id", flat=True)),
    )


@dataclass
class Occurrence:
    """One occurrence to announce: the event type, who caused it, what the templates get besides
    the problem (`extra`), and explicit recipients ("user:<id>", recipient kinds) on top of the rules."""

    event_type: str
    actor: object = None
    extra: dict = field(default_factory=dict)
    recipients: list[str] | None = None


def emit_events(problem: Problem, occurrences: list[Occurrence]) -> list[list]:
    """Queue the notifications of `occurrences` about `problem` in the caller's transaction.

    Problems are internal records: no occurrence is public. One `emit_many()`; one INSERT of the
    `notified` timeline entries. Returns each occurrence's notifications.
    """
    if not occurrences:
        return []
    subject = subject_for(problem)
    record = problem_context(problem)
    emissions = []
    for occurrence in occurrences:
        context = {"problem": record, **occurrence.extra}
        actor = occurrence.actor
        if actor is not None and getattr(actor, "pk", None):
            context["actor"] = {"id": actor.pk, "name": _name(actor)}
        emissions.append(
            Emission(
                event_type=occurrence.event_type,
                subject=subject,
                context=context,
                actor=actor,
                public=False,
                recipients=occurrence.recipients,
            )
        )
    written = emit_many(emissions)
    note_notified(problem, [(o.event_type, sent) for o, sent in zip(occurrences, written, strict=True)])
    return written


def note_notified(problem: Problem | int, written: list[tuple[str, list]]) -> None:
    """Each queued notification of `written` ((event type, notifications) pairs) noted on the
    problem's timeline in one INSERT; storm control's suppressed repeats are not noted."""
    rows = [
        events.notified_row(problem, event=event_type, channel=n.channel, recipient=n.recipient)
        for event_type, notifications in written
        for n in notifications
        if n.status != Status.SUPPRESSED
    ]
    if rows:
        events.TIMELINE.write_many(rows)


def emit_event(problem: Problem, event_type: str, actor=None, **kwargs) -> list:
    """`emit_events()` of one occurrence."""
    return emit_events(problem, [Occurrence(event_type, actor, **kwargs)])[0]
