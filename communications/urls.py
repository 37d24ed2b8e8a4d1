"""Pages of this app outside the API and the admin: the unsubscribe link of emails."""

from django.urls import path

from . import views

app_name = "communications"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
