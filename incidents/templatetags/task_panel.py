"""`{% task_panel record %}`: the task list of an incident, major incident or problem page (any
record kind registered in `incidents.response.records`; see `incidents.response.admin.tasks.task_panel`)."""

from django import template

register = template.Library()


@register.inclusion_tag("admin/incidents/task/panel.html", takes_context=True)
def task_panel(context, record):
    """The panel for `record`, read for the request's user."""
    # Imported here: template libraries load while the admin modules are still being imported.
    from incidents.response.admin.tasks import task_panel as build_panel

    request = context["request"]
    return {"tasks": build_panel(request, record), "csrf_token": context.get("csrf_token"), "request": request}
