"""The known error database on SQLite: search ranking, suggestions, applying workarounds, deflections."""

import pytest

from incidents import services as incident_services
from itsm.exceptions import Conflict
from problems import kedb, lifecycle
from problems.models import KnownError
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db


def known_error(manager, title, description, service=None, workaround="Reconnect to the second gateway."):
    problem = ProblemFactory(
        title=title, description=description, service=service, state="investigating", owner=manager
    )
    lifecycle.run_transition(problem, "mark_known_error", actor=manager, payload={"workaround": workaround})
    return KnownError.objects.get(problem=problem)


def test_search_ranks_title_above_symptoms(manager):
    in_title = known_error(manager, "VPN tunnel drops every hour", "Sessions end.")
    in_symptoms = known_error(manager, "Gateway firmware fault", "The VPN tunnel disconnects.")
    known_error(manager, "Printer offline", "Paper jam.")
    results = list(kedb.search("vpn tunnel"))
    assert [r.pk for r in results] == [in_title.pk, in_symptoms.pk]
    assert results[0].score > results[1].score > 0


def test_search_filters_by_service(manager, service):
    other = ServiceFactory()
    mine = known_error(manager, "Mail delayed", "Queue backlog.", service=service)
    known_error(manager, "Mail delayed on the relay", "Queue backlog.", service=other)
    assert [r.pk for r in kedb.search("mail", service_ids=[service.pk])] == [mine.pk]


def test_suggestions_put_the_same_service_first(manager, service):
    other = ServiceFactory()
    elsewhere = known_error(manager, "Outlook crashes when opening calendar attachments", "Crash.", service=other)
    here = known_error(manager, "Outlook calendar sync stalls", "Sync stops.", service=service)
    incident = IncidentFactory(title="Outlook crashes opening calendar", service=service)
    assert [k.pk for k in kedb.suggestions(incident)] == [here.pk, elsewhere.pk]


def test_apply_workaround_counts_a_use_and_a_deflection_on_resolve(manager, agent, service):
    article = known_error(manager, "Wi-Fi drops on floor 3", "Disconnects.", service=service)
    incident = IncidentFactory(title="Wi-Fi keeps dropping", service=service)
    kedb.apply_workaround(article, incident, actor=manager)
    assert incident.timeline.filter(type="workaround_applied", data={"known_error": article.pk}).exists()
    article.refresh_from_db()
    assert (article.uses, article.deflections) == (1, 0)
    with pytest.raises(Conflict):
        kedb.apply_workaround(article, incident, actor=manager)
    incident_services.run_transition(
        incident, "resolve", actor=manager, payload={"resolution_code": "workaround", "resolution_notes": "Done."}
    )
    article.refresh_from_db()
    assert (article.uses, article.deflections) == (1, 1)
    incident_services.run_transition(incident, "reopen", actor=manager, payload={"reason": "Back again."})
    article.refresh_from_db()
    assert article.deflections == 0


def test_self_service_fix_is_a_deflection(manager, agent):
    article = known_error(manager, "Password reset mail missing", "No mail.")
    kedb.record_self_service_fix(article, actor=agent)
    article.refresh_from_db()
    assert (article.uses, article.deflections) == (1, 1)
