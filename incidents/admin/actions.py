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
- Propose / declare a major incident (change page): `incidents.major.lifecycle.propose`;
  `POST /api/v1/major-incidents/` `{"incident", "reason", "declare"}`. Declaring an incident whose
  major incident is still proposed accepts that proposal: `lifecycle.run_transition("declare")`;
  `POST /api/v1/major-incidents/{id}/transitions/declare/`.
- Link to major incident (bulk): `incidents.major.links.link_incidents`, one call for the whole
  selection; `POST /api/v1/major-incidents/{id}/incidents/` `{"incidents": [ids]}`.
- Practices to the right (problems) add their own bulk actions through `.extensions`.
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
from incidents.choices import TERMINAL_STATES, Transition, Visibility
from incidents.major import lifecycle, links
from incidents.major import policy as major_policy
from incidents.major.admin.forms import MI_ERRORS, LinkToMajorForm, ProposeForm, put_refusal_on, refusal_text
from incidents.major.choices import HOLDING_STATES, LIVE_STATES, MajorIncidentState
from incidents.models import Incident, MajorIncident
from itsm.exceptions import InvalidTransition, StaleRecord

from .display import PRIORITY_COLOURS, STATE_COLOURS
from .extensions import changelist_actions
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

    def get_actions(self, request: HttpRequest) -> dict:
        """Our bulk actions, then those the practices to the right registered (`.extensions`)."""
        actions = super().get_actions(request)
        if actions is not None and not request.GET.get("_popup"):
            actions.update(changelist_actions(request))
        return actions

    # --- "My work" ----------------------------------------------------------------------------
    @action(description="My work", url_path="my-work", icon="assignment_ind")
    def my_work(self, request: HttpRequest) -> HttpResponse:
        """The agent's saved view: open incidents assigned to them and their groups' unassigned ones."""
        return HttpResponseRedirect(reverse("admin:incidents_incident_changelist") + "?queue=my_work")

    # --- transitions (buttons on the change page) ---------------------------------------------
    def get_actions_detail(self, request: HttpRequest, object_id) -> list:
        """Only the transitions `services.available_transitions` allows this user now, and the
        major incident buttons when they apply (`major_incident_buttons`)."""
        candidates = super().get_actions_detail(request, object_id)
        incident = self.get_object(request, object_id)
        allowed = set(services.available_transitions(incident, request.user)) if incident else set()
        base = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        allowed |= {f"transition_{name}" for name in allowed}
        allowed |= set(major_incident_buttons(request.user, incident)) if incident else set()
        return [a for a in candidates if a.action_name.removeprefix(base) in allowed]

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

    # --- major incidents: link (bulk), propose and declare (change page) ------------------------
    def has_link_major_incident_permission(self, request: HttpRequest) -> bool:
        """Whoever may change major incidents at all (the service asks the policy per record)."""
        return request.user.has_perm("incidents.change_majorincident")

    @action(description="Link to major incident…", permissions=["link_major_incident"], icon="crisis_alert")
    def link_to_major_incident(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Choose a live major incident, then `links.link_incidents` with the whole selection."""
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        form = LinkToMajorForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            mi = form.cleaned_data["major_incident"]
            try:
                linked = links.link_incidents(mi, actor=request.user, incidents=incidents)
            except MI_ERRORS as exc:
                self.message_user(request, f"Nothing linked to {mi.number}: {refusal_text(exc)}", messages.ERROR)
                return None
            numbers = [i.number for i in (linked or incidents)]
            shown = ", ".join(numbers[:20]) + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")
            self.message_user(request, f"{len(numbers)} incident(s) linked to {mi.number}: {shown}.", messages.SUCCESS)
            return None
        return self._bulk_form(request, queryset, incidents, form, "link_to_major_incident", "Link to a major incident")

    @action(description="Propose major incident", url_path="propose-major-incident", icon="crisis_alert")
    def propose_major_incident(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._major_incident_view(request, object_id, declare=False)

    @action(description="Declare major incident", url_path="declare-major-incident", icon="campaign")
    def declare_major_incident(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._major_incident_view(request, object_id, declare=True)

    def _major_incident_view(self, request: HttpRequest, object_id: str, declare: bool) -> HttpResponse:
        """GET: ask why (propose, declare) or confirm (accept a proposal); POST: the lifecycle service."""
        incident = get_object_or_404(Incident.objects.select_related("major_incident"), pk=object_id)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
        decision = major_policy.can_declare(request.user) if declare else major_policy.can_propose(request.user)
        if not decision:
            messages.error(request, decision.reason)
            return HttpResponseRedirect(change_url)
        proposal = _open_proposal(incident) if declare else None
        form = None if proposal else ProposeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                if proposal is not None:
                    mi = lifecycle.run_transition(
                        proposal, "declare", actor=request.user, payload={}, expected_version=_int(request.POST)
                    )
                else:
                    mi = lifecycle.propose(actor=request.user, incident=incident, declare=declare, **form.arguments())
            except MI_ERRORS as exc:
                if form is not None and isinstance(exc, ValidationError):
                    put_refusal_on(form, exc)
                else:
                    messages.error(request, refusal_text(exc))
                    return HttpResponseRedirect(change_url)
            else:
                verb = "declared" if mi.state == MajorIncidentState.ACTIVE else "proposed"
                messages.success(request, f"{mi.number} {verb} for {incident.number}.")
                return HttpResponseRedirect(reverse("admin:incidents_majorincident_change", args=[mi.pk]))
        title = f"{'Declare' if declare else 'Propose'} a major incident: {incident.number}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "incident": incident,
            "form": form,
            "proposal": proposal,
            "declare": declare,
            "change_url": change_url,
            "state_colour": STATE_COLOURS.get(incident.state, "default"),
            "priority_colour": PRIORITY_COLOURS.get(incident.priority, "default"),
        }
        return TemplateResponse(request, "admin/incidents/incident/major_incident_form.html", context)


def _int(data) -> int | None:
    try:
        return int(data.get("version", ""))
    except ValueError:
        return None


def _open_proposal(incident: Incident) -> MajorIncident | None:
    """The proposed major incident `incident` is the primary of (declaring it accepts the proposal)."""
    mi = incident.major_incident
    if mi is not None and mi.state == MajorIncidentState.PROPOSED and mi.incident_id == incident.pk:
        return mi
    return None


def held_by(incident: Incident) -> MajorIncident | None:
    """The major incident holding `incident` (primary of one not rejected, or linked to a live one)."""
    mi = incident.major_incident
    if mi is None:
        return None
    if mi.incident_id == incident.pk and mi.state in HOLDING_STATES:
        return mi
    return mi if mi.state in LIVE_STATES else None


def major_incident_buttons(user, incident: Incident) -> list[str]:
    """Which of the change page's major incident buttons `user` sees on `incident` now.

    Propose for anyone who may propose, declare for Major Incident Managers, while nothing holds
    the incident yet; a MIM also sees declare on the incident's open proposal (to accept it).
    """
    if incident.state in TERMINAL_STATES:
        return []
    holder = held_by(incident)
    may_declare = bool(major_policy.can_declare(user))
    if holder is not None:
        return ["declare_major_incident"] if may_declare and _open_proposal(incident) else []
    buttons = ["propose_major_incident"] if major_policy.can_propose(user) else []
    return buttons + (["declare_major_incident"] if may_declare else [])


def _transition_action(name: str):
    """The change page button of one transition (Unfold detail action)."""

    @action(description=Transition(name).label, url_path=f"transition/{name}", icon=TRANSITION_ICONS[name])
    def run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, name)

    run.__name__ = run.__qualname__ = f"transition_{name}"
    return run


for _name in services.TRANSITION_NAMES:
    setattr(IncidentActionsMixin, f"transition_{_name}", _transition_action(_name))
