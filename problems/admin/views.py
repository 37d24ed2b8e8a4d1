"""The problem page's own views: transitions, links. One view per use case, each the API's twin.

Console button -> use case (API twin under /api/v1/problems/{id}/):

- transition buttons -> `lifecycle.run_transition` (`POST transitions/{name}/`, If-Match = the
  loaded version);
- link incidents by number -> `links.link_incidents` (`POST incidents/`); when some are held by
  another open problem, a confirm page offers the same call with `move`; unlink ->
  `links.unlink_incident` (`DELETE incidents/{incident_id}/`);
- link / unlink major incidents -> `links.link_major_incidents` / `links.unlink_major_incident`.

Every refusal (ValidationError, PermissionDenied, InvalidTransition, Conflict, StaleRecord,
Http404 of an unlink) is a message naming the field or the reason; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.decorators import action

from incidents.admin.forms import add_service_errors
from incidents.models import Incident, MajorIncident
from itsm.exceptions import Conflict, InvalidTransition
from problems import lifecycle, links, policy
from problems.choices import ProblemTransition
from problems.models import Problem

from .display import PROBLEM_STATE_COLOURS, TRANSITION_ICONS
from .forms import PROBLEM_ERRORS, LinkIncidentsForm, LinkMajorForm, TransitionForm, refusal_text


def change_url(problem: Problem, anchor: str = "") -> str:
    return reverse("admin:problems_problem_change", args=[problem.pk]) + (f"#{anchor}" if anchor else "")


class ProblemViewsMixin:
    """The problem admin's own views (mixed into ProblemAdmin)."""

    def get_urls(self):
        def route(pattern: str, view: Callable, name: str):
            return path(pattern, self.admin_site.admin_view(view), name=f"problems_problem_{name}")

        own = [
            route("<path:object_id>/incidents/", self.link_view, "link"),
            route("<path:object_id>/incidents/<int:incident_id>/unlink/", self.unlink_view, "unlink"),
            route("<path:object_id>/major-incidents/", self.link_major_view, "link_major"),
            route("<path:object_id>/major-incidents/<int:mi_id>/unlink/", self.unlink_major_view, "unlink_major"),
        ]
        return own + super().get_urls()

    def _load(self, request: HttpRequest, object_id: str) -> Problem:
        problem = self.get_object(request, object_id)
        if problem is None:
            raise Http404("No such problem.")
        if not self.has_view_permission(request, problem):
            raise PermissionDenied
        return problem

    def _attempt(
        self,
        request: HttpRequest,
        problem: Problem,
        call: Callable[[], Any],
        success: Callable[[Any], str],
        anchor: str,
    ) -> HttpResponse:
        try:
            result = call()
        except (*PROBLEM_ERRORS, Http404) as exc:
            messages.error(request, refusal_text(exc) if not isinstance(exc, Http404) else str(exc))
        else:
            messages.success(request, success(result))
        return HttpResponseRedirect(change_url(problem, anchor))

    # --- transitions (buttons on the change page) --------------------------------------------------
    def get_actions_detail(self, request: HttpRequest, object_id) -> list:
        """Only the transitions `lifecycle.available_transitions` allows this user now."""
        candidates = super().get_actions_detail(request, object_id)
        problem = self.get_object(request, object_id)
        allowed = (
            {f"transition_{n}" for n in lifecycle.available_transitions(problem, request.user)} if problem else set()
        )
        base = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        return [a for a in candidates if a.action_name.removeprefix(base) in allowed]

    def _transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """GET: a small form with the transition's fields; POST: `lifecycle.run_transition`."""
        problem = self._load(request, object_id)
        back = change_url(problem)
        if name not in lifecycle.available_transitions(problem, request.user):
            decision = policy.can_transition(request.user, problem, name)
            if decision:
                detail = InvalidTransition(
                    problem.number, name, problem.state, lifecycle.available_transitions(problem, request.user)
                ).detail
            else:
                detail = decision.reason
            messages.error(request, detail)
            return HttpResponseRedirect(back)
        form = TransitionForm(name, problem, data=request.POST if request.method == "POST" else None)
        label = ProblemTransition(name).label
        if form.is_bound and form.is_valid():
            try:
                problem = lifecycle.run_transition(
                    problem.pk,
                    name,
                    actor=request.user,
                    payload=form.payload(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
                messages.error(request, refusal_text(exc))
            except PROBLEM_ERRORS as exc:
                messages.error(request, refusal_text(exc))
                return HttpResponseRedirect(back)
            else:
                messages.success(request, f"{problem.number}: {label} done; now {problem.get_state_display()}.")
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{label}: {problem.number}",
            "problem": problem,
            "transition": name,
            "transition_label": label,
            "form": form,
            "change_url": back,
            "state_colour": PROBLEM_STATE_COLOURS.get(problem.state, "default"),
        }
        return TemplateResponse(request, "admin/problems/problem/transition.html", context)

    # --- incidents ---------------------------------------------------------------------------------
    def link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `links.link_incidents` with the incidents named by number (and `move` once confirmed)."""
        problem = self._load(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(change_url(problem, "linked"))
        form = LinkIncidentsForm(request.POST, prefix="link")
        if not form.is_valid():
            messages.error(request, " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            return HttpResponseRedirect(change_url(problem, "linked"))
        incidents = form.cleaned_data["numbers"]
        move = form.cleaned_data["move"]
        try:
            linked = links.link_incidents(problem, actor=request.user, incidents=incidents, move=move)
        except Conflict as exc:
            # Held by another open problem: ask before moving them (the API's "move": true).
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Move incidents to {problem.number}?",
                "problem": problem,
                "detail": refusal_text(exc),
                "numbers": " ".join(i.number for i in incidents),
                "action_url": reverse("admin:problems_problem_link", args=[problem.pk]),
                "change_url": change_url(problem, "linked"),
            }
            return TemplateResponse(request, "admin/problems/problem/link_confirm.html", context)
        except PROBLEM_ERRORS as exc:
            messages.error(request, refusal_text(exc))
            return HttpResponseRedirect(change_url(problem, "linked"))
        shown = ", ".join(i.number for i in linked[:20]) + (" …" if len(linked) > 20 else "")
        text = f"Linked {len(linked)} incident(s) to {problem.number}" + (f": {shown}." if linked else ".")
        messages.success(request, text)
        return HttpResponseRedirect(change_url(problem, "linked"))

    def unlink_view(self, request: HttpRequest, object_id: str, incident_id: int) -> HttpResponse:
        """POST: `links.unlink_incident`."""
        problem = self._load(request, object_id)
        incident = get_object_or_404(Incident, pk=incident_id)
        if request.method != "POST":
            return HttpResponseRedirect(change_url(problem, "linked"))
        return self._attempt(
            request,
            problem,
            lambda: links.unlink_incident(problem, actor=request.user, incident=incident),
            lambda _: f"Unlinked {incident.number} from {problem.number}.",
            "linked",
        )

    # --- major incidents -----------------------------------------------------------------------------
    def link_major_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `links.link_major_incidents` with the major incidents named by number."""
        problem = self._load(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(change_url(problem, "majors"))
        form = LinkMajorForm(request.POST, prefix="major")
        if not form.is_valid():
            messages.error(request, "Type one or more major incident numbers.")
            return HttpResponseRedirect(change_url(problem, "majors"))
        return self._attempt(
            request,
            problem,
            lambda: links.link_major_incidents(
                problem,
                actor=request.user,
                major_incidents=form.cleaned_data["numbers"],
                move=form.cleaned_data["move"],
            ),
            lambda linked: f"Linked {len(linked)} major incident(s) to {problem.number}.",
            "majors",
        )

    def unlink_major_view(self, request: HttpRequest, object_id: str, mi_id: int) -> HttpResponse:
        """POST: `links.unlink_major_incident`."""
        problem = self._load(request, object_id)
        mi = get_object_or_404(MajorIncident, pk=mi_id)
        if request.method != "POST":
            return HttpResponseRedirect(change_url(problem, "majors"))
        return self._attempt(
            request,
            problem,
            lambda: links.unlink_major_incident(problem, actor=request.user, major_incident=mi.pk),
            lambda _: f"Unlinked {mi.number} from {problem.number}.",
            "majors",
        )


def _transition_action(name: str):
    """The change page button of one transition (an Unfold detail action)."""

    @action(description=ProblemTransition(name).label, url_path=f"transition/{name}", icon=TRANSITION_ICONS.get(name))
    def run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, name)

    run.__name__ = run.__qualname__ = f"transition_{name}"
    return run


for _name in lifecycle.TRANSITION_NAMES:
    setattr(ProblemViewsMixin, f"transition_{_name}", _transition_action(_name))
