"""Display helpers of the incident console: badges, colours, durations, numbers, alert details.

Pure presentation: nothing here reads or writes incidents beyond the rows it is handed.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from incidents.choices import IncidentState
from incidents.models import SlaClock
from incidents.models.alerts import AlertSeverity, InboundOutcome
from incidents.models.sla import LIVE_STAGES, ClockStage
from incidents.sla import current_elapsed

ALERT_DETAILS_LIMIT = 20_000  # characters of an alert's pretty-printed details shown on the change page

STATE_COLOURS = {
    IncidentState.NEW: "info",
    IncidentState.IN_PROGRESS: "primary",
    IncidentState.ON_HOLD: "warning",
    IncidentState.RESOLVED: "success",
    IncidentState.CLOSED: "default",
    IncidentState.CANCELLED: "default",
}
PRIORITY_COLOURS = {1: "danger", 2: "warning", 3: "primary", 4: "info", 5: "default"}
SLA_COLOURS = {"ok": "success", "warning": "warning", "breached": "danger", "paused": "info"}
CLOCK_STAGE_COLOURS = {
    ClockStage.RUNNING: "primary",
    ClockStage.PAUSED: "info",
    ClockStage.MET: "success",
    ClockStage.BREACHED: "danger",
    ClockStage.CANCELLED: "default",
}
SEVERITY_COLOURS = {
    AlertSeverity.CRITICAL: "danger",
    AlertSeverity.ERROR: "danger",
    AlertSeverity.WARNING: "warning",
    AlertSeverity.INFO: "info",
}
OUTCOME_COLOURS = {
    InboundOutcome.CREATED: "primary",
    InboundOutcome.COMMENTED: "info",
    InboundOutcome.IGNORED: "default",
}


NUMBER_RE = re.compile(r"^\s*(INC)?\s*0*(\d{1,12})\s*$", re.IGNORECASE)


def parse_number(term: str) -> tuple[str, bool] | None:
    """'INC0000123', 'inc123' or '123' -> ('INC0000123', typed_with_prefix); None for anything else."""
    match = NUMBER_RE.match(term or "")
    if not match or int(match.group(2)) == 0:
        return None
    return f"INC{int(match.group(2)):07d}", bool(match.group(1))


def short_duration(delta: timedelta | float) -> str:
    """A duration as an agent reads it: '3 d 4 h', '2 h 5 min', '12 min', 'under a minute'."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return "under a minute"


@functools.lru_cache(maxsize=32)
def _badge_shell(colour: str) -> tuple[str, str]:
    """Unfold's label markup for a colour, split around its text (rendered once per colour)."""
    html = render_to_string("unfold/helpers/label.html", {"type": colour, "text": "\x00"})
    before, after = html.split("\x00")
    return before, after


def badge(colour: str, text: str) -> SafeString:
    """An Unfold label (badge) as HTML.

    Unfold's `display(label=...)` renders a template per cell, a quarter of a 50-row page's
    time; a badge's markup depends only on its colour, so it is rendered once and reused.
    """
    before, after = _badge_shell(colour)
    return mark_safe(before + conditional_escape(text) + after)  # the text is escaped


def pretty_details(details: Any, limit: int | None = None) -> tuple[str, int]:
    """An alert's details as indented JSON, cut at `limit` characters (default ALERT_DETAILS_LIMIT).

    Returns (text, characters left out). The page escapes the text; ingestion already caps the
    stored size, this keeps the page readable.
    """
    limit = ALERT_DETAILS_LIMIT if limit is None else limit
    if details in (None, "", {}, []):
        return "", 0
    text = json.dumps(details, indent=2, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def attachment_lines(attachments: Any) -> list[str]:
    """An inbound email's attachments (`[{filename, content_type, size}]`) as 'name (type, size)'."""
    lines = []
    for item in attachments if isinstance(attachments, list) else []:
        if not isinstance(item, dict):
            lines.append(str(item))
            continue
        extras = [str(item["content_type"])] if item.get("content_type") else []
        if isinstance(item.get("size"), int) and not isinstance(item["size"], bool):
            extras.append(filesizeformat(item["size"]))
        name = str(item.get("filename") or "(no name)")
        lines.append(f"{name} ({', '.join(extras)})" if extras else name)
    return lines


@dataclass(frozen=True)
class SlaSummary:
    """What the 'Time to breach' column shows: a status (ok/warning/breached/paused) and a phrase."""

    status: str
    text: str


def sla_summary(clocks: Iterable[SlaClock], now: datetime | None = None) -> SlaSummary | None:
    """The most urgent of an incident's live clocks.

    Breached beats running beats paused; a running clock shows its `due_at` countdown, coloured
    `warning` once its elapsed business time reaches the policy's first warning threshold.
    """
    now = now or timezone.now()
    live = [c for c in clocks if c.stopped_at is None and c.stage in LIVE_STAGES]
    breached = [c for c in live if c.stage == ClockStage.BREACHED]
    if breached:
        first = min(c.breached_at or now for c in breached)
        return SlaSummary("breached", f"Breached {short_duration(now - first)} ago")
    running = [c for c in live if c.stage == ClockStage.RUNNING and c.due_at is not None]
    if running:
        clock = min(running, key=lambda c: c.due_at)
        left = clock.due_at - now
        if left <= timedelta(0):
            return SlaSummary("breached", f"Overdue by {short_duration(-left)}")
        thresholds = clock.policy.warning_thresholds or []
        percent = current_elapsed(clock, now) / timedelta(seconds=clock.target_seconds) * 100
        status = "warning" if thresholds and percent >= min(thresholds) else "ok"
        return SlaSummary(status, f"{short_duration(left)} left")
    paused = [c for c in live if c.stage == ClockStage.PAUSED]
    if paused:
        remaining = min(max(c.target_seconds - c.elapsed_seconds, 0) for c in paused)
        return SlaSummary("paused", f"Paused, {short_duration(remaining)} left")
    return None
