"""The pure replay with extra pause intervals (maintenance windows with pause_sla): paused, not
elapsed, while the clock would otherwise run; stops unchanged; business calendars respected."""

from datetime import UTC, datetime, timedelta

from incidents.sla.pauses import pauses_for, register_pause_source, unregister_pause_source
from incidents.sla.replay import Pause, merge_pauses, replay
from itsm import businesstime

H = timedelta(hours=1)
ALWAYS = businesstime.TWENTY_FOUR_SEVEN
# Mon-Fri 09:00-18:00 UTC
OFFICE = businesstime.Calendar("UTC", tuple((d, 540, 1080) for d in range(5)))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


T0 = utc(2026, 6, 1, 8)  # a Monday


def run(history, now, pauses=(), kind="resolution", target=8 * H, pause_states=("on_hold",), calendar=ALWAYS):
    return replay(kind, target, list(pause_states), calendar, T0, history, now, [Pause(*p) for p in pauses])


def test_window_inside_running_time_is_paused_not_elapsed():
    state = run([("in_progress", T0, None)], T0 + 5 * H, [(T0 + H, T0 + 3 * H, "maintenance MNT1")])
    assert state.stage == "running" and state.running_since == T0 + 3 * H
    assert state.elapsed == H and state.paused == 2 * H
    assert state.events == [("paused", T0 + H), ("resumed", T0 + 3 * H)]
    assert state.reasons[("paused", T0 + H)] == "maintenance MNT1"


def test_now_inside_the_window_is_paused_since_its_start():
    state = run([("new", T0, None)], T0 + 2 * H, [(T0 + H, T0 + 3 * H)])
    assert state.stage == "paused" and state.paused_since == T0 + H and state.running_since is None
    assert state.elapsed == H and state.paused == H


def test_a_window_beginning_exactly_now_pauses_and_one_ending_now_resumes():
    assert run([("new", T0, None)], T0 + H, [(T0 + H, T0 + 2 * H)]).stage == "paused"
    state = run([("new", T0, None)], T0 + 2 * H, [(T0 + H, T0 + 2 * H)])
    assert state.stage == "running" and state.running_since == T0 + 2 * H and state.paused == H


def test_window_straddling_the_clock_start_counts_only_after_it():
    state = run([("new", T0, None)], T0 + 3 * H, [(T0 - 2 * H, T0 + H)])
    assert state.paused == H and state.elapsed == timedelta(0) and state.running_since == T0 + H


def test_window_straddling_now_counts_up_to_now_only():
    state = run([("in_progress", T0, None)], T0 + 2 * H, [(T0 + H, T0 + 10 * H)])
    assert state.stage == "paused" and state.paused == H and state.elapsed == H


def test_a_future_window_changes_nothing_yet():
    plain = run([("in_progress", T0, None)], T0 + 2 * H)
    assert run([("in_progress", T0, None)], T0 + 2 * H, [(T0 + 5 * H, T0 + 6 * H)]) == plain


def test_overlap_with_on_hold_is_not_counted_twice():
    history = [("in_progress", T0, T0 + H), ("on_hold", T0 + H, T0 + 3 * H), ("in_progress", T0 + 3 * H, None)]
    state = run(history, T0 + 6 * H, [(T0 + 2 * H, T0 + 4 * H)])
    # on hold 1-3, maintenance 2-4: paused 1-4 once, no resume in between
    assert state.paused == 3 * H and state.elapsed == H  # 0-1 banked; running since 4
    assert state.running_since == T0 + 4 * H
    assert state.events == [("paused", T0 + H), ("resumed", T0 + 4 * H)]


def test_on_hold_inside_a_window_resumes_at_the_window_end():
    history = [("in_progress", T0, T0 + 2 * H), ("on_hold", T0 + 2 * H, T0 + 3 * H), ("in_progress", T0 + 3 * H, None)]
    state = run(history, T0 + 5 * H, [(T0 + H, T0 + 4 * H, "mnt")])
    assert state.paused == 3 * H and state.running_since == T0 + 4 * H
    assert state.events == [("paused", T0 + H), ("resumed", T0 + 4 * H)]


def test_response_clock_still_stops_at_the_first_response():
    history = [("new", T0, T0 + 2 * H), ("in_progress", T0 + 2 * H, None)]
    state = run(history, T0 + 5 * H, [(T0 + H, T0 + 4 * H)], kind="response", target=H * 3)
    assert state.stage == "met" and state.stopped_at == T0 + 2 * H
    assert state.elapsed == H and state.paused == H


def test_resolution_clock_stops_at_resolve_inside_a_window():
    history = [("in_progress", T0, T0 + 2 * H), ("resolved", T0 + 2 * H, None)]
    state = run(history, T0 + 5 * H, [(T0 + H, T0 + 4 * H)])
    assert state.stage == "met" and state.stopped_at == T0 + 2 * H and state.elapsed == H


def test_a_window_postpones_the_breach():
    without = run([("in_progress", T0, T0 + 10 * H), ("resolved", T0 + 10 * H, None)], T0 + 11 * H)
    assert without.stage == "breached" and without.breached_at == T0 + 8 * H
    with_window = run(
        [("in_progress", T0, T0 + 10 * H), ("resolved", T0 + 10 * H, None)], T0 + 11 * H, [(T0 + H, T0 + 4 * H)]
    )
    assert with_window.stage == "met" and with_window.elapsed == 7 * H


def test_breach_moment_after_a_window():
    state = run([("in_progress", T0, None)], T0 + 20 * H, [(T0 + H, T0 + 4 * H)])
    assert state.breached_at == T0 + 11 * H and state.stage == "breached"


def test_business_calendar_counts_only_working_time_of_the_window():
    # Monday 08:00 opened; window Monday 17:00 - Tuesday 10:00: working part 17-18 and 09-10.
    window = (utc(2026, 6, 1, 17), utc(2026, 6, 2, 10))
    state = run([("in_progress", T0, None)], utc(2026, 6, 2, 12), [window], calendar=OFFICE)
    assert state.paused == 2 * H
    assert state.elapsed == 8 * H  # 09-17 Monday
    assert state.running_since == utc(2026, 6, 2, 10)


def test_reopen_after_resolve_is_not_paused_while_resolved():
    history = [
        ("in_progress", T0, T0 + H),
        ("resolved", T0 + H, T0 + 3 * H),
        ("in_progress", T0 + 3 * H, None),
    ]
    state = run(history, T0 + 5 * H, [(T0 + 2 * H, T0 + 4 * H)])
    assert state.paused == H and state.elapsed == H and state.running_since == T0 + 4 * H


def test_merge_pauses_joins_overlaps_and_drops_empty_and_future():
    now = T0 + 10 * H
    merged = merge_pauses(
        [Pause(T0 + 2 * H, T0 + 4 * H, "b"), Pause(T0, T0 + 3 * H, "a"), Pause(T0, T0), Pause(now + H, now + 2 * H)],
        now,
    )
    assert merged == [Pause(T0, T0 + 4 * H, "a")]


def test_registry_asks_every_source_for_the_incident_service():
    asked = []

    def source(service_ids, start, end):
        asked.append(list(service_ids))
        return [(T0, T0 + H, "x")] if 7 in service_ids else []

    register_pause_source(source)
    try:
        assert pauses_for(7, T0 - H, T0 + 5 * H) == [Pause(T0, T0 + H, "x")]
        assert pauses_for(8, T0 - H, T0 + 5 * H) == []
        assert pauses_for(None, T0 - H, T0 + 5 * H) == []
    finally:
        unregister_pause_source(source)
    assert asked == [[7], [8]]


def test_a_failing_source_is_ignored():
    def broken(service_ids, start, end):
        raise RuntimeError("down")

    register_pause_source(broken)
    try:
        assert pauses_for(7, T0, T0 + H) == []
    finally:
        unregister_pause_source(broken)
