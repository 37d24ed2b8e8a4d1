"""The admin sidebar, grouped the way an agent thinks rather than by Django app.

Part of the composition root: it names the apps' models by label to place them in sections.
Models not named here fall back to their app's section, so a new admin page is never hidden.
"""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

SECTIONS = ["Reports", "Incidents", "Major incidents", "Problems", "Communications", "Configuration", "Access"]

# Model label -> (section, material icon). Order here is the order in the sidebar.
PLACEMENT: dict[str, tuple[str, str]] = {
    "incidents.incident": ("Incidents", "report"),
    "incidents.slaclock": ("Incidents", "timer"),
    "incidents.incidentsettings": ("Incidents", "tune"),
    "incidents.alertroute": ("Incidents", "sensors"),
    "incidents.incidentalert": ("Incidents", "notifications"),
    "incidents.inboundmessage": ("Incidents", "mail"),
    "incidents.task": ("Incidents", "checklist"),
    "incidents.majorincident": ("Major incidents", "crisis_alert"),
    "incidents.stakeholderupdate": ("Major incidents", "campaign"),
    "incidents.majorincidentsettings": ("Major incidents", "tune"),
    "incidents.responseplan": ("Major incidents", "fact_check"),
    "incidents.triggerrule": ("Major incidents", "bolt"),
    "status.maintenancewindow": ("Major incidents", "engineering"),
    "problems.problem": ("Problems", "bug_report"),
    "problems.knownerror": ("Problems", "menu_book"),
    "problems.problemsettings": ("Problems", "tune"),
    "communications.notification": ("Communications", "outbox"),
    "communications.notificationrule": ("Communications", "rule"),
    "communications.notificationtemplate": ("Communications", "description"),
    "communications.webhookendpoint": ("Communications", "webhook"),
    "communications.subscription": ("Communications", "notifications_active"),
    "status.statuspagegroup": ("Major incidents", "web"),
    "status.statuspageentry": ("Major incidents", "view_list"),
    "status.statussubscriber": ("Major incidents", "mark_email_read"),
    "itsm.service": ("Configuration", "dns"),
    "itsm.category": ("Configuration", "category"),
    "itsm.assignmentgroup": ("Configuration", "groups"),
    "itsm.prioritymatrixentry": ("Configuration", "grid_on"),
    "itsm.businesscalendar": ("Configuration", "calendar_month"),
    "itsm.slapolicy": ("Configuration", "timer"),
    "auth.user": ("Access", "person"),
    "auth.group": ("Access", "badge"),
    "authtoken.tokenproxy": ("Access", "key"),
}
# Saved views that are not a model's list: (section, title, URL, icon, model label whose view
# permission they need). They come first in their section.
EXTRA_LINKS: list[tuple[str, str, str, str, str]] = [
    (
        "Incidents",
        "My work",
        "admin:incidents_incident_changelist?queue=my_work",
        "assignment_ind",
        "incidents.incident",
    ),
    ("Incidents", "My tasks", "admin:incidents_task_mine", "checklist", "incidents.task"),
    # The reporting app's pages, by URL name only (itsm does not import reporting).
    ("Reports", "Dashboard", "admin:index", "dashboard", "incidents.incident"),
    ("Reports", "All reports", "reports:index", "monitoring", "incidents.incident"),
]
APP_SECTION = {
    "incidents": "Incidents",
    "problems": "Problems",
    "communications": "Communications",
    "itsm": "Configuration",
}


def navigation(request: HttpRequest) -> list[dict]:
    """Build the sidebar from the models registered in the admin that this user may view."""
    items: dict[str, list[tuple[int, dict]]] = {s: [] for s in SECTIONS}
    order = {label: i for i, label in enumerate(PLACEMENT)}
    registry = {m._meta.label_lower: a for m, a in admin.site._registry.items()}
    for section, title, target, icon, label in EXTRA_LINKS:
        model_admin = registry.get(label)
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            continue
        name, _, query = target.partition("?")
        try:
            link = reverse(name) + (f"?{query}" if query else "")
        except NoReverseMatch:
            continue
        items[section].append((-1, {"title": title, "icon": icon, "link": link}))
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        section, icon = PLACEMENT.get(label, (APP_SECTION.get(model._meta.app_label, "Access"), "list"))
        if not model_admin.has_view_or_change_permission(request):
            continue
        try:
            link = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        except NoReverseMatch:
            continue
        item = {"title": capfirst(model._meta.verbose_name_plural), "icon": icon, "link": link}
        items[section].append((order.get(label, 999), item))
    return [
        {
            "title": section,
            "separator": True,
            "collapsible": True,
            "items": [i for _, i in sorted(entries, key=lambda e: e[0])],
        }
        for section, entries in items.items()
        if entries
    ]
