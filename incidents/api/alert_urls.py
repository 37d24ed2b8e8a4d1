"""Alert and inbound email routes under /api/v1/ (wired first by itsm.urls: they are the busiest)."""

from django.urls import path

from . import alerts

urlpatterns = [
    path("alerts/", alerts.AlertEventView.as_view(), name="alert-events"),
    path("alerts/alertmanager/", alerts.AlertmanagerView.as_view(), name="alert-alertmanager"),
    path("alerts/grafana/", alerts.GrafanaView.as_view(), name="alert-grafana"),
    path("inbound-email/", alerts.InboundEmailView.as_view(), name="inbound-email"),
]
