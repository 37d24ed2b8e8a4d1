"""The workbench's buttons and forms: one view per use case, each calling the API's own service.

Console button -> service (API twin under /api/v1/major-incidents/{id}/):

- transition buttons -> `lifecycle.run_transition` (`POST transitions/{name}/`);
- team and bridge form -> `lifecycle.update_major_incident` (`PATCH /`, If-Match = the loaded version);
- page a person or group -> `responders.page_responders` (`POST responders/`); page again ->
  `responders.page_again`; acknowledge -> `responders.acknowledge` (`POST responders/{rid}/acknowledge/`);
- update composer -> `updates.post_update` (`POST updates/`);
- link by number -> `links.link_incidents` (`POST incidents/`); unlink -> `links.unlink_incident`
  (`DELETE incidents/{incident_id}/`);
- review -> `review.update_review` (`PUT review/`); action items -> `review.add_action_item` /
  `review.update_action_item` (`POST` / `PATCH review/action-items/...`);
- "Download as Markdown" -> `history.timeline_markdown` (the timeline) and `history.review_markdown`
  (the whole review), as the API exports them.

Each view leaves the decisions to the service (policy, state, version) and reports every refusal
(ValidationError, PermissionDenied, InvalidTransition, Conflict, StaleRecord) as an admin message;
a form whose input was refused comes back filled in. A transition button asks the service's own
`lifecycle.refusal` before reading its form, so a refused one says why rather than what to fill in.
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
from django.utils import timezone

from incidents.major import history, lifecycle, links, responders, updates
from incidents.major import review as review_service
from incidents.major.choices import MajorTransition
from incidents.major.models import ActionItem, MajorIncident, Responder
from incidents.models import Incident
from incidents.narration import person

from .forms import (
    MI_ERRORS,
    TRANSITION_FORMS,
    ActionItemForm,
    LinkNumbersForm,
    PageForm,
    RecordForm,
    ReviewForm,
    UpdateForm,
    put_refusal_on,
    refusal_text,
)
from .workbench import build, forms_of, has_review

WORKBENCH_TEMPLATE = "admin/incidents/majorincident/workbench.html"
INVALID = "Check the fields marked below."


class WorkbenchViewsMixin:
    """The major incident admin's own views (mixed into MajorIncidentAdmin)."""

    def get_urls(self):
        def route(pattern: str, view: Callable, name: str):
            return path(pattern, self.admin_site.admin_view(view), name=f"incidents_majorincident_{name}")

        own = [
            route("<path:object_id>/transition/<str:name>/", self.transition_view, "transition"),
            route("<path:object_id>/record/", self.record_view, "record"),
            route("<path:object_id>/responders/", self.page_view, "page"),
            route("<path:object_id>/responders/<int:responder_id>/page-again/", self.page_again_view, "page_again"),
            route("<path:object_id>/responders/<int:responder_id>/acknowledge/", self.acknowledge_view, "acknowledge"),
            route("<path:object_id>/updates/", self.post_update_view, "post_update"),
            route("<path:object_id>/incidents/", self.link_view, "link"),
            route("<path:object_id>/incidents/<int:incident_id>/unlink/", self.unlink_view, "unlink"),
            route("<path:object_id>/review/", self.review_view, "review"),
            route("<path:object_id>/review/action-items/", self.add_action_item_view, "add_action_item"),
            route("<path:object_id>/review/action-items/<int:item_id>/", self.action_item_view, "action_item"),
            route("<path:object_id>/timeline.md", self.timeline_markdown_view, "timeline_markdown"),
            route("<path:object_id>/review.md", self.review_markdown_view, "review_markdown"),
        ]
        return own + super().get_urls()

    # --- shared steps ------------------------------------------------------------------------------
    def _load(self, request: HttpRequest, object_id: str, fresh: bool = False) -> MajorIncident:
        if fresh:
            request.__dict__.pop("_major_incident_objects", None)
        mi = self.get_object(request, object_id)
        if mi is None:
            raise Http404("No such major incident.")
        if not self.has_view_permission(request, mi):
            raise PermissionDenied
        return mi

    @staticmethod
    def _back(mi: MajorIncident, anchor: str = "") -> HttpResponseRedirect:
        target = reverse("admin:incidents_majorincident_change", args=[mi.pk])
        return HttpResponseRedirect(target + (f"#{anchor}" if anchor else ""))

    def render_workbench(self, request: HttpRequest, mi: MajorIncident, bound: dict | None = None) -> HttpResponse:
        """The workbench page (the change page), with `bound` forms showing what was just refused."""
        context = build(request, mi, bound=bound)
        media = self.media
        for form in forms_of(context):
            media += form.media
        context.update(
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"{mi.number} {mi.title}",
                "original": mi,
                "media": media,
            }
        )
        return TemplateResponse(request, WORKBENCH_TEMPLATE, context)

    def _attempt(
        self,
        request: HttpRequest,
        mi: MajorIncident,
        call: Callable[[], Any],
        success: Callable[[Any], str],
        anchor: str,
        form=None,
        bound_key: str = "",
    ) -> HttpResponse:
        """Run the service call; a refusal is a message (and the form back, filled in, for invalid input)."""
        try:
            result = call()
        except MI_ERRORS as exc:
            messages.error(request, refusal_text(exc))
            if form is not None and isinstance(exc, ValidationError):
                put_refusal_on(form, exc)
                return self.render_workbench(request, self._load(request, str(mi.pk), fresh=True), {bound_key: form})
            return self._back(mi, anchor)
        messages.success(request, success(result))
        return self._back(mi, anchor)

    def _invalid(self, request: HttpRequest, mi: MajorIncident, form, bound_key: str) -> HttpResponse:
        messages.error(request, INVALID)
        return self.render_workbench(request, mi, {bound_key: form})

    # --- transitions ---------------------------------------------------------------------------------
    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """POST: `lifecycle.run_transition` with the transition's fields and the loaded version."""
        mi = self._load(request, object_id)
        if name not in TRANSITION_FORMS:
            raise Http404("No such transition.")
        if request.method != "POST":
            return self._back(mi)
        if (refused := lifecycle.refusal(mi, name, request.user)) is not None:
            messages.error(request, refusal_text(refused))
            return self._back(mi)
        form = TRANSITION_FORMS[name](request.POST, prefix=name)
        if not form.is_valid():
            return self._invalid(request, mi, form, f"transition_{name}")
        label = MajorTransition(name).label

        def done(result: MajorIncident) -> str:
            return f"{result.number}: {label} done; now {result.get_state_display()}."

        return self._attempt(
            request,
            mi,
            lambda: lifecycle.run_transition(
                mi, name, actor=request.user, payload=form.payload(), expected_version=form.expected_version()
            ),
            done,
            "",
            form,
            f"transition_{name}",
        )

    # --- the record: team, bridge, cadence -----------------------------------------------------------
    def record_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `lifecycle.update_major_incident` with the changed fields and the loaded version."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "team")
        form = RecordForm(
            mi, list(mi.affected_services.all()), list(mi.stakeholders.all()), request.POST, prefix="record"
        )
        if not form.is_valid():
            return self._invalid(request, mi, form, "record")
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing changed.")
            return self._back(mi, "team")
        return self._attempt(
            request,
            mi,
            lambda: lifecycle.update_major_incident(
                mi, actor=request.user, changes=changes, expected_version=form.expected_version()
            ),
            lambda result: f"{result.number} saved: {', '.join(f.replace('_', ' ') for f in changes)}.",
            "team",
            form,
            "record",
        )

    # --- responders ----------------------------------------------------------------------------------
    def page_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `responders.page_responders` for a person or every member of a group."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "responders")
        form = PageForm(request.POST, prefix="page")
        if not form.is_valid():
            return self._invalid(request, mi, form, "page")

        def done(paged: list[Responder]) -> str:
            names = ", ".join(person(r.user) for r in paged[:20]) + (" …" if len(paged) > 20 else "")
            return f"Paged {len(paged)} responder(s) on {mi.number}: {names}." if paged else "Nobody was paged."

        return self._attempt(
            request,
            mi,
            lambda: responders.page_responders(mi, actor=request.user, **form.arguments()),
            done,
            "responders",
            form,
            "page",
        )

    def _responder(self, mi: MajorIncident, responder_id: int) -> Responder:
        responder = get_object_or_404(Responder.objects.select_related("user"), pk=responder_id, major_incident=mi)
        responder.major_incident = mi
        return responder

    def page_again_view(self, request: HttpRequest, object_id: str, responder_id: int) -> HttpResponse:
        """POST: `responders.page_again`."""
        mi = self._load(request, object_id)
        responder = self._responder(mi, responder_id)
        if request.method != "POST":
            return self._back(mi, "responders")
        return self._attempt(
            request,
            mi,
            lambda: responders.page_again(responder, actor=request.user),
            lambda r: f"Paged {person(r.user)} again (page {r.page_count}).",
            "responders",
        )

    def acknowledge_view(self, request: HttpRequest, object_id: str, responder_id: int) -> HttpResponse:
        """POST: `responders.acknowledge` (the responder, or a MIM recording it for them)."""
        mi = self._load(request, object_id)
        responder = self._responder(mi, responder_id)
        if request.method != "POST":
            return self._back(mi, "responders")
        return self._attempt(
            request,
            mi,
            lambda: responders.acknowledge(responder, actor=request.user),
            lambda r: f"{person(r.user)} acknowledged.",
            "responders",
        )

    # --- stakeholder updates -------------------------------------------------------------------------
    def post_update_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `updates.post_update`."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "updates")
        form = UpdateForm(mi, request.POST, prefix="update")
        if not form.is_valid():
            return self._invalid(request, mi, form, "update")

        def done(update) -> str:
            due = update.next_update_due_at
            after = f" Next update due {timezone.localtime(due):%H:%M}." if due else ""
            return f"{update.get_audience_display().split(' ')[0]} update posted on {mi.number}.{after}"

        return self._attempt(
            request,
            mi,
            lambda: updates.post_update(mi, actor=request.user, **form.arguments()),
            done,
            "updates",
            form,
            "update",
        )

    # --- linked incidents ----------------------------------------------------------------------------
    def link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `links.link_incidents` with the incidents named by number."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "linked")
        form = LinkNumbersForm(request.POST, prefix="link")
        if not form.is_valid():
            return self._invalid(request, mi, form, "link")
        incidents = form.cleaned_data["numbers"]

        def done(linked) -> str:
            linked = list(linked or [])
            shown = ", ".join(i.number for i in linked[:20]) + (" …" if len(linked) > 20 else "")
            return f"Linked {len(linked)} incident(s) to {mi.number}" + (f": {shown}." if linked else ".")

        return self._attempt(
            request,
            mi,
            lambda: links.link_incidents(mi, actor=request.user, incidents=incidents),
            done,
            "linked",
            form,
            "link",
        )

    def unlink_view(self, request: HttpRequest, object_id: str, incident_id: int) -> HttpResponse:
        """POST: `links.unlink_incident`."""
        mi = self._load(request, object_id)
        incident = get_object_or_404(Incident, pk=incident_id)
        if request.method != "POST":
            return self._back(mi, "linked")
        return self._attempt(
            request,
            mi,
            lambda: links.unlink_incident(mi, actor=request.user, incident=incident),
            lambda _: f"Unlinked {incident.number} from {mi.number}.",
            "linked",
        )

    # --- the review ----------------------------------------------------------------------------------
    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `review.update_review` with the changed fields and the review's loaded version."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "review")
        current = getattr(mi, "review", None) if has_review(mi) else None
        form = ReviewForm(current, request.POST, prefix="review")
        if not form.is_valid():
            return self._invalid(request, mi, form, "review")
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing changed in the review.")
            return self._back(mi, "review")

        def done(result) -> str:
            missing = result.missing()
            return "Review saved." + (f" Still missing: {'; '.join(missing)}." if missing else " It is complete.")

        return self._attempt(
            request,
            mi,
            lambda: review_service.update_review(
                mi, actor=request.user, fields=changes, expected_version=form.expected_version()
            ),
            done,
            "review",
            form,
            "review",
        )

    def add_action_item_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: `review.add_action_item`."""
        mi = self._load(request, object_id)
        if request.method != "POST":
            return self._back(mi, "action-items")
        form = ActionItemForm(request.POST, prefix="new-item")
        if not form.is_valid():
            return self._invalid(request, mi, form, "new_item")
        return self._attempt(
            request,
            mi,
            lambda: review_service.add_action_item(mi, actor=request.user, **form.arguments()),
            lambda item: f"Action item added: {item.title}.",
            "action-items",
            form,
            "new_item",
        )

    def action_item_view(self, request: HttpRequest, object_id: str, item_id: int) -> HttpResponse:
        """POST: `review.update_action_item` with the changed fields."""
        mi = self._load(request, object_id)
        item = get_object_or_404(
            ActionItem.objects.select_related("owner", "review"), pk=item_id, review__major_incident=mi
        )
        item.review.major_incident = mi
        if request.method != "POST":
            return self._back(mi, "action-items")
        form = ActionItemForm(request.POST, item=item)
        if not form.is_valid():
            return self._invalid(request, mi, form, f"item-{item.pk}")
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing changed.")
            return self._back(mi, "action-items")
        return self._attempt(
            request,
            mi,
            lambda: review_service.update_action_item(item, actor=request.user, changes=changes),
            lambda result: f"Action item saved: {result.title}.",
            "action-items",
            form,
            f"item-{item.pk}",
        )

    # --- export --------------------------------------------------------------------------------------
    def timeline_markdown_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The merged timeline as a Markdown file (`history.timeline_markdown`), for the review."""
        mi = self._load(request, object_id)
        response = HttpResponse(history.timeline_markdown(mi), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{mi.number}-timeline.md"'
        return response

    def review_markdown_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The whole post-incident review as a Markdown document (`history.review_markdown`)."""
        mi = self._load(request, object_id)
        response = HttpResponse(history.review_markdown(mi), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{mi.number}-review.md"'
        return response
