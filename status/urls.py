"""The public status page under /status/ (no login): page, feed, subscribe, confirm, unsubscribe."""

from django.urls import path

from status.page import views

app_name = "status"

urlpatterns = [
    path("", views.page, name="page"),
    path("feed.atom", views.atom, name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
