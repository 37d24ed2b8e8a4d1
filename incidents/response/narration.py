"""The sentence of a `task` timeline row (incidents' and major incidents' timelines alike).

No model imports: the incident narrator, the major incident narrator and the Markdown export
all call `task_sentence(data)`.
"""

from __future__ import annotations

STATE_LABELS = {"open": "Open", "in_progress": "In progress", "done": "Done", "cancelled": "Cancelled"}


def _title(data: dict) -> str:
    title = str(data.get("title") or "")
    title = f"{title[:120]}…" if len(title) > 120 else title
    return f"“{title}” (#{data.get('task', '?')})"


def task_sentence(data: dict) -> str:
    """One human sentence for a task row: created, changed, started, completed, cancelled, overdue."""
    event = data.get("event")
    name = _title(data)
    if event == "created":
        extra = " (blocking)" if data.get("blocking") else ""
        due = f", due {data['due_at']}" if data.get("due_at") else ""
        return f"Task {name} added{extra}{due}."
    if event == "changed":
        fields = ", ".join(str(f).replace("_", " ") for f in (data.get("changes") or {}))
        return f"Task {name} changed" + (f": {fields}." if fields else ".")
    if event == "started":
        return f"Task {name} started."
    if event == "completed":
        return f"Task {name} completed."
    if event == "cancelled":
        reason = data.get("reason")
        return f"Task {name} cancelled" + (f": “{str(reason)[:120]}”." if reason else ".")
    if event == "overdue":
        minutes = data.get("overdue_minutes")
        late = f", {minutes} min past due" if minutes is not None else ""
        return f"Task {name} is overdue{late}; its owner was reminded (reminder {data.get('period', 1)})."
    return f"Task {name}: {event}."
