"""Task routes under /api/v1/: incidents/{id}/tasks/ and major-incidents/{id}/tasks/ (`{id}`: id or number)."""

from django.urls import path

from . import tasks

urlpatterns: list = [
    path("incidents/<str:id>/tasks/", tasks.IncidentTaskListView.as_view(), name="incident-tasks"),
    path("incidents/<str:id>/tasks/<str:task_id>/", tasks.IncidentTaskDetailView.as_view(), name="incident-task"),
    path(
        "incidents/<str:id>/tasks/<str:task_id>/transitions/<str:name>/",
        tasks.IncidentTaskTransitionView.as_view(),
        name="incident-task-transition",
    ),
    path("major-incidents/<str:id>/tasks/", tasks.MajorTaskListView.as_view(), name="major-incident-tasks"),
    path(
        "major-incidents/<str:id>/tasks/<str:task_id>/",
        tasks.MajorTaskDetailView.as_view(),
        name="major-incident-task",
    ),
    path(
        "major-incidents/<str:id>/tasks/<str:task_id>/transitions/<str:name>/",
        tasks.MajorTaskTransitionView.as_view(),
        name="major-incident-task-transition",
    ),
]
