"""Problem management on the real stack (PostgreSQL, Redis, a Celery worker, a loopback SMTP sink):
the reactive path end to end, proactive problems from the real beat task (once, not during the
cool-down, once when sweeps race), the major incident hand-off delivered twice, KEDB ranking and
its GIN index."""

import threading
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.db import connection, transaction

from incidents import services as incidents
from incidents.major import lifecycle as major_lifecycle
from incidents.major.models import MajorIncident, PostIncidentReview
from incidents.models import Incident
from itsm import events as domain_events
from itsm import roles
from itsm.models import DomainEvent
from problems import handoff, kedb, lifecycle, trends
from problems.models import KnownError, Problem
from problems.tasks import detect_problem_trends
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory
from tests.helpers import run_in_threads, wait_for
from tests.incidents.factories import factory_actor
from tests.incidents.major.factories import MajorIncidentFactory


@pytest.fixture
def live(transactional_db, worker, smtp):
    smtp.messages.clear()
    return worker


@pytest.fixture
def team(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, email="agent@example.com")
    resolver = make_user(roles.RESOLVER, email="rita@example.com")
    group = AssignmentGroupFactory(name="Network", email="network@example.com", members=[agent, resolver])
    pm = make_user(roles.PROBLEM_MANAGER, email="paula@example.com", groups=[group])
    other_pm = make_user(roles.PROBLEM_MANAGER, email="peter@example.com")
    service = ServiceFactory(slug="vpn", name="VPN", owner_group=group)
    return {"agent": agent, "resolver": resolver, "group": group, "pm": pm, "other_pm": other_pm, "service": service}


def subjects_to(smtp, address: str) -> list[str]:
    parsed = [message_from_bytes(raw) for raw in list(smtp.messages)]
    return [str(make_header(decode_header(m["Subject"]))) for m in parsed if address in (m["To"] or "")]


def mail_to(smtp, address: str, text: str) -> bool:
    return any(text in s for s in subjects_to(smtp, address))


# --- the reactive path --------------------------------------------------------------------------
def test_incident_to_problem_to_known_error_to_deflection_to_fix(live, smtp, team):
    agent, resolver, pm, service = team["agent"], team["resolver"], team["pm"], team["service"]
    reports = [
        incidents.open_incident(
            actor=agent, title=f"VPN tunnel drops every hour ({i})", service=service, assignee=resolver
        )
        for i in range(2)
    ]
    problem = lifecycle.raise_problem(actor=agent, incidents=[i.pk for i in reports], title="VPN tunnel drops hourly")
    assert set(problem.incidents.values_list("pk", flat=True)) == {i.pk for i in reports}
    wait_for(lambda: mail_to(smtp, "peter@example.com", "New problem"))

    lifecycle.run_transition(problem, "investigate", actor=pm, payload={"owner": pm.pk})
    problem = lifecycle.run_transition(
        problem,
        "mark_known_error",
        actor=pm,
        payload={"root_cause": "Gateway session table full.", "workaround": "Reconnect to the second gateway."},
    )
    article = KnownError.objects.get(problem=problem)
    # The workaround reaches the assignee of the linked open incidents; the known error the group.
    wait_for(lambda: mail_to(smtp, "rita@example.com", "Workaround available"))
    wait_for(lambda: mail_to(smtp, "network@example.com", "Known error"))

    fresh = incidents.open_incident(actor=agent, title="VPN tunnel drops after login", service=service)
    assert kedb.suggestions(fresh)[0] == article
    kedb.apply_workaround(article, fresh, actor=resolver)
    assert Incident.objects.get(pk=fresh.pk).problem_id == problem.pk
    # Another caller's incident is resolved with the workaround at once: a deflection.
    quick = incidents.open_incident(actor=agent, title="VPN tunnel drops at night", service=service)
    kedb.apply_workaround(kedb.suggestions(quick)[0], quick, actor=resolver, resolve=True)
    assert Incident.objects.get(pk=quick.pk).resolution_code == "workaround"

    problem = lifecycle.run_transition(
        problem, "resolve", actor=pm, payload={"fix": "Session table doubled.", "resolve_linked": True}
    )
    resolved = Incident.objects.filter(pk__in=[*(i.pk for i in reports), fresh.pk])
    assert {(i.state, i.resolution_code) for i in resolved} == {("resolved", "resolved_by_problem")}
    for incident in resolved:
        assert incident.timeline.filter(type="transition", data__name="resolve").count() == 1
    article.refresh_from_db()
    assert article.uses == 2 and article.deflections == 1  # resolved by the fix is not a deflection
    wait_for(lambda: mail_to(smtp, "network@example.com", "Problem resolved"))


# --- proactive problems -------------------------------------------------------------------------
def seed_cluster(agent, service, category, n=5, title="Cannot log in to the VPN"):
    return [
        incidents.open_incident(actor=agent, title=f"{title} {i}", service=service, category=category) for i in range(n)
    ]


def test_the_beat_task_opens_one_problem_and_respects_the_cool_down(live, smtp, team):
    category = CategoryFactory(name="Login")
    seed_cluster(team["agent"], team["service"], category)

    detect_problem_trends.delay()  # through the broker, run by the real worker
    problem = wait_for(lambda: Problem.objects.filter(source="proactive").first())
    assert problem.cluster_key == f"{team['service'].pk}:{category.pk}" and problem.incidents.count() == 5
    wait_for(lambda: mail_to(smtp, "paula@example.com", "New proactive problem"))

    assert detect_problem_trends() == {"opened": [], "skipped": {}}  # its incidents are covered now
    lifecycle.run_transition(problem, "cancel", actor=team["pm"], payload={"reason": "Expected after the upgrade."})
    seed_cluster(team["agent"], team["service"], category, title="VPN login refused")
    result = detect_problem_trends()
    assert result["opened"] == [] and "cooling down" in result["skipped"][problem.cluster_key]
    assert Problem.objects.filter(source="proactive").count() == 1


def test_racing_sweeps_open_one_problem_per_cluster(transactional_db, team):
    categories = [CategoryFactory(name=f"Cluster {i}") for i in range(3)]
    for category in categories:
        seed_cluster(team["agent"], team["service"], category)

    results = run_in_threads(4, lambda i: trends.detect().opened)

    assert not [r for r in results if isinstance(r, Exception)], results
    opened = [number for numbers in results for number in numbers]
    assert len(opened) == 3 and len(set(opened)) == 3
    assert Problem.objects.filter(source="proactive").count() == 3
    for category in categories:
        (problem,) = Problem.objects.filter(category=category)
        assert problem.incidents.count() == 5


def test_a_sweep_blocked_by_a_rivals_uncommitted_problem_skips_the_cluster(transactional_db, team):
    seed_cluster(team["agent"], team["service"], CategoryFactory(name="Rival"))
    [cluster], _ = trends.find_clusters()
    actor = factory_actor()
    inserted, release = threading.Event(), threading.Event()

    def rival():
        try:
            with transaction.atomic():
                lifecycle.open_problem(actor=actor, title="Rival sweep", cluster_key=cluster.key, source="proactive")
                inserted.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=rival)
    thread.start()
    assert inserted.wait(20)
    threading.Timer(1.0, release.set).start()  # commit while our insert waits on the unique index

    result = trends.detect()
    thread.join(20)

    assert result.opened == [] and result.skipped[cluster.key] == "opened by a concurrent sweep"
    (problem,) = Problem.objects.filter(cluster_key=cluster.key)
    assert problem.title == "Rival sweep" and problem.incidents.count() == 0


# --- the major incident hand-off ----------------------------------------------------------------
def close_major_incident(team):
    primary = incidents.open_incident(actor=team["agent"], title="VPN down everywhere", service=team["service"])
    mi = MajorIncidentFactory(incident=primary, state="in_review")
    PostIncidentReview.objects.update_or_create(
        major_incident=mi,
        defaults={"summary": "VPN down 40 min.", "root_cause": "Expired cert.", "lessons_learned": "Watch expiry."},
    )
    with transaction.atomic():  # as the API runs it; the event is dispatched after commit
        mi = major_lifecycle.run_transition(mi, "close", actor=factory_actor())
    return mi, primary


def test_the_hand_off_delivered_twice_gives_one_problem(live, team):
    mi, primary = close_major_incident(team)

    problem = wait_for(lambda: Problem.objects.filter(source_major_incident=mi).first())
    event = DomainEvent.objects.get(name="major_incident.closed", payload__id=mi.pk)
    wait_for(lambda: DomainEvent.objects.get(pk=event.pk).dispatched_at)
    assert (problem.root_cause, problem.lessons_learned) == ("Expired cert.", "Watch expiry.")
    assert MajorIncident.objects.get(pk=mi.pk).problem_id == problem.pk
    assert Incident.objects.get(pk=primary.pk).problem_id == problem.pk

    with transaction.atomic():
        again = domain_events.publish(event.name, event.payload)  # a duplicate row, through the worker
    wait_for(lambda: DomainEvent.objects.get(pk=again.pk).dispatched_at)
    assert DomainEvent.objects.get(pk=again.pk).last_error == ""
    assert domain_events.dispatch(event.pk) is False
    assert Problem.objects.filter(source_major_incident=mi).count() == 1
    assert Problem.objects.count() == 1


def test_two_deliveries_at_once_give_one_problem(transactional_db, team):
    primary = incidents.open_incident(actor=team["agent"], title="Mail down", service=team["service"])
    mi = MajorIncidentFactory(incident=primary, state="closed")
    payload = {"id": mi.pk, "title": mi.title, "summary": "S", "root_cause": "R", "lessons_learned": "L"}
    payload |= {"incident": primary.pk, "incidents": [primary.pk]}

    results = run_in_threads(3, lambda i: handoff.hand_off(payload))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.opened for r in results) == 1 and sum(r.duplicate for r in results) == 2
    assert Problem.objects.filter(source_major_incident=mi).count() == 1


# --- the known error database on PostgreSQL -----------------------------------------------------
def test_kedb_ranks_title_hits_above_symptom_hits_with_the_gin_index(transactional_db, team):
    pm = team["pm"]

    def publish(title, description):
        problem = lifecycle.open_problem(actor=pm, title=title, description=description)
        lifecycle.run_transition(problem, "investigate", actor=pm, payload={"owner": pm.pk})
        lifecycle.run_transition(problem, "mark_known_error", actor=pm, payload={"workaround": "Reconnect."})
        return KnownError.objects.get(problem=problem)

    in_title = publish("VPN tunnel drops every hour", "Sessions end.")
    in_symptoms = publish("Gateway firmware fault", "The VPN tunnel disconnects.")
    publish("Printer offline", "Paper jam.")
    # Enough other articles that the planner prefers an index to reading the table.
    filler = [Problem(number=f"PRBF{i:06d}", title=f"Filler {i}", state="known_error") for i in range(3000)]
    words = ["printer", "mail", "disk", "backup", "queue", "cache", "dns", "latency", "memory", "proxy"]
    KnownError.objects.bulk_create(
        KnownError(problem=p, title=f"{words[i % 10]} {words[(i * 3) % 10]}", symptoms=words[(i * 7) % 10])
        for i, p in enumerate(Problem.objects.bulk_create(filler))
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE problems_knownerror")

    results = list(kedb.search("vpn tunnel"))
    assert [r.pk for r in results] == [in_title.pk, in_symptoms.pk]
    assert results[0].score > results[1].score > 0
    assert "knownerror_document_gin" in kedb.search("vpn tunnel").explain()
    assert "knownerror_document_gin" in kedb.search("vpn printer", any_word=True).explain()

    # The stored copy the rank reads follows the article (PostgreSQL keeps the generated column).
    lifecycle.update_problem(in_symptoms.problem_id, actor=pm, changes={"title": "VPN tunnel gateway firmware fault"})
    KnownError.objects.filter(pk=in_title.pk).update(symptoms="")
    ranked = list(kedb.search("vpn tunnel"))
    assert {r.pk for r in ranked} == {in_title.pk, in_symptoms.pk} and all(r.score > 0 for r in ranked)
    assert KnownError.objects.get(pk=in_symptoms.pk).title == "VPN tunnel gateway firmware fault"
