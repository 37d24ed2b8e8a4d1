"""Pause sources: practices to the right that make SLA clocks count some time as paused.

The incident practice knows nothing of maintenance windows. A practice that has intervals in
which the clocks of incidents on some services should not run (the status app's maintenance
windows with `pause_sla`) registers a *pause source* from its `AppConfig.ready()`:

    register_pause_source(fn)   # fn(service_ids, start, end) -> [(start, end) or (start, end, reason)]

`fn` returns the intervals overlapping [start, end] for incidents on any of `service_ids`. Every
replay of a clock (`incidents.sla.clocks`) asks `pauses_for(incident.service_id, started_at,
now)` and hands the answer to the pure `replay()`. Sources are on the hot paths (every incident
create and transition), so a source must answer from memory when it has nothing to say (the
status app keeps its live windows in a per-process versioned cache). A source that fails is
logged and ignored: a broken pause source must not stop incidents from being opened.

The owner of the intervals replays the clocks it affects when an interval begins, ends or
changes (`replay_open_clocks`), so `due_at` moves then; the clock never anticipates a pause still
to come.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from .replay import Pause, merge_pauses

logger = logging.getLogger(__name__)

PauseSource = Callable[[Sequence[int], datetime, datetime], Iterable[tuple]]
_sources: list[PauseSource] = []


def register_pause_source(source: PauseSource) -> None:
    """Make `source` part of every replay (idempotent; call from `AppConfig.ready()`)."""
    if source not in _sources:
        _sources.append(source)


def unregister_pause_source(source: PauseSource) -> None:
    """Forget `source` (tests)."""
    if source in _sources:
        _sources.remove(source)


def _pause(value) -> Pause:
    if isinstance(value, Pause):
        return value
    start, end, *rest = value
    return Pause(start, end, str(rest[0]) if rest else "")


def pauses_for(service_id: int | None, start: datetime, end: datetime) -> list[Pause]:
    """The extra pauses of an incident on `service_id` between `start` and `end`, merged."""
    if service_id is None or not _sources or end < start:
        return []
    found: list[Pause] = []
    for source in _sources:
        try:
            found.extend(_pause(value) for value in source([service_id], start, end) or ())
        except Exception:
            logger.exception("SLA pause source %r failed; replaying without its pauses", source)
    return merge_pauses([p for p in found if p.end > start and p.start <= end])
