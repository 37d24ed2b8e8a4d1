"""Pages of major incident management outside the API and the console: the acknowledge link."""

from django.urls import path

from . import views

app_name = "major_incidents"

urlpatterns = [
    path("major-incidents/acknowledge/<str:token>/", views.acknowledge, name="acknowledge"),
]
