"""SLA clocks of incidents, in three rooms (DOMAIN.md section 3).

* `replay`: pure arithmetic: which policy applies, a clock replayed from the state history, the
  clock's derived values and its API view. No database.
* `clocks`: bookkeeping the incident use cases call in their transactions: attach, replay after
  a transition, replace on a policy change, schedule the next check. It marks a clock breached
  when a change makes it due, and fires nothing.
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
    state_changed,
    state_history,
)
from .replay import ClockState, clock_view, current_elapsed, matching_policy, next_check, replay

__all__ = [
    "CALENDAR_PREFETCH",
    "ETA_HORIZON",
    "ClockState",
    "active_policies",
    "attach_clocks",
    "clock_view",
    "current_elapsed",
    "matching_policy",
    "next_check",
    "policy_inputs_changed",
    "replay",
    "state_changed",
    "state_history",
]
