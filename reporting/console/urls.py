"""`/admin/reports/`: mounted by itsm/urls.py ahead of the admin site, behind the admin's login."""

from django.contrib import admin
from django.urls import path

from reporting.console import views

app_name = "reports"

urlpatterns = [
    path("", admin.site.admin_view(views.index), name="index"),
    path("<slug:name>/", admin.site.admin_view(views.report_page), name="report"),
]
