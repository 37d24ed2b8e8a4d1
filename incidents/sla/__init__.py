"""SLA clocks of incidents, in four rooms (DOMAIN.md section 3).

* `replay`: pure arithmetic: which policy applies, a clock replayed from the state history, the
  clock's derived values and its API view. No database.
* `clocks`: bookkeeping the incident use cases call in their transactions: attach, replay after
  a transition, replace on a policy change, schedule the next check. It marks a clock breached
  when a change makes it due, and fires nothing.
* `pauses`: the registry of pause sources (practices to the right, e.g. maintenance windows
  with `pause_sla`, whose intervals every replay counts as paused time).
* `firing`: warnings, breaches and their actions, from the ETA task and the sweep, in their own
  transactions after the use case committed, exactly once (`incidents.tasks` calls it; it
  calls the use cases in `incidents.services`, which call `clocks`: the imports run one way).
"""

from .clocks import (
    CALENDAR_PREFETCH,
    ETA_HORIZON,
    active_policies,
    attach_clocks,
    policy_inputs_changed,
    replay_open_clocks,
    state_changed,
    state_history,
)
from .pauses import pauses_for, register_pause_source
from .replay import ClockState, Pause, clock_view, current_elapsed, matching_policy, next_check, replay

__all__ = [
    "CALENDAR_PREFETCH",
    "ETA_HORIZON",
    "ClockState",
    "Pause",
    "active_policies",
    "attach_clocks",
    "clock_view",
    "current_elapsed",
    "matching_policy",
    "next_check",
    "pauses_for",
    "policy_inputs_changed",
    "register_pause_source",
    "replay",
    "replay_open_clocks",
    "state_changed",
    "state_history",
]
