"""The KEDB in the console: known errors, searched by relevance, read-only.

The search box is `problems.kedb.search` (PostgreSQL full-text with weights, a word-match score
on SQLite), the API's `GET /api/v1/known-errors/?q=`; results come best first with their score.
Articles are written by the problem's use cases only, so nothing here adds or edits one. The
incident page's "Apply workaround" button posts here (`apply_view` -> `kedb.apply_workaround`,
the API's `POST /api/v1/incidents/{id}/known-errors/{ke}/apply/`).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter, ChoicesDropdownFilter
from unfold.decorators import display

from incidents.admin.display import badge
from incidents.models import Incident
from itsm.admin_readonly import ReadOnlyAdminMixin
from itsm.models import Service
from problems import kedb
from problems.models import KnownError

from .display import KNOWN_ERROR_COLOURS
from .forms import PROBLEM_ERRORS, refusal_text


@admin.register(KnownError)
class KnownErrorAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Known errors: search by relevance with the score, filters by service and state; read-only."""

    list_display = ["problem_number", "title", "state_badge", "score_shown", "service_names", "uses", "deflections"]
    list_display_links = ["problem_number", "title"]
    list_select_related = ["problem"]
    list_filter = [("state", ChoicesDropdownFilter), ("services", AutocompleteSelectFilter)]
    list_filter_submit = True
    search_fields = ["title"]  # shows the box; the search itself is kedb.search (get_search_results)
    search_help_text = (
        "Words of the symptoms, title, root cause or workaround: published articles, best first, with their score."
    )
    ordering = ["-published_at", "-id"]
    list_per_page = 25
    fields = [
        "problem_link",
        "title",
        "state_badge",
        "symptoms",
        "root_cause",
        "workaround",
        "service_names",
        "category_names",
        ("uses", "deflections"),
        ("published_at", "retired_at", "updated_at"),
    ]
    readonly_fields = [*fields[:-2], "uses", "deflections", "published_at", "retired_at", "updated_at"]

    def get_urls(self):
        own = [
            path(
                "<int:known_error_id>/apply/<int:incident_id>/",
                self.admin_site.admin_view(self.apply_view),
                name="problems_knownerror_apply",
            )
        ]
        return own + super().get_urls()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        services = Prefetch("services", queryset=Service.objects.only("id", "name").order_by("name"))
        return super().get_queryset(request).prefetch_related(services, "categories")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """`kedb.search` ranks (published articles), best first unless a column was clicked; the
        list's filters still apply."""
        if not search_term.strip():
            return queryset, False
        ranked = kedb.search(search_term).filter(pk__in=queryset.order_by().values("pk"))
        if ORDER_VAR in request.GET:
            ranked = ranked.order_by(*queryset.query.order_by)
        return ranked.select_related("problem").prefetch_related(*queryset._prefetch_related_lookups), False

    @display(description="Problem", ordering="problem__number")
    def problem_number(self, obj: KnownError) -> str:
        return obj.problem.number

    @display(description="Problem")
    def problem_link(self, obj: KnownError) -> str:
        from django.utils.html import format_html

        url = reverse("admin:problems_problem_change", args=[obj.problem_id])
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, obj.problem)

    @display(description="State", ordering="state")
    def state_badge(self, obj: KnownError) -> str:
        return badge(KNOWN_ERROR_COLOURS.get(obj.state, "default"), obj.get_state_display())

    @display(description="Score")
    def score_shown(self, obj: KnownError) -> str:
        score = getattr(obj, "score", None)
        return "—" if score is None else f"{score:.2f}"

    @display(description="Services")
    def service_names(self, obj: KnownError) -> str:
        return ", ".join(s.name for s in obj.services.all()) or "—"

    @display(description="Categories")
    def category_names(self, obj: KnownError) -> str:
        return ", ".join(c.name for c in obj.categories.all()) or "—"

    def apply_view(self, request: HttpRequest, known_error_id: int, incident_id: int) -> HttpResponse:
        """POST: `kedb.apply_workaround` (with `resolve` when ticked), then back to the incident."""
        incident = get_object_or_404(Incident, pk=incident_id)
        article = get_object_or_404(KnownError, pk=known_error_id)
        back = reverse("admin:incidents_incident_change", args=[incident.pk])
        if not self.has_view_permission(request, article):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(back)
        resolve = request.POST.get("resolve") in ("1", "on", "true")
        try:
            kedb.apply_workaround(article, incident, actor=request.user, resolve=resolve)
        except PROBLEM_ERRORS as exc:
            messages.error(request, refusal_text(exc))
        else:
            done = " and resolved it" if resolve else ""
            messages.success(request, f"Workaround of known error {article.pk} applied to {incident.number}{done}.")
        return HttpResponseRedirect(back)
