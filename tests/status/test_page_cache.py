"""The cached page and feed: no query when warm; invalidated after commit by what they show; TTL."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from incidents.major import lifecycle, updates
from status.models import MaintenanceWindow, StatusPageEntry, StatusPageGroup
from status.page import cache
from tests.factories import ServiceFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db


def html(client) -> str:
    return client.get("/status/").content.decode()


@pytest.mark.parametrize("url", ["/status/", "/status/feed.atom"])
def test_a_warm_request_runs_no_database_query(client, outage, django_assert_num_queries, url):
    first = client.get(url)
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.status_code == 200 and again.content == first.content
    assert "Cookie" not in again.get("Vary", "") and not again.cookies


def test_posting_an_external_update_invalidates_after_commit(client, outage, mim, django_capture_on_commit_callbacks):
    assert "We found the cause" not in html(client)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        updates.post_update(outage, actor=mim, audience="external", status="identified", body="We found the cause.")
    assert "We found the cause" not in html(client)  # not committed yet: still the cached copy
    for callback in callbacks:
        callback()
    assert "We found the cause" in html(client)
    feed = client.get("/status/feed.atom").content.decode()
    assert "We found the cause" in feed


def test_an_internal_update_leaves_the_cache_alone(client, outage, mim, django_capture_on_commit_callbacks):
    html(client)
    with mock.patch.object(cache, "invalidate") as invalidate, django_capture_on_commit_callbacks(execute=True):
        updates.post_update(outage, actor=mim, audience="internal", status="identified", body="Pool restarted.")
    # The record's next_update_due_at changed (it is shown), the internal update itself is not.
    assert invalidate.call_count == 1


def test_a_state_change_invalidates(client, outage, mim, django_capture_on_commit_callbacks):
    assert "Current incidents" in html(client)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.run_transition(outage, "resolve", actor=mim, payload={"resolution_notes": "Fixed."})
    text = html(client)
    assert "Current incidents" not in text and "All systems operational" in text


@pytest.mark.parametrize("change", ["public", "status_level", "title", "services"])
def test_record_changes_shown_on_the_page_invalidate(client, outage, django_capture_on_commit_callbacks, change):
    html(client)
    with django_capture_on_commit_callbacks(execute=True):
        if change == "public":
            outage.public = False
            outage.save(update_fields=["public"])
        elif change == "status_level":
            outage.status_level = "degraded"
            outage.save(update_fields=["status_level"])
        elif change == "title":
            outage.title = "Payroll slow"
            outage.save(update_fields=["title"])
        else:
            outage.affected_services.set([ServiceFactory(name="Fresh service")])
    text = html(client)
    expected = {
        "public": "All systems operational" in text,
        "status_level": "Degraded performance" in text,
        "title": "Payroll slow" in text,
        "services": "Fresh service" in text,
    }
    assert expected[change]


def test_bookkeeping_saves_of_a_record_do_not_invalidate(outage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        outage.update_reminded_for = timezone.now()
        outage.save(update_fields=["update_reminded_for"])
    assert callbacks == []


def test_layout_and_maintenance_changes_invalidate(client, payroll, django_capture_on_commit_callbacks):
    html(client)
    with django_capture_on_commit_callbacks(execute=True):
        entry = StatusPageEntry.objects.get(service=payroll)
        entry.public_name = "Pay"
        entry.save()
    assert ">Pay<" in html(client)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        window = MaintenanceWindow.objects.create(
            title="Upgrade tonight",
            description="Read-only.",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
        )
    assert "Upgrade tonight" in html(client)
    with django_capture_on_commit_callbacks(execute=True):
        window.services.set([payroll])
    assert "Upgrade tonight" in html(client) and "Pay" in html(client)


def test_invalidate_serves_a_fresh_copy_even_if_a_build_overlapped_it(client, payroll):
    html(client)
    cache.invalidate()
    StatusPageEntry.objects.filter(service=payroll).update(public_name="Renamed quietly")  # no signal
    assert "Renamed quietly" in html(client)  # the generation moved on: rebuilt


def test_freshness_ends_with_the_ttl(client, payroll):
    with mock.patch("status.page.cache.time.time", return_value=1_000_000.0):
        html(client)
        StatusPageEntry.objects.filter(service=payroll).update(public_name="Silently renamed")
        assert "Silently renamed" not in html(client)
    with mock.patch("status.page.cache.time.time", return_value=1_000_000.0 + cache.TTL + 1):
        assert "Silently renamed" in html(client)


def test_the_ttl_never_outlives_the_next_maintenance_start_or_end():
    now = timezone.now()
    assert cache.ttl_for(now, None) == cache.TTL
    assert cache.ttl_for(now, now + timedelta(seconds=12)) == 12
    assert cache.ttl_for(now, now + timedelta(hours=1)) == cache.TTL
    assert cache.ttl_for(now, now - timedelta(seconds=5)) == 0


def test_a_stale_copy_is_served_while_another_request_rebuilds(client, payroll):
    first = html(client)
    cache.invalidate()
    from django.core.cache import cache as django_cache

    generation = django_cache.get(cache.GENERATION)
    assert django_cache.add(f"{cache.PREFIX}html:lock:{generation}", 1, 10)  # someone else is rebuilding
    StatusPageEntry.objects.filter(service=payroll).update(public_name="Renamed")
    assert html(client) == first
    django_cache.delete(f"{cache.PREFIX}html:lock:{generation}")
    assert "Renamed" in html(client)


def test_a_group_rename_invalidates(client, payroll, django_capture_on_commit_callbacks):
    html(client)
    with django_capture_on_commit_callbacks(execute=True):
        group = StatusPageGroup.objects.get(name="Business applications")
        group.name = "Money"
        group.save()
    assert "Money" in html(client)


def test_a_priority_change_of_the_primary_incident_invalidates(client, payroll, django_capture_on_commit_callbacks):
    mi = MajorIncidentFactory(affected_services=[payroll])
    assert 'data-level="major_outage"' in html(client)
    with django_capture_on_commit_callbacks(execute=True):
        incident = mi.incident
        incident.urgency = 3
        incident.impact = 3
        incident.priority = 4
        incident.save(update_fields=["impact", "urgency", "priority"])
    assert 'data-level="degraded"' in html(client)
