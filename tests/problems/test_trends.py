"""Proactive problems: clusters of incidents of one service and category open a problem (trend detection)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from communications.models import Notification
from incidents.models import Incident
from itsm import roles
from problems import lifecycle, trends
from problems.models import Problem, ProblemSettings
from problems.tasks import detect_problem_trends
from tests.factories import CategoryFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def category(db):
    return CategoryFactory(name="Login")


def seed(service, category, n=5, *, title="Cannot log in to the portal", days_ago=1, **fields):
    incidents = [IncidentFactory(title=f"{title} {i}", service=service, category=category, **fields) for i in range(n)]
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(
        opened_at=timezone.now() - timedelta(days=days_ago)
    )
    return incidents


def proactive():
    return list(Problem.objects.filter(source="proactive"))


def test_five_incidents_in_seven_days_open_one_proactive_problem_linking_them(service, category, make_user):
    manager = make_user(roles.PROBLEM_MANAGER, email="pm@example.com")
    incidents = seed(service, category)

    result = detect_problem_trends.delay().get()

    [problem] = proactive()
    assert result["opened"] == [problem.number]
    assert problem.cluster_key == f"{service.pk}:{category.pk}"
    assert problem.title == f"Recurring: {service.name} / Login (5 incidents in 7 days)"
    assert (problem.service, problem.category, problem.state) == (service, category, "new")
    assert problem.created_by.username == "system"
    assert set(problem.incidents.values_list("pk", flat=True)) == {i.pk for i in incidents}
    assert all(i.number in problem.description for i in incidents)
    told = Notification.objects.filter(event="problem.created", subject_id=problem.pk)
    assert manager.email in set(told.values_list("recipient", flat=True))


def test_a_second_run_opens_nothing_and_new_incidents_of_the_cluster_are_not_counted_twice(service, category):
    seed(service, category)
    trends.detect()
    seed(service, category, n=5, title="Login page times out")

    result = trends.detect()

    assert len(proactive()) == 1 and result.opened == []
    assert "covered by" in result.skipped[f"{service.pk}:{category.pk}"]


def test_fewer_than_the_minimum_or_outside_the_window_open_nothing(service, category):
    seed(service, category, n=4)
    seed(service, category, n=3, days_ago=9)

    assert trends.detect().opened == [] and proactive() == []


def test_the_settings_change_the_minimum_and_the_window(service, category):
    ProblemSettings.objects.update_or_create(pk=1, defaults={"cluster_min_incidents": 3, "cluster_window_days": 2})
    seed(service, category, n=3)

    assert len(trends.detect().opened) == 1


def test_clusters_are_per_service_and_category(service, category):
    other = CategoryFactory(name="Printing")
    seed(service, category, n=3)
    seed(service, other, n=3)
    IncidentFactory(service=service, title="No category")

    assert trends.detect().opened == []


def test_incidents_linked_to_an_open_problem_do_not_count(service, category):
    incidents = seed(service, category, n=6)
    problem = ProblemFactory(title="Manual one")
    from problems import links
    from tests.incidents.factories import factory_actor

    links.link_incidents(problem, actor=factory_actor(), incidents=[i.pk for i in incidents[:2]])

    assert trends.detect().opened == []  # 4 uncovered left


def test_an_open_problem_of_the_service_and_category_covers_the_cluster(service, category):
    ProblemFactory(title="Login trouble", service=service, category=category)
    seed(service, category)

    result = trends.detect()

    assert result.opened == [] and "covered by" in result.skipped[f"{service.pk}:{category.pk}"]


def test_cancelled_as_not_a_problem_cools_the_cluster_down(service, category, make_user):
    seed(service, category)
    [problem] = [Problem.objects.get(number=n) for n in trends.detect().opened]
    lifecycle.run_transition(problem, "cancel", actor=make_user(roles.PROBLEM_MANAGER), payload={"reason": "Noise."})
    seed(service, category, n=5, title="Login fails again")

    assert trends.detect().opened == []
    assert "cooling down" in trends.detect().skipped[problem.cluster_key]
    # 30 days after the cancellation the cluster may open a problem again (its incidents are recent).
    later = timezone.now() + timedelta(days=31)
    Incident.objects.filter(service=service).update(opened_at=later - timedelta(days=1))
    assert len(trends.detect(now=later).opened) == 1


def test_cancelled_as_a_duplicate_does_not_cool_down(service, category, make_user):
    seed(service, category)
    [number] = trends.detect().opened
    survivor = ProblemFactory(title="The real one")
    lifecycle.run_transition(
        Problem.objects.get(number=number),
        "cancel",
        actor=make_user(roles.PROBLEM_MANAGER),
        payload={"reason": "Duplicate.", "duplicate_of": survivor.pk},
    )
    # The incidents moved to the survivor; five new ones form the cluster again.
    seed(service, category, n=5)

    assert len(trends.detect().opened) == 1


def test_the_database_refuses_a_second_open_problem_for_one_cluster(service, category):
    from tests.incidents.factories import factory_actor

    lifecycle.open_problem(actor=factory_actor(), title="One", cluster_key="1:2", source="proactive")
    with pytest.raises(IntegrityError):
        lifecycle.open_problem(actor=factory_actor(), title="Two", cluster_key="1:2", source="proactive")


def test_a_racing_sweep_that_loses_the_constraint_skips_the_cluster(service, category, monkeypatch):
    seed(service, category)
    clusters, _ = trends.find_clusters()
    from tests.incidents.factories import factory_actor

    # Another sweep opened the cluster's problem after this one counted.
    lifecycle.open_problem(actor=factory_actor(), title="Other sweep", cluster_key=clusters[0].key, source="proactive")
    monkeypatch.setattr(trends, "find_clusters", lambda now=None, settings=None: (clusters, {}))

    result = trends.detect()

    assert result.opened == [] and result.skipped[clusters[0].key] == "opened by a concurrent sweep"
    assert Problem.objects.filter(cluster_key=clusters[0].key).count() == 1
    assert Incident.objects.filter(problem__isnull=False).count() == 0


def test_the_counting_is_one_aggregate_query(service, category, django_assert_max_num_queries):
    for _ in range(3):
        seed(service, CategoryFactory(), n=2)
    ProblemSettings.current()

    with django_assert_max_num_queries(2):  # the settings row and the aggregate
        clusters, _ = trends.find_clusters()
    assert clusters == []


def test_title_similarity_keeps_the_largest_similar_group(service, category):
    ProblemSettings.objects.update_or_create(
        pk=1, defaults={"cluster_title_similarity": True, "cluster_similarity_threshold": 0.5}
    )
    alike = [
        IncidentFactory(title=title, service=service, category=category)
        for title in (
            "VPN disconnects every hour",
            "VPN disconnects every hour, Berlin office",
            "VPN disconnects every few minutes",
            "VPN disconnects every hour again",
            "VPN keeps disconnects every hour",
        )
    ]
    for title in ("Printer out of toner", "Password expired", "Laptop battery swollen"):
        IncidentFactory(title=title, service=service, category=category)

    [number] = trends.detect().opened

    problem = Problem.objects.get(number=number)
    assert set(problem.incidents.values_list("pk", flat=True)) == {i.pk for i in alike}
    assert "(5 incidents" in problem.title


def test_title_similarity_below_the_minimum_opens_nothing(service, category):
    ProblemSettings.objects.update_or_create(pk=1, defaults={"cluster_title_similarity": True})
    for title in ("VPN down", "Printer jam", "Password expired", "Laptop broken", "Mouse missing"):
        IncidentFactory(title=title, service=service, category=category)

    result = trends.detect()

    assert result.opened == [] and "similar titles" in result.skipped[f"{service.pk}:{category.pk}"]


def test_similar_group_is_jaccard_on_significant_words():
    titles = {1: "vpn drops sessions", 2: "vpn drops sessions overnight", 3: "printer offline", 4: ""}

    assert trends.similar_group(titles, 0.5) == [1, 2]
    assert trends.similar_group(titles, 1.0) == [1]


def test_a_run_is_bounded(service):
    for _ in range(3):
        seed(service, CategoryFactory())

    result = trends.detect(limit=2)

    assert len(result.opened) == 2 and list(result.skipped.values()) == ["left for the next run"]
    assert len(trends.detect(limit=2).opened) == 1


def test_the_beat_schedule_runs_the_sweep_hourly():
    from itsm.celery import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["detect-problem-trends"] == {
        "task": "problems.tasks.detect_problem_trends",
        "schedule": 3600.0,
    }
