"""The console for tasks: the task list on the incident page, the major incident workbench and any
registered record's page (a problem's; `incidents.response.records`) (add, start, complete,
cancel), and the Task admin with "My tasks" across every record kind.

Nothing here decides who may do what or whether a task may move: every button posts to a view
of `TaskAdmin` that calls `incidents.response.worktasks` (the API's services) and shows their
refusal as a message. The panel only hides the buttons `worktasks.available_transitions` and
`policy.can_add_task` would refuse anyway.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RadioFilter
from unfold.decorators import display
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from incidents.admin.changelist import ChoicesInFilter
from incidents.admin.display import badge
from incidents.admin.forms import SERVICE_ERRORS, error_text
from incidents.narration import person
from incidents.response import policy, records, worktasks
from incidents.response.choices import OPEN_TASK_STATES, TaskState, TaskTransition
from incidents.response.models import Task
from itsm import roles
from itsm.exceptions import Conflict
from itsm.models import AssignmentGroup

User = get_user_model()

TASK_ERRORS = (*SERVICE_ERRORS, Conflict)
PANEL_LIMIT = 100  # tasks listed on a record's page (counted beyond)
STATE_COLOURS = {
    TaskState.OPEN: "info",
    TaskState.IN_PROGRESS: "warning",
    TaskState.DONE: "success",
    TaskState.CANCELLED: "default",
}
ICONS = {"start": "play_arrow", "complete": "task_alt", "cancel": "block"}


class TaskAddForm(forms.Form):
    """The panel's "Add a task" form: what `worktasks.create_task` takes."""

    title = forms.CharField(max_length=255, widget=UnfoldAdminTextInputWidget)
    description = forms.CharField(required=False, widget=UnfoldAdminTextInputWidget)
    assignment_group = forms.ModelChoiceField(
        AssignmentGroup.objects.filter(active=True).order_by("name"), required=False, widget=UnfoldAdminSelectWidget
    )
    assignee = forms.ModelChoiceField(
        User.objects.filter(is_active=True, is_staff=True).order_by("first_name", "last_name", "username"),
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    due_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    blocking = forms.BooleanField(required=False, widget=UnfoldBooleanSwitchWidget)
    kind = forms.ChoiceField(choices=[], required=False, widget=UnfoldAdminSelectWidget)

    def __init__(self, *args, major: bool = False, task_kinds: tuple[str, ...] = ("",), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].label_from_instance = person
        if not major:
            del self.fields["blocking"]
        named = [k for k in task_kinds if k]
        if named:
            self.fields["kind"].choices = [(k, KIND_LABELS.get(k, k.title())) for k in named]
            self.fields["kind"].initial = named[0]
        else:
            del self.fields["kind"]

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.setdefault("blocking", False)
        if not data.get("kind"):
            data.pop("kind", None)  # the record's default
        return data


KIND_LABELS = {"rca": "Root cause analysis", "general": "General"}


def _record_url(record) -> str:
    return records.for_record(record).console_url(record)


def _form(record, data=None) -> TaskAddForm:
    kind = records.for_record(record)
    return TaskAddForm(data, major=kind.has_blocking, task_kinds=kind.task_kinds, prefix="task")


def task_panel(request: HttpRequest, record) -> dict:
    """The task list of a record's page (incident, major incident, problem...): rows with the
    buttons the user may press, and the add form.

    Two queries (a page of tasks with their owners, and their count); buttons from the policy.
    """
    user = request.user
    kind = records.for_record(record)
    tasks = list(
        Task.objects.filter(**{kind.name: record})
        .select_related("assignee", "assignment_group")
        .order_by("position", "id")[: PANEL_LIMIT + 1]
    )
    truncated = len(tasks) > PANEL_LIMIT
    tasks = tasks[:PANEL_LIMIT]
    now = timezone.now()
    rows = []
    records.attach(tasks, record)
    for task in tasks:
        rows.append(
            {
                "task": task,
                "owner": person(task.assignee) or (task.assignment_group.name if task.assignment_group_id else ""),
                "state_colour": STATE_COLOURS.get(task.state, "default"),
                "kind": KIND_LABELS.get(task.kind, task.kind),
                "overdue": task.is_open and task.due_at is not None and task.due_at <= now,
                "buttons": [
                    {
                        "name": name,
                        "label": TaskTransition(name).label,
                        "icon": ICONS[name],
                        "url": reverse("admin:incidents_task_run", args=[task.pk, name]),
                    }
                    for name in worktasks.available_transitions(task, user)
                ],
            }
        )
    can_add = policy.can_add_task(user, record)
    return {
        "rows": rows,
        "truncated": truncated,
        "open": sum(1 for r in rows if r["task"].is_open),
        "can_add": bool(can_add),
        "form": _form(record) if can_add else None,
        "add_url": reverse("admin:incidents_task_add_to", args=[kind.key, record.pk]),
        "major": kind.has_blocking,
    }


class MyTasksFilter(RadioFilter):
    """Open tasks assigned to me or to one of my groups."""

    title = "whose"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", "My tasks (mine or my groups', open)")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(
            Q(assignee=request.user) | Q(assignment_group_id__in=roles.group_ids(request.user)),
            state__in=OPEN_TASK_STATES,
        ).order_by("due_at", "id")


@admin.register(Task)
class TaskAdmin(ModelAdmin):
    """Every task, with "My tasks" (open, mine or my groups', by due time); tasks are added and
    moved from their record's page (these views call `worktasks`)."""

    list_display = ["title", "record_link", "kind_label", "state_badge", "owner", "due", "blocking"]
    list_filter = [MyTasksFilter, ("state", ChoicesInFilter), "blocking"]
    ordering = ["due_at", "id"]
    list_per_page = 50
    fields = [
        "title",
        "description",
        "incident",
        "major_incident",
        "problem",
        "kind",
        "state",
        "assignment_group",
        "assignee",
        "role",
        "due_at",
        "blocking",
        "position",
        "source",
        "plan_version",
        "started_at",
        "completed_at",
        "cancelled_at",
        "cancel_reason",
        "reminder_count",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are added on their record's page

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # and changed through the use cases only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or super().has_change_permission(request, obj)

    # The record kinds are registered when every app is ready, after this module is imported.
    def get_list_select_related(self, request: HttpRequest):
        return [*records.related(), "assignee", "assignment_group"]

    def get_search_fields(self, request: HttpRequest):
        return ["title", *(f"{name}__number" for name in records.related())]

    @display(description="Record")
    def record_link(self, obj: Task) -> str:
        record = obj.record
        return format_html('<a href="{}">{}</a>', _record_url(record), f"{record.number} {record.title}"[:80])

    @display(description="Kind")
    def kind_label(self, obj: Task) -> str:
        return KIND_LABELS.get(obj.kind, obj.kind) or "—"

    @display(description="State")
    def state_badge(self, obj: Task) -> str:
        return badge(STATE_COLOURS.get(obj.state, "default"), obj.get_state_display())

    @display(description="Owner")
    def owner(self, obj: Task) -> str:
        return person(obj.assignee) or (obj.assignment_group.name if obj.assignment_group_id else "—")

    @display(description="Due", ordering="due_at")
    def due(self, obj: Task) -> str:
        if obj.due_at is None:
            return "—"
        text = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
        return badge("danger", f"{text} overdue") if obj.is_overdue else text

    # --- the panel's buttons ---------------------------------------------------------------------------
    def get_urls(self):
        own = [
            path(
                "add-to/<str:kind>/<int:record_id>/",
                self.admin_site.admin_view(self.add_to_view),
                name="incidents_task_add_to",
            ),
            path(
                "<int:task_id>/run/<str:name>/",
                self.admin_site.admin_view(self.run_view),
                name="incidents_task_run",
            ),
            path("mine/", self.admin_site.admin_view(self.mine_view), name="incidents_task_mine"),
        ]
        return own + super().get_urls()

    def mine_view(self, request: HttpRequest) -> HttpResponse:
        """My tasks: the list filtered to open tasks of mine or my groups, soonest due first."""
        return HttpResponseRedirect(reverse("admin:incidents_task_changelist") + "?mine=yes")

    def _attempt(self, request: HttpRequest, record, call, success: str) -> HttpResponse:
        try:
            call()
        except TASK_ERRORS as exc:
            messages.error(request, getattr(exc, "detail", None) or error_text(exc))
        else:
            messages.success(request, success)
        return HttpResponseRedirect(_record_url(record) + "#tasks")

    def add_to_view(self, request: HttpRequest, kind: str, record_id: int) -> HttpResponse:
        """POST: `worktasks.create_task` on the record (incident, major incident, problem...) with the panel's form."""
        record_kind = records.by_key(kind)
        if record_kind is None:
            raise Http404("No such record kind.")
        record = get_object_or_404(record_kind.model, pk=record_id)
        if request.method != "POST":
            return HttpResponseRedirect(_record_url(record))
        form = _form(record, request.POST)
        if not form.is_valid():
            problems = " ".join(f"{name.replace('_', ' ')}: {' '.join(e)}" for name, e in form.errors.items())
            messages.error(request, f"The task was not added. {problems}")
            return HttpResponseRedirect(_record_url(record) + "#tasks")
        values = form.values()
        return self._attempt(
            request,
            record,
            lambda: worktasks.create_task(actor=request.user, record=record, **values),
            f"Task '{values['title']}' added to {record.number}.",
        )

    def run_view(self, request: HttpRequest, task_id: int, name: str) -> HttpResponse:
        """POST: `worktasks.run_task_transition` (start, complete, cancel) with the version the page showed."""
        task = get_object_or_404(Task.objects.select_related(*records.related()), pk=task_id)
        record = task.record
        if request.method != "POST":
            return HttpResponseRedirect(_record_url(record))
        version = request.POST.get("version", "")
        payload = {"reason": request.POST.get("reason", "")} if name == "cancel" else {}
        label = TaskTransition(name).label if name in TaskTransition.values else name
        return self._attempt(
            request,
            record,
            lambda: worktasks.run_task_transition(
                task,
                name,
                actor=request.user,
                payload=payload,
                expected_version=int(version) if version.isdigit() else None,
            ),
            f"Task '{task.title}': {label.lower()} done.",
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(*records.related())
