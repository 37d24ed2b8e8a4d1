"""itsm.api.filters.FilterBackend: the FilterSet is built only when a parameter names a filter."""

import django_filters
import pytest
from django import forms
from rest_framework.test import APIRequestFactory

from incidents import services
from incidents.filters import IncidentFilterSet
from incidents.models import Incident
from itsm import roles
from itsm.api.filters import FilterBackend, _names_a_filter
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Service Desk", members=[agent])
    service = ServiceFactory(slug="vpn", owner_group=group)
    first = services.open_incident(actor=agent, title="alpha", impact=1, urgency=1, service=service)
    second = services.open_incident(actor=agent, title="beta", impact=3, urgency=3, service=service, channel="email")
    return agent, first, second


@pytest.fixture
def built(monkeypatch):
    """How many IncidentFilterSets were built."""
    count = []
    original = IncidentFilterSet.__init__

    def counting(self, *args, **kwargs):
        count.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(IncidentFilterSet, "__init__", counting)
    return count


@pytest.mark.parametrize(
    ("query", "builds"),
    [
        ("", False),
        ("page_size=10", False),
        ("ordering=-opened_at&cursor=", False),
        ("unknown=1", False),  # unknown parameters were ignored before too
        ("state=new", True),
        ("opened_after=2000-01-01T00:00:00Z", True),
        ("q=alp", True),
        ("state=", True),  # an empty filter value still goes through the FilterSet
    ],
)
def test_the_filterset_is_built_only_for_filter_parameters(api, desk, built, query, builds):
    agent, first, second = desk
    response = api.as_user(agent).get(f"/api/v1/incidents/?{query}")
    assert response.status_code == 200, response.json()
    assert bool(built) is builds
    if not builds:
        assert [row["number"] for row in response.json()["results"]] == [second.number, first.number]


def test_skipping_returns_what_the_filterset_returns(desk):
    """Unfiltered: the same rows as django-filter's own backend; filtered: the FilterSet decides."""
    agent, first, second = desk
    backend = FilterBackend()

    class View:
        filterset_class = IncidentFilterSet

    factory = APIRequestFactory()
    for query, expected in (("", [first.pk, second.pk]), ("?state=new&channel=email", [second.pk])):
        request = factory.get(f"/api/v1/incidents/{query}")
        request.query_params = request.GET
        request.user = agent
        queryset = backend.filter_queryset(request, Incident.objects.order_by("id"), View())
        assert list(queryset.values_list("pk", flat=True)) == expected
        reference = IncidentFilterSet(request.GET, queryset=Incident.objects.order_by("id"), request=request).qs
        assert list(queryset.values_list("pk", flat=True)) == list(reference.values_list("pk", flat=True))


def test_suffixed_parameters_required_filters_and_own_forms_are_never_skipped():
    class Ranged(django_filters.FilterSet):
        opened = django_filters.DateFromToRangeFilter(field_name="opened_at")

        class Meta:
            model = Incident
            fields: list[str] = []

    assert _names_a_filter({"opened_after": "2026-01-01"}, Ranged)
    assert not _names_a_filter({"page_size": "5"}, Ranged)

    class Required(Ranged):
        title = django_filters.CharFilter(required=True)

    assert _names_a_filter({}, Required)

    class CheckedForm(forms.Form):
        pass

    class WithForm(Ranged):
        class Meta(Ranged.Meta):
            form = CheckedForm

    assert _names_a_filter({}, WithForm)
