"""Extension points of the incident console for the practices to the right of incidents.

The incident practice knows no practice that builds on it (problems import incidents, never the
other way), yet their work shows on the incident list and page. A practice registers here, from
its own admin package, what it adds:

- `register_action(...)`: an extra bulk action of the incident change list; the function is
  called like any admin action, `function(model_admin, request, queryset)`, and may use the
  incident admin's bulk helpers (`_bulk_targets`, `_bulk_form`);
- `register_panel(...)`: an extra card on the incident change page, a template rendered with
  `panel` = what its context function returns for `(request, incident)` (None hides it).

`IncidentAdmin` reads the registry on every request (`get_actions`, the change page's context).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

ActionFunction = Callable[[Any, HttpRequest, Any], Any]
PanelContext = Callable[[HttpRequest, Any], dict | None]


@dataclass(frozen=True)
class ChangelistAction:
    """A bulk action a practice adds to the incident list."""

    name: str
    function: ActionFunction
    description: str
    allowed: Callable[[HttpRequest], bool]


@dataclass(frozen=True)
class Panel:
    """A card a practice adds to the incident change page (above the form)."""

    name: str
    template: str
    context: PanelContext


_actions: dict[str, ChangelistAction] = {}
_panels: dict[str, Panel] = {}


def register_action(
    name: str,
    function: ActionFunction,
    description: str,
    allowed: Callable[[HttpRequest], bool] = lambda request: True,
) -> None:
    """Add (or replace, by name: registering twice is harmless) a bulk action of the incident list."""
    _actions[name] = ChangelistAction(name, function, description, allowed)


def register_panel(name: str, template: str, context: PanelContext) -> None:
    """Add (or replace, by name) a panel of the incident change page."""
    _panels[name] = Panel(name, template, context)


def changelist_actions(request: HttpRequest) -> dict[str, tuple[ActionFunction, str, str]]:
    """The registered actions this request may run, in Django's `get_actions` shape."""
    return {a.name: (a.function, a.name, a.description) for a in _actions.values() if a.allowed(request)}


def panels(request: HttpRequest, incident) -> list[dict]:
    """The registered panels with something to show on `incident`: [{"name", "template", "panel"}]."""
    shown = []
    for panel in _panels.values():
        context = panel.context(request, incident)
        if context is not None:
            shown.append({"name": panel.name, "template": panel.template, "panel": context})
    return shown
