"""What problem management adds to the incident console, through `incidents.admin.extensions`
(incidents know nothing of problems):

- bulk actions of the incident list: "Link to problem…" (`links.link_incidents`, one call for
  the selection, optionally moving incidents another open problem holds; the API's
  `POST /api/v1/problems/{id}/incidents/`) and "Raise a problem…" (`lifecycle.raise_problem`:
  service, category and description copied, the selection linked);
- a panel on the incident page: its problem (number, state, workaround) and the known errors
  suggested for it (`kedb.suggestions`, same service first) with "Apply workaround"
  (`kedb.apply_workaround`, optionally resolving). Three to four queries, none for a closed
  incident without a problem.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from incidents import policy as incident_policy
from incidents.admin import extensions
from incidents.choices import OPEN_STATES as OPEN_INCIDENT_STATES
from problems import kedb, lifecycle, links, policy
from problems.models import KnownErrorUse, Problem, ProblemSettings

from .display import PROBLEM_STATE_COLOURS
from .forms import PROBLEM_ERRORS, BulkLinkForm, RaiseForm, refusal_text

PANEL_TEMPLATE = "admin/problems/incident/problem_panel.html"


def _may_link(request: HttpRequest) -> bool:
    return request.user.has_perm("problems.change_problem") and bool(policy.can_create(request.user))


def _may_raise(request: HttpRequest) -> bool:
    return request.user.has_perm("problems.add_problem") and bool(policy.can_create(request.user))


def _numbers(incidents) -> str:
    numbers = [i.number for i in incidents]
    return ", ".join(numbers[:20]) + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")


def link_to_problem(model_admin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    """Choose a problem by number, then `links.link_incidents` with the whole selection."""
    incidents = model_admin._bulk_targets(request, queryset)
    if incidents is None:
        return None
    form = BulkLinkForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        problem = form.cleaned_data["problem"]
        try:
            linked = links.link_incidents(
                problem, actor=request.user, incidents=[i.pk for i in incidents], move=form.cleaned_data["move"]
            )
        except PROBLEM_ERRORS as exc:
            model_admin.message_user(
                request, f"Nothing linked to {problem.number}: {refusal_text(exc)}", messages.ERROR
            )
            return None
        model_admin.message_user(
            request, f"{len(linked)} incident(s) linked to {problem.number}: {_numbers(linked)}.", messages.SUCCESS
        )
        return None
    return model_admin._bulk_form(request, queryset, incidents, form, "link_to_problem", "Link to a problem")


def raise_problem(model_admin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    """`lifecycle.raise_problem` from the selection, then open the new problem."""
    incidents = model_admin._bulk_targets(request, queryset)
    if incidents is None:
        return None
    form = RaiseForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            problem = lifecycle.raise_problem(
                actor=request.user,
                incidents=[i.pk for i in incidents],
                title=form.cleaned_data["title"],
                move=form.cleaned_data["move"],
            )
        except PROBLEM_ERRORS as exc:
            model_admin.message_user(request, f"No problem raised: {refusal_text(exc)}", messages.ERROR)
            return None
        model_admin.message_user(request, f"{problem.number} raised from {_numbers(incidents)}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:problems_problem_change", args=[problem.pk]))
    return model_admin._bulk_form(request, queryset, incidents, form, "raise_problem", "Raise a problem")


def problem_panel(request: HttpRequest, incident) -> dict | None:
    """The incident page's "Problem and known errors" panel, or None when there is nothing to show."""
    problem = None
    if incident.problem_id:
        problem = Problem.objects.only("id", "number", "title", "state", "workaround").get(pk=incident.problem_id)
    is_open = incident.state in OPEN_INCIDENT_STATES
    if problem is None and not is_open:
        return None
    suggestions = []
    if is_open:
        limit = ProblemSettings.current().suggestion_limit
        found = kedb.suggestions(incident, limit=limit)
        applied = (
            set(
                KnownErrorUse.objects.filter(incident=incident, known_error__in=[k.pk for k in found]).values_list(
                    "known_error_id", flat=True
                )
            )
            if found
            else set()
        )
        may_apply = bool(incident_policy.can_change(request.user, incident)) and request.user.has_perm(
            "incidents.change_incident"
        )
        suggestions = [
            {
                "known_error": k,
                "score": f"{getattr(k, 'score', 0) or 0:.2f}",
                "same_service": bool(getattr(k, "same_service", False)),
                "applied": k.pk in applied,
                "apply_url": reverse("admin:problems_knownerror_apply", args=[k.pk, incident.pk])
                if may_apply and k.pk not in applied
                else "",
                "url": reverse("admin:problems_knownerror_change", args=[k.pk]),
                "problem_url": reverse("admin:problems_problem_change", args=[k.problem_id]),
            }
            for k in found
        ]
    return {
        "problem": problem,
        "problem_url": reverse("admin:problems_problem_change", args=[problem.pk]) if problem else "",
        "state_colour": PROBLEM_STATE_COLOURS.get(problem.state, "default") if problem else "",
        "suggestions": suggestions,
        "is_open": is_open,
    }


def register() -> None:
    """Register the actions and the panel with the incident console (idempotent)."""
    extensions.register_action("link_to_problem", link_to_problem, "Link to problem…", _may_link)
    extensions.register_action("raise_problem", raise_problem, "Raise a problem…", _may_raise)
    extensions.register_panel("problem", PANEL_TEMPLATE, problem_panel)
