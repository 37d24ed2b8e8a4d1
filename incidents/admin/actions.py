"""Console actions on incidents: the comment form's view, "My work", transition buttons, bulk actions.

Each console action calls the same `incidents.services` function as its API equivalent
(paths under /api/v1/incidents/):

- Add page (`.incident`): `open_incident`; `POST /`.
- Change page (`.incident`): `update_incident`; `PATCH {id}/` with If-Match.
- Add comment: `add_comment`; `POST {id}/comments/`.
- Transition buttons: `run_transition`; `POST {id}/transitions/{name}/`.
- Assign to me (bulk): `assign_to_me`; `POST {id}/assign-to-me/`.
- Assign to a group (bulk): `assign`, i.e. `update_incident`; `PATCH {id}/` `{"assignment_group": id}`.
- Resolve (bulk): `run_transition("resolve")`; `POST {id}/transitions/resolve/`, one per incident.
- My work and the other queues (list views, not changes): `IncidentQuerySet.in_queue`;
  `GET /?queue=my_work` (or `mine`, `my_groups`, `unassigned`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.decorators import action

from incidents import policy, services
from incidents.choices import Transition, Visibility
from incidents.models import Incident
from itsm.exceptions import InvalidTransition, StaleRecord

from .display import PRIORITY_COLOURS, STATE_COLOURS
from .forms import (
    SERVICE_ERRORS,
    AssignGroupForm,
    BulkResolveForm,
    CommentForm,
    TransitionForm,
    add_service_errors,
    error_text,
)

BULK_LIMIT = 500  # a bulk action runs one service call per incident; more than this is a mistake
TRANSITION_ICONS = {
    "start": "play_arrow",
    "hold": "pause",
    "resume": "play_arrow",
    "resolve": "task_alt",
    "reopen": "undo",
    "close": "lock",
    "cancel": "block",
}


class IncidentActionsMixin:
    """The incident admin's own views and actions (mixed into IncidentAdmin)."""

    # --- URLs of the console's own views -------------------------------------------------------
    def get_urls(self):
        own = [
            path(
                "<path:object_id>/comment/",
                self.admin_site.admin_view(self.comment_view),
                name="incidents_incident_comment",
            ),
        ]
        return own + super().get_urls()

    def comment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST a comment through services.add_comment, then back to the incident."""
        incident = get_object_or_404(Incident, pk=object_id)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk]) + "#comments"
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = CommentForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Write a comment and choose who may see it.")
            return HttpResponseRedirect(change_url)
        try:
            services.add_comment(
                incident.pk,
                actor=request.user,
                body=form.cleaned_data["body"],
                visibility=form.cleaned_data["visibility"],
            )
        except SERVICE_ERRORS as exc:
            messages.error(request, error_text(exc))
        else:
            kind = "Public comment" if form.cleaned_data["visibility"] == Visibility.PUBLIC else "Work note"
            messages.success(request, f"{kind} added to {incident.number}.")
        return HttpResponseRedirect(change_url)

    # --- "My work" ----------------------------------------------------------------------------
    @action(description="My work", url_path="my-work", icon="assignment_ind")
    def my_work(self, request: HttpRequest) -> HttpResponse:
        """The agent's saved view: open incidents assigned to them and their groups' unassigned ones."""
        return HttpResponseRedirect(reverse("admin:incidents_incident_changelist") + "?queue=my_work")

    # --- transitions (buttons on the change page) ---------------------------------------------
    def get_actions_detail(self, request: HttpRequest, object_id) -> list:
        """Only the transitions `services.available_transitions` allows this user now."""
        candidates = super().get_actions_detail(request, object_id)
        incident = self.get_object(request, object_id)
        allowed = set(services.available_transitions(incident, request.user)) if incident else set()
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_transition_"
        return [a for a in candidates if a.action_name.removeprefix(prefix) in allowed]

    def _transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """GET: a small form asking for the transition's fields; POST: services.run_transition."""
        incident = get_object_or_404(Incident.objects.select_related("assignment_group", "assignee"), pk=object_id)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
        if name not in services.available_transitions(incident, request.user):
            decision = policy.can_transition(request.user, incident, name)
            if decision:
                detail = InvalidTransition(
                    incident.number, name, incident.state, services.available_transitions(incident, request.user)
                ).detail
            else:
                detail = decision.reason
            messages.error(request, detail)
            return HttpResponseRedirect(change_url)
        form = TransitionForm(name, incident, data=request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                incident = services.run_transition(
                    incident.pk,
                    name,
                    actor=request.user,
                    payload=form.payload(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except (PermissionDenied, InvalidTransition, StaleRecord) as exc:
                messages.error(request, error_text(exc))
                return HttpResponseRedirect(change_url)
            else:
                messages.success(
                    request, f"{incident.number}: {Transition(name).label} done; now {incident.get_state_display()}."
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{Transition(name).label}: {incident.number}",
            "incident": incident,
            "transition": name,
            "transition_label": Transition(name).label,
            "form": form,
            "change_url": change_url,
            "state_colour": STATE_COLOURS.get(incident.state, "default"),
            "priority_colour": PRIORITY_COLOURS.get(incident.priority, "default"),
        }
        return TemplateResponse(request, "admin/incidents/incident/transition.html", context)

    # One detail action per transition (transition_start, transition_hold, ...) is attached below
    # the class by _transition_action(); each opens the same form view for its transition.

    # --- bulk actions ------------------------------------------------------------------------------
    def _bulk_targets(self, request: HttpRequest, queryset: QuerySet) -> list[Incident] | None:
        incidents = list(queryset.order_by("id").select_related("assignment_group")[: BULK_LIMIT + 1])
        if len(incidents) > BULK_LIMIT:
            self.message_user(
                request,
                f"A bulk action runs on at most {BULK_LIMIT} incidents at a time; narrow the selection.",
                messages.ERROR,
            )
            return None
        return incidents

    def _run_bulk(
        self, request: HttpRequest, incidents: list[Incident], step: Callable[[Incident], Any], done: str
    ) -> None:
        """Call `step` (a service call) per incident; report successes and each refusal with its reason."""
        succeeded: list[str] = []
        refused: list[str] = []
        for incident in incidents:
            try:
                step(incident)
            except SERVICE_ERRORS as exc:
                refused.append(f"{incident.number}: {error_text(exc)}")
            else:
                succeeded.append(incident.number)
        if succeeded:
            shown = ", ".join(succeeded[:20]) + (f" and {len(succeeded) - 20} more" if len(succeeded) > 20 else "")
            self.message_user(request, f"{len(succeeded)} incident(s) {done}: {shown}.", messages.SUCCESS)
        if refused:
            shown = " · ".join(refused[:20]) + (f" · and {len(refused) - 20} more" if len(refused) > 20 else "")
            self.message_user(request, f"{len(refused)} refused: {shown}", messages.WARNING)

    def _bulk_form(
        self, request: HttpRequest, queryset: QuerySet, incidents: list[Incident], form, action_name: str, title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "incidents": incidents,
            "action_name": action_name,
            "select_across": request.POST.get("select_across", "0"),
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "changelist_url": reverse("admin:incidents_incident_changelist"),
        }
        return TemplateResponse(request, "admin/incidents/incident/bulk_action.html", context)

    @action(description="Assign to me", permissions=["change"], icon="person_add")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        self._run_bulk(
            request,
            incidents,
            lambda incident: services.assign_to_me(incident.pk, actor=request.user),
            "assigned to you",
        )
        return None

    @action(description="Assign to a group…", permissions=["change"], icon="group_add")
    def assign_to_group(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        form = AssignGroupForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            group = form.cleaned_data["group"]
            self._run_bulk(
                request,
                incidents,
                lambda incident: services.assign(incident.pk, actor=request.user, group=group),
                f"assigned to {group.name}",
            )
            return None
        return self._bulk_form(request, queryset, incidents, form, "assign_to_group", "Assign to a group")

    @action(description="Resolve…", permissions=["change"], icon="task_alt")
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        form = BulkResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            payload = dict(form.cleaned_data)
            self._run_bulk(
                request,
                incidents,
                lambda incident: services.run_transition(incident.pk, "resolve", actor=request.user, payload=payload),
                "resolved",
            )
            return None
        return self._bulk_form(request, queryset, incidents, form, "resolve_selected", "Resolve incidents")


def _transition_action(name: str):
    """The change page button of one transition (Unfold detail action)."""

    @action(description=Transition(name).label, url_path=f"transition/{name}", icon=TRANSITION_ICONS[name])
    def run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, name)

    run.__name__ = run.__qualname__ = f"transition_{name}"
    return run


for _name in services.TRANSITION_NAMES:
    setattr(IncidentActionsMixin, f"transition_{_name}", _transition_action(_name))
