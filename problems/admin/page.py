"""What the problem page shows below its form, read in a constant number of queries.

The known error article, the linked incidents (capped, counted by state), the linked major
incidents, the timeline (newest first, capped) and the forms to link more; the tasks are the
shared `{% task_panel %}` (incidents.response), which takes problems as a task record kind.
Which forms appear is asked of `problems.policy`, the same decision the use cases enforce.
"""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest
from django.urls import reverse

from incidents.admin.display import PRIORITY_COLOURS, STATE_COLOURS
from incidents.choices import IncidentState
from incidents.major.admin.display import MI_STATE_COLOURS
from incidents.models import Incident, MajorIncident
from incidents.narration import person
from problems import policy
from problems.choices import ProblemState, RcaMethod
from problems.models import KnownError, Problem, ProblemEvent

from .display import KNOWN_ERROR_COLOURS, PROBLEM_STATE_COLOURS, ProblemNarrator, rca_notes_text
from .forms import LinkIncidentsForm, LinkMajorForm

LINKED_LIMIT = 50  # newest linked incidents listed (counted by state beyond)
TIMELINE_LIMIT = 200  # newest timeline events listed


def url(name: str, *args) -> str:
    return reverse(f"admin:problems_problem_{name}", args=args)


def may_link(user, problem: Problem) -> bool:
    """Linking is open to whoever may change the problem, while it is not cancelled."""
    return bool(policy.can_change(user, problem)) and problem.state != ProblemState.CANCELLED


def detail_context(request: HttpRequest, problem: Problem, bound: dict | None = None) -> dict:
    """The change page's panels; `bound` replaces a link form with the one just refused."""
    bound = bound or {}
    user = request.user
    linkable = may_link(user, problem) and request.user.has_perm("problems.change_problem")
    return {
        "problem": problem,
        "state_colour": PROBLEM_STATE_COLOURS.get(problem.state, "default"),
        "article": _article(problem),
        "rca": {
            "method": problem.get_rca_method_display() if problem.rca_method else "",
            "notes": rca_notes_text(problem.rca_method, problem.rca_notes),
            "five_whys": (problem.rca_notes or {}).get("whys", []) if problem.rca_method == RcaMethod.FIVE_WHYS else [],
            "fishbone": sorted(((problem.rca_notes or {}).get("causes") or {}).items())
            if problem.rca_method == RcaMethod.FISHBONE
            else [],
        },
        "linked": _linked(problem, linkable, bound),
        "majors": _majors(problem, linkable, bound),
        "timeline": _timeline(problem),
        "change_refusal": "" if policy.can_change(user, problem) else policy.can_change(user, problem).reason,
        "is_frozen": problem.state in (ProblemState.CLOSED, ProblemState.CANCELLED),
        "show_save_and_add_another": False,
    }


def _article(problem: Problem) -> dict | None:
    article = KnownError.objects.filter(problem=problem).first()
    if article is None:
        return None
    return {
        "article": article,
        "state_colour": KNOWN_ERROR_COLOURS.get(article.state, "default"),
        "url": reverse("admin:problems_knownerror_change", args=[article.pk]),
    }


def _linked(problem: Problem, linkable: bool, bound: dict) -> dict:
    qs = Incident.objects.filter(problem=problem)
    rows = list(qs.only("id", "number", "title", "state", "priority", "problem_id").order_by("-id")[: LINKED_LIMIT + 1])
    by_state = dict(qs.order_by().values_list("state").annotate(n=Count("id")))
    total = sum(by_state.values())
    return {
        "rows": [
            {
                "incident": incident,
                "url": reverse("admin:incidents_incident_change", args=[incident.pk]),
                "state_colour": STATE_COLOURS.get(incident.state, "default"),
                "priority_colour": PRIORITY_COLOURS.get(incident.priority, "default"),
                "unlink_url": url("unlink", problem.pk, incident.pk) if linkable else "",
            }
            for incident in rows[:LINKED_LIMIT]
        ],
        "total": total,
        "by_state": [
            {"label": IncidentState(state).label, "count": n, "colour": STATE_COLOURS.get(state, "default")}
            for state, n in sorted(by_state.items(), key=lambda kv: list(IncidentState.values).index(kv[0]))
        ],
        "truncated": total > LINKED_LIMIT,
        "more_url": reverse("admin:incidents_incident_changelist") + f"?problem__id__exact={problem.pk}",
        "form": (bound.get("link") or LinkIncidentsForm(prefix="link")) if linkable else None,
        "url": url("link", problem.pk),
    }


def _majors(problem: Problem, linkable: bool, bound: dict) -> dict:
    rows = list(MajorIncident.objects.filter(problem=problem).only("id", "number", "title", "state").order_by("-id"))
    return {
        "rows": [
            {
                "mi": mi,
                "url": reverse("admin:incidents_majorincident_change", args=[mi.pk]),
                "state_colour": MI_STATE_COLOURS.get(mi.state, "default"),
                "unlink_url": url("unlink_major", problem.pk, mi.pk) if linkable else "",
            }
            for mi in rows
        ],
        "form": (bound.get("link_major") or LinkMajorForm(prefix="major")) if linkable else None,
        "url": url("link_major", problem.pk),
    }


def _timeline(problem: Problem) -> dict:
    events = list(ProblemEvent.objects.filter(problem=problem).select_related("actor").order_by("-id")[:TIMELINE_LIMIT])
    narrator = ProblemNarrator(events)
    return {
        "items": [{"event": e, "actor": person(e.actor) or "system", "text": narrator.sentence(e)} for e in events],
        "truncated": len(events) == TIMELINE_LIMIT,
    }
