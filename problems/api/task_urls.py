"""Task routes of problems under /api/v1/: problems/{id}/tasks/ (`{id}`: id or number PRB...).

The views are the task API's own (`incidents.response.api.tasks.record_views`), built for the
problem kind `problems.worktask_records` registers; included from `problems.api.urls`.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter

from incidents.response.api.tasks import record_views
from problems.models import Problem

PROBLEM_RECORD = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The problem's id or number (PRB...).")
ProblemTaskListView, ProblemTaskDetailView, ProblemTaskTransitionView = record_views(Problem, PROBLEM_RECORD)

urlpatterns: list = [
    path("problems/<str:id>/tasks/", ProblemTaskListView.as_view(), name="problem-tasks"),
    path("problems/<str:id>/tasks/<str:task_id>/", ProblemTaskDetailView.as_view(), name="problem-task"),
    path(
        "problems/<str:id>/tasks/<str:task_id>/transitions/<str:name>/",
        ProblemTaskTransitionView.as_view(),
        name="problem-task-transition",
    ),
]
