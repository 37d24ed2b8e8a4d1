"""The problem console: the list, the add page and the problem page.

Nothing here changes a problem by itself: the add and change forms (`.forms`) call
`lifecycle.open_problem` / `lifecycle.update_problem`, and the transition buttons and link
forms (`.views`) call `lifecycle.run_transition` and `problems.links`, the same use cases as the
API. Who may do what is asked of `problems.policy`, together with the model permissions the
roles carry. Closed and cancelled problems are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.timesince import timesince
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter, ChoicesDropdownFilter, RadioFilter
from unfold.decorators import display

from incidents.admin.changelist import ChoicesInFilter
from incidents.admin.display import PRIORITY_COLOURS, badge
from incidents.models import Incident
from incidents.narration import person
from problems import policy
from problems.choices import FISHBONE_CATEGORIES, ProblemState
from problems.models import Problem

from .display import PROBLEM_STATE_COLOURS, rca_notes_text
from .forms import WHY_STEPS, ProblemAddForm, ProblemChangeForm
from .page import detail_context
from .views import ProblemViewsMixin

FROZEN_STATES = (ProblemState.CLOSED, ProblemState.CANCELLED)


def linked_count() -> Coalesce:
    """Incidents linked to each row, as one correlated subquery (no N+1, no GROUP BY on the page)."""
    linked = (
        Incident.objects.filter(problem=OuterRef("pk")).order_by().values("problem").annotate(n=Count("id")).values("n")
    )
    return Coalesce(Subquery(linked, output_field=IntegerField()), Value(0))


class HasWorkaroundFilter(RadioFilter):
    """Problems with a workaround written down, or without one."""

    title = "workaround"
    parameter_name = "workaround"

    def lookups(self, request, model_admin):
        return [("yes", "Has a workaround"), ("no", "No workaround")]

    def queryset(self, request, queryset):
        blank = Q(workaround="")
        if self.value() == "yes":
            return queryset.exclude(blank)
        if self.value() == "no":
            return queryset.filter(blank)
        return queryset


@admin.register(Problem)
class ProblemAdmin(ProblemViewsMixin, ModelAdmin):
    """Problems: list, add through `open_problem`, the page through `update_problem` and transitions."""

    list_display = [
        "number",
        "title",
        "state_badge",
        "priority_badge",
        "service",
        "owner_name",
        "linked",
        "age",
    ]
    list_display_links = ["number", "title"]
    list_select_related = ["service", "owner"]
    list_filter = [
        ("state", ChoicesInFilter),
        ("service", AutocompleteSelectFilter),
        ("owner", AutocompleteSelectFilter),
        ("source", ChoicesDropdownFilter),
        HasWorkaroundFilter,
    ]
    list_filter_submit = True
    search_fields = ["number", "title", "description"]
    search_help_text = "A problem number (PRB0000012) or words of the title and description."
    ordering = ["-id"]
    sortable_by = ["number", "priority", "age", "linked"]
    list_per_page = 25
    actions_detail = [
        f"transition_{name}" for name in ("investigate", "mark_known_error", "resolve", "close", "cancel")
    ]
    warn_unsaved_form = True
    change_form_before_template = "admin/problems/problem/change_form_before.html"
    change_form_outer_before_template = "admin/problems/problem/change_form_notice.html"
    change_form_outer_after_template = "admin/problems/problem/change_form_after.html"

    add_fieldsets = [
        (None, {"fields": ["title", "description"]}),
        ("Classification", {"fields": [("service", "category"), ("impact", "urgency")]}),
        ("Ownership", {"fields": [("assignment_group", "owner")]}),
    ]
    base_fieldsets = [
        (None, {"fields": [("number", "state_badge", "priority_label"), "title", "description"]}),
        ("Classification", {"fields": [("service", "category"), ("impact", "urgency"), "source"]}),
        ("Ownership", {"fields": [("assignment_group", "owner")]}),
    ]
    rca_fieldsets = [
        ("Root cause analysis", {"fields": ["rca_method", "root_cause", "contributing_factors"]}),
        (
            "RCA notes: five whys",
            {
                "fields": [(f"why_{n}", f"answer_{n}") for n in range(1, WHY_STEPS + 1)],
                "classes": ["collapse"],
                "description": "An ordered chain: each answer is the next why. Used when the method is Five whys.",
            },
        ),
        (
            "RCA notes: fishbone",
            {
                "fields": [tuple(f"fishbone_{c}" for c in FISHBONE_CATEGORIES[i : i + 2]) for i in (0, 2, 4)],
                "classes": ["collapse"],
                "description": "Causes by category, one per line. Used when the method is Fishbone.",
            },
        ),
        (
            "RCA notes: timeline or other",
            {"fields": ["rca_text"], "classes": ["collapse"], "description": "Used for Timeline analysis and Other."},
        ),
    ]
    read_rca_fieldsets = [
        ("Root cause analysis", {"fields": ["rca_method", "rca_notes_lines", "root_cause", "factor_lines"]}),
    ]
    tail_fieldsets = [
        ("Workaround and fix", {"fields": ["workaround", "fix", "fix_reference", "lessons_learned"]}),
        (
            "Status",
            {
                "fields": [
                    ("opened_at", "investigating_at", "known_error_at"),
                    ("resolved_at", "closed_at", "cancelled_at"),
                    ("cancel_reason", "duplicate_of"),
                    ("recurrence_count", "updated_at", "version"),
                    "created_by",
                ]
            },
        ),
    ]
    change_readonly_fields = [
        "number",
        "state_badge",
        "priority_label",
        "source",
        "opened_at",
        "investigating_at",
        "known_error_at",
        "resolved_at",
        "closed_at",
        "cancelled_at",
        "cancel_reason",
        "duplicate_of",
        "recurrence_count",
        "updated_at",
        "version",
        "created_by",
        "rca_notes_lines",
        "factor_lines",
    ]

    # --- permissions: Django model permissions AND problems.policy --------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and bool(policy.can_create(request.user))

    def has_change_permission(self, request: HttpRequest, obj: Problem | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or (bool(policy.can_change(request.user, obj)) and obj.state not in FROZEN_STATES)

    def has_view_permission(self, request: HttpRequest, obj: Problem | None = None) -> bool:
        return super().has_view_permission(request, obj) and bool(policy.can_view(request.user, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Problem | None = None) -> bool:
        return False  # problems are cancelled, never deleted

    # --- list -------------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(linked_total=linked_count())

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """A number matches exactly ('PRB0000012', 'prb12', '12'); words match title or description."""
        term = search_term.strip()
        if not term:
            return queryset, False
        digits = term.upper().removeprefix("PRB").lstrip("0")
        words = Q()
        for word in term.split():
            words &= Q(title__icontains=word) | Q(description__icontains=word)
        if digits.isdigit():
            words |= Q(number=f"PRB{int(digits):07d}")
        return queryset.filter(words), False

    @display(description="State", ordering="state")
    def state_badge(self, obj: Problem) -> str:
        return badge(PROBLEM_STATE_COLOURS.get(obj.state, "default"), obj.get_state_display())

    @display(description="Priority", ordering="priority")
    def priority_badge(self, obj: Problem) -> str:
        return badge(PRIORITY_COLOURS.get(obj.priority, "default"), f"P{obj.priority}")

    @display(description="Priority")
    def priority_label(self, obj: Problem) -> str:
        return badge(PRIORITY_COLOURS.get(obj.priority, "default"), f"P{obj.priority}")

    @display(description="Owner")
    def owner_name(self, obj: Problem) -> str:
        return person(obj.owner) or "—"

    @display(description="Incidents", ordering="linked_total")
    def linked(self, obj: Problem) -> int:
        return getattr(obj, "linked_total", 0)

    @display(description="Age", ordering="opened_at")
    def age(self, obj: Problem) -> str:
        return timesince(obj.opened_at, depth=1) if obj.opened_at else "—"

    @display(description="RCA notes")
    def rca_notes_lines(self, obj: Problem) -> str:
        return rca_notes_text(obj.rca_method, obj.rca_notes) or "—"

    @display(description="Contributing factors")
    def factor_lines(self, obj: Problem) -> str:
        return "; ".join(obj.contributing_factors or []) or "—"

    # --- add and change forms ---------------------------------------------------------------------
    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Problem | None:
        """One load per request (the change view, its buttons and its context all ask for it)."""
        cache = request.__dict__.setdefault("_problem_objects", {})
        key = (str(object_id), from_field)
        if key not in cache:
            queryset = Problem.objects.select_related(
                "service", "category", "assignment_group", "owner", "created_by", "duplicate_of"
            )
            try:
                cache[key] = queryset.get(pk=int(object_id))
            except (Problem.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def get_fieldsets(self, request: HttpRequest, obj: Problem | None = None):
        if obj is None:
            return self.add_fieldsets
        editable = self.has_change_permission(request, obj)
        return [
            *self.base_fieldsets,
            *(self.rca_fieldsets if editable else self.read_rca_fieldsets),
            *self.tail_fieldsets,
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Problem | None = None):
        return [] if obj is None else self.change_readonly_fields

    def get_form(self, request: HttpRequest, obj: Problem | None = None, change: bool = False, **kwargs):
        kwargs["form"] = ProblemChangeForm if obj is not None else ProblemAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Problem, form, change: bool) -> None:
        """Nothing to do: the form's last validation step called the use case."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """No related rows are edited on this page (links go through their own views)."""

    def response_add(self, request: HttpRequest, obj: Problem, post_url_continue=None) -> HttpResponse:
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"{obj.number} recorded as P{obj.priority}.", messages.SUCCESS)
        return redirect("admin:problems_problem_change", obj.pk)

    def response_change(self, request: HttpRequest, obj: Problem) -> HttpResponse:
        self.message_user(request, f"{obj.number} saved.", messages.SUCCESS)
        return redirect("admin:problems_problem_change", obj.pk)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> Any:
        problem = self.get_object(request, object_id)
        if problem is not None and self.has_view_permission(request, problem):
            extra_context = {**(extra_context or {}), **detail_context(request, problem)}
        return super().change_view(request, object_id, form_url, extra_context)
