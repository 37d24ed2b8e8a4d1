"""The incident reports' known answers on PostgreSQL: the same data sets and the same expected rows as
tests/reporting (its test functions are called here), so both databases give the same numbers.

PostgreSQL computes the buckets, `Seconds` and the local day numbers with its own functions
(`AT TIME ZONE`, `EXTRACT(EPOCH ...)`, date arithmetic) where SQLite uses Django's: this is where
a difference would show.
"""

import pytest

from reporting import registry
from reporting.params import GROUP_BYS, parse
from tests.reporting import test_backlog, test_sla, test_times, test_volume
from tests.reporting.incident_data import backlog_desk, sla_desk

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_times_and_sla_compliance(django_assert_max_num_queries):
    desk = sla_desk()
    test_times.test_mtta_by_week_across_a_weekend_and_a_holiday(desk, django_assert_max_num_queries)
    test_times.test_mtta_by_day_and_month(desk)
    test_times.test_mttr_by_week_paused_time_and_reopen(desk, django_assert_max_num_queries)
    test_times.test_mttr_counts_the_last_resolution_only(desk)
    for group_by in sorted(test_times.WEEK_OF_DEC_7):
        test_times.test_mttr_grouped(desk, group_by, django_assert_max_num_queries)
    test_times.test_mtta_grouped_by_service(desk)
    test_sla.test_by_day(desk, django_assert_max_num_queries)
    test_sla.test_by_week_and_month(desk)
    test_sla.test_grouped_by_service_and_priority(desk, django_assert_max_num_queries)
    test_sla.test_a_breach_of_a_clock_still_running_counts_when_it_happened(desk)  # last: it sweeps


def test_backlog_and_volume(django_assert_max_num_queries, django_assert_num_queries):
    desk = backlog_desk()
    test_backlog.test_by_day(desk, django_assert_max_num_queries)
    test_backlog.test_by_week_and_month(desk)
    test_backlog.test_grouped_by_assignment_group(desk, django_assert_max_num_queries)
    for interval in ("day", "week", "month"):
        for group_by in (None, *GROUP_BYS):
            test_backlog.test_backlog_is_volumes_backlog(desk, interval, group_by)
    test_backlog.test_ageing_at_a_past_moment(desk, django_assert_num_queries)
    test_backlog.test_ageing_now(desk, django_assert_num_queries)
    test_volume.test_by_day(desk, django_assert_max_num_queries)
    test_volume.test_by_week_and_month(desk)
    test_volume.test_grouped_by_assignment_group(desk, django_assert_max_num_queries)


@pytest.mark.parametrize("name", ["volume", "mtta", "mttr", "sla-compliance", "backlog"])
def test_every_grouping_and_interval_runs(name):
    """Each report with each grouping and interval on an empty year (the SQL of every combination)."""
    report = registry.get(name)
    for interval in ("day", "week", "month"):
        for group_by in (None, *GROUP_BYS):
            query = {"from": "2026-01-01", "to": "2027-01-01", "interval": interval}
            if group_by:
                query["group_by"] = group_by
            rows = report.compute(parse(query))
            assert len(rows) == (0 if group_by else len(parse(query).periods))


def test_local_days_across_daylight_saving(settings, django_assert_num_queries):
    test_backlog.test_days_are_local_across_daylight_saving(settings, django_assert_num_queries)
