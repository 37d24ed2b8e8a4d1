"""The major incident workbench: rendering, transitions, team, updates, responders, links, timeline,
review, the change list and query counts, all through the Django test client.

Every button posts to its own view, which calls the same `incidents.major` service as the API;
assertions read the database afterwards, and refusals assert that nothing changed.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.major import lifecycle, links, responders, updates
from incidents.major.models import (
    ActionItem,
    MajorIncident,
    MajorIncidentEvent,
    MajorIncidentSettings,
    PostIncidentReview,
    Responder,
    StakeholderUpdate,
)
from incidents.models import Incident, TimelineEvent
from itsm import roles
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/incidents/majorincident/"


def workbench(mi: MajorIncident) -> str:
    return reverse("admin:incidents_majorincident_change", args=[mi.pk])


def button(name: str, mi: MajorIncident, *args) -> str:
    return reverse(f"admin:incidents_majorincident_{name}", args=[mi.pk, *args])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def said(response, fragment: str) -> bool:
    return any(fragment in t for t in texts(response))


@pytest.fixture
def console(client, mim):
    """The test client logged in as a Major Incident Manager."""
    client.force_login(mim)
    return client


@pytest.fixture
def active(mim, service):
    """An active major incident run by `mim`, on `service`."""
    return MajorIncidentFactory(state="active", manager=mim, affected_services=[service], title="Payments down")


@pytest.fixture
def proposed(agent, service):
    """A major incident an agent proposed (through the service), waiting for a MIM."""
    incident = IncidentFactory(actor=agent, service=service, impact=1, urgency=1, title="Checkout fails")
    return lifecycle.propose(actor=agent, incident=incident, reason="Every shop is affected.")


def linked_incidents(mi: MajorIncident, actor, service, n: int) -> list[Incident]:
    incidents = [IncidentFactory(service=service, title=f"User report {i}") for i in range(n)]
    links.link_incidents(mi, actor=actor, incidents=incidents)
    return incidents


# --- the page renders --------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["proposed", "active", "resolved", "in_review", "closed", "rejected"])
def test_workbench_renders_in_each_state(console, mim, service, state):
    mi = MajorIncidentFactory(state=state, manager=mim, affected_services=[service])
    response = console.get(workbench(mi))
    assert response.status_code == 200
    html = response.content.decode()
    assert mi.number in html
    for section in ("workbench-header", "team", "updates", "responders", "linked", "timeline", "impact", "review"):
        assert f'id="{section}"' in html, section


def test_mim_sees_the_buttons_allowed_now(console, active):
    html = console.get(workbench(active)).content.decode()
    assert button("transition", active, "resolve") in html
    assert button("transition", active, "declare") not in html  # not from active
    for form in ("record_form", "update_form", "page_form", "link_form", "review_form", "action_item_form"):
        assert f'id="{form}"' in html, form
    assert 'id="duration-timer"' in html and "data-timer-start" in html
    assert 'id="estimated-cost"' in html and 'id="response-effort-cost"' in html


def test_header_shows_costs_and_the_duration(console, mim, service):
    service.downtime_cost_per_hour = 1200
    service.save()
    started = timezone.now() - timedelta(hours=2)
    mi = MajorIncidentFactory(
        state="active", manager=mim, affected_services=[service], impact_started_at=started, detected_at=started
    )
    html = console.get(workbench(mi)).content.decode()
    assert "2 h" in html
    assert re.search(r'id="estimated-cost">2,40\d\.\d\d<', html)  # 2 h x 1200 per hour (and the seconds since)


def test_proposed_major_incident_offers_declare_and_reject_to_a_mim(console, proposed):
    html = console.get(workbench(proposed)).content.decode()
    assert button("transition", proposed, "declare") in html
    assert button("transition", proposed, "reject") in html
    assert "Every shop is affected." in html


# --- transitions -------------------------------------------------------------------------------------
def test_declare_a_proposed_major_incident(console, proposed):
    response = console.post(button("transition", proposed, "declare"), {"declare-version": proposed.version})
    assert response.status_code == 302
    proposed.refresh_from_db()
    assert proposed.state == "active" and proposed.declared_at is not None
    assert said(response, "Declare done; now Active")


def test_reject_needs_a_reason(console, proposed):
    version = proposed.version
    response = console.post(button("transition", proposed, "reject"), {"reject-version": version, "reject-reason": ""})
    assert response.status_code == 200  # the page again, the reject form open with its error
    assert "This field is required" in response.content.decode()
    proposed.refresh_from_db()
    assert (proposed.state, proposed.version) == ("proposed", version)

    response = console.post(
        button("transition", proposed, "reject"), {"reject-version": version, "reject-reason": "One shop only."}
    )
    assert response.status_code == 302
    proposed.refresh_from_db()
    assert (proposed.state, proposed.rejection_reason) == ("rejected", "One shop only.")


def test_resolve_with_resolve_linked(console, active, mim, service):
    children = linked_incidents(active, mim, service, 2)
    response = console.post(
        button("transition", active, "resolve"),
        {
            "resolve-version": MajorIncident.objects.get(pk=active.pk).version,
            "resolve-resolve_linked": "on",
            "resolve-resolution_code": "workaround",
            "resolve-resolution_notes": "Failed over to the second data centre.",
        },
    )
    assert response.status_code == 302, texts(response)
    active.refresh_from_db()
    assert active.state == "resolved" and active.resolved_at is not None
    for child in [active.incident, *children]:
        child.refresh_from_db()
        assert (child.state, child.resolution_code) == ("resolved", "workaround")


def test_resolve_linked_without_code_names_the_fields_and_changes_nothing(console, active, mim, service):
    children = linked_incidents(active, mim, service, 1)
    version = MajorIncident.objects.get(pk=active.pk).version
    response = console.post(
        button("transition", active, "resolve"), {"resolve-version": version, "resolve-resolve_linked": "on"}
    )
    assert response.status_code == 200
    assert "resolution" in response.content.decode().lower()
    active.refresh_from_db()
    children[0].refresh_from_db()
    assert (active.state, active.version, children[0].state) == ("active", version, "new")


def test_stale_transition_is_refused(console, active, mim):
    old = active.version
    lifecycle.update_major_incident(active, actor=mim, changes={"chat_channel": "#payments"})
    response = console.post(button("transition", active, "resolve"), {"resolve-version": old})
    assert response.status_code == 302
    assert said(response, "changed since you read it")
    active.refresh_from_db()
    assert active.state == "active"


def test_transition_from_the_wrong_state_names_the_state(console, active):
    response = console.post(button("transition", active, "close"), {"close-version": active.version})
    assert said(response, "active")
    active.refresh_from_db()
    assert active.state == "active"


def test_close_without_a_complete_review_lists_what_is_missing(console, mim, service):
    mi = MajorIncidentFactory(state="in_review", manager=mim, affected_services=[service])
    response = console.post(button("transition", mi, "close"), {"close-version": mi.version})
    assert response.status_code in (200, 302)
    page = " ".join(texts(response)) + response.content.decode()
    assert "summary" in page
    mi.refresh_from_db()
    assert mi.state == "in_review"


def test_unknown_transition_is_404(console, active):
    assert console.post(button("transition", active, "explode"), {}).status_code == 404


# --- team and bridge ---------------------------------------------------------------------------------
def record_data(mi: MajorIncident, **overrides) -> dict:
    data = {
        "record-version": mi.version,
        "record-title": mi.title,
        "record-manager": mi.manager_id or "",
        "record-comms_lead": mi.comms_lead_id or "",
        "record-tech_lead": mi.tech_lead_id or "",
        "record-bridge_url": mi.bridge_url,
        "record-chat_channel": mi.chat_channel,
        "record-update_cadence_minutes": mi.update_cadence_minutes,
        "record-affected_services": [s.pk for s in mi.affected_services.all()],
        "record-stakeholders": [u.pk for u in mi.stakeholders.all()],
        "record-impact_summary": mi.impact_summary,
        "record-customers_affected": mi.customers_affected if mi.customers_affected is not None else "",
    }
    data.update({f"record-{k}": v for k, v in overrides.items()})
    return data


def test_team_and_bridge_are_saved_through_the_service(console, active, comms_lead):
    version = active.version
    response = console.post(
        button("record", active),
        record_data(
            active,
            comms_lead=comms_lead.pk,
            bridge_url="https://meet.example.com/mim",
            chat_channel="#pay",
            stakeholders=[comms_lead.pk],
        ),
    )
    assert response.status_code == 302, texts(response)
    active.refresh_from_db()
    assert (active.comms_lead, active.bridge_url, active.chat_channel) == (
        comms_lead,
        "https://meet.example.com/mim",
        "#pay",
    )
    assert active.version > version
    assert list(active.stakeholders.all()) == [comms_lead]
    assert MajorIncidentEvent.objects.filter(major_incident=active, type="role_changed").exists()
    html = console.get(workbench(active)).content.decode()
    assert "Chris Comms" in html and "https://meet.example.com/mim" in html


def test_team_form_with_a_stale_version_is_refused(console, active, mim, comms_lead):
    old = active.version
    lifecycle.update_major_incident(active, actor=mim, changes={"chat_channel": "#first"})
    response = console.post(button("record", active), record_data(active, version=old, chat_channel="#second"))
    assert "changed since you read it" in " ".join(texts(response))
    active.refresh_from_db()
    assert active.chat_channel == "#first"


def test_team_form_names_a_bad_field(console, active):
    version = active.version
    response = console.post(button("record", active), record_data(active, update_cadence_minutes=0))
    assert response.status_code == 200
    active.refresh_from_db()
    assert active.version == version


# --- stakeholder updates -------------------------------------------------------------------------------
def test_post_an_update_and_see_it_listed(client, active, comms_lead):
    MajorIncident.objects.filter(pk=active.pk).update(comms_lead=comms_lead)
    client.force_login(comms_lead)
    response = client.post(
        button("post_update", active),
        {"update-audience": "external", "update-status": "identified", "update-body": "Card payments fail; fix soon."},
    )
    assert response.status_code == 302, texts(response)
    update = StakeholderUpdate.objects.get(major_incident=active)
    assert (update.audience, update.status, update.author) == ("external", "identified", comms_lead)
    active.refresh_from_db()
    assert active.next_update_due_at is not None
    html = client.get(workbench(active)).content.decode()
    assert "Card payments fail; fix soon." in html
    assert 'id="cadence-countdown"' in html and "due in" in html


def test_empty_update_body_is_refused_and_nothing_is_posted(console, active):
    response = console.post(
        button("post_update", active), {"update-audience": "internal", "update-status": "investigating"}
    )
    assert response.status_code == 200
    assert 'id="update_form"' in response.content.decode()
    assert not StakeholderUpdate.objects.filter(major_incident=active).exists()


def test_next_update_in_the_past_is_refused(console, active):
    past = timezone.localtime() - timedelta(hours=1)
    response = console.post(
        button("post_update", active),
        {
            "update-audience": "internal",
            "update-status": "investigating",
            "update-body": "Looking.",
            "update-next_update_due_at": past.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 200
    assert not StakeholderUpdate.objects.filter(major_incident=active).exists()


def test_overdue_countdown_is_red_and_late_updates_say_by_how_much(console, active, mim):
    MajorIncident.objects.filter(pk=active.pk).update(next_update_due_at=timezone.now() - timedelta(minutes=20))
    updates.post_update(
        MajorIncident.objects.get(pk=active.pk), actor=mim, audience="internal", status="investigating", body="Late."
    )
    MajorIncident.objects.filter(pk=active.pk).update(next_update_due_at=timezone.now() - timedelta(minutes=5))
    html = console.get(workbench(active)).content.decode()
    countdown = html[html.index('id="cadence-countdown"') - 200 : html.index('id="cadence-countdown"') + 200]
    assert "text-red-600" in countdown and "overdue by" in html
    assert "late by 20 min" in html
    assert "0 of 1 on time" in html


# --- responders --------------------------------------------------------------------------------------
def test_page_a_person_then_page_again(console, active, make_user):
    engineer = make_user(roles.RESOLVER, first_name="Erin", last_name="Engineer")
    response = console.post(button("page", active), {"page-user": engineer.pk, "page-role": "database"})
    assert response.status_code == 302, texts(response)
    responder = Responder.objects.get(major_incident=active, user=engineer)
    assert (responder.role, responder.page_count) == ("database", 1)
    html = console.get(workbench(active)).content.decode()
    assert "Erin Engineer" in html and button("page_again", active, responder.pk) in html

    response = console.post(button("page_again", active, responder.pk))
    assert response.status_code == 302
    responder.refresh_from_db()
    assert responder.page_count == 2
    assert said(response, "again")


def test_page_a_group_pages_each_active_member(console, active, make_user, group):
    members = [make_user(roles.RESOLVER, groups=[group]) for _ in range(2)]
    response = console.post(button("page", active), {"page-assignment_group": group.pk})
    assert response.status_code == 302, texts(response)
    paged = set(Responder.objects.filter(major_incident=active).values_list("user_id", flat=True))
    assert {m.pk for m in members} <= paged


def test_paging_nobody_names_the_field(console, active):
    response = console.post(button("page", active), {"page-role": "network"})
    assert response.status_code == 200
    assert not Responder.objects.filter(major_incident=active).exists()


def test_a_responder_acknowledges_from_the_workbench(client, active, mim, make_user):
    engineer = make_user(roles.RESOLVER)
    [responder] = responders.page_responders(active, actor=mim, user=engineer)
    client.force_login(engineer)
    html = client.get(workbench(active)).content.decode()
    assert button("acknowledge", active, responder.pk) in html
    assert button("page_again", active, responder.pk) not in html  # not a lead
    response = client.post(button("acknowledge", active, responder.pk))
    assert response.status_code == 302
    responder.refresh_from_db()
    assert responder.acknowledged_at is not None


# --- linked incidents ----------------------------------------------------------------------------------
def test_link_by_number_and_unlink(console, active, agent, service):
    one = IncidentFactory(actor=agent, service=service, title="Cannot pay")
    two = IncidentFactory(actor=agent, service=service, title="Card declined")
    response = console.post(button("link", active), {"link-numbers": f"{one.number}, {int(two.number[3:])}"})
    assert response.status_code == 302, texts(response)
    assert set(Incident.objects.filter(major_incident=active).values_list("pk", flat=True)) >= {one.pk, two.pk}
    html = console.get(workbench(active)).content.decode()
    assert reverse("admin:incidents_incident_change", args=[one.pk]) in html and "Card declined" in html

    response = console.post(button("unlink", active, one.pk))
    assert response.status_code == 302
    one.refresh_from_db()
    assert one.major_incident_id is None
    assert TimelineEvent.objects.filter(incident=one, type="unlinked").exists()


def test_linking_an_unknown_number_links_nothing(console, active, agent, service):
    one = IncidentFactory(actor=agent, service=service)
    response = console.post(button("link", active), {"link-numbers": f"{one.number} INC9999999"})
    assert response.status_code == 200
    assert "INC9999999" in response.content.decode()
    one.refresh_from_db()
    assert one.major_incident_id is None


def test_linked_list_is_capped_and_counted(console, active, mim, service, monkeypatch):
    from incidents.major.admin import workbench as wb

    monkeypatch.setattr(wb, "LINKED_LIMIT", 2)
    linked_incidents(active, mim, service, 3)
    html = console.get(workbench(active)).content.decode()
    assert "Showing the newest 2 of 3" in html
    assert f"major_incident__id__exact={active.pk}" in html


# --- timeline ---------------------------------------------------------------------------------------------
def test_timeline_merges_both_records_and_downloads_as_markdown(console, active, mim, service):
    [child] = linked_incidents(active, mim, service, 1)
    html = console.get(workbench(active)).content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert active.number in timeline and child.number in timeline
    assert "Linked" in timeline

    response = console.get(button("timeline_markdown", active))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert f'filename="{active.number}-timeline.md"' in response["Content-Disposition"]
    body = response.content.decode()
    assert body.startswith(f"## Timeline of {active.number}") and child.number in body


def test_timeline_is_paginated_newest_first(console, active, mim, monkeypatch):
    from incidents.major.admin import workbench as wb

    monkeypatch.setattr(wb, "TIMELINE_PER_PAGE", 2)
    for channel in ("#one", "#two", "#three", "#four"):
        lifecycle.update_major_incident(active, actor=mim, changes={"chat_channel": channel})
    first = console.get(workbench(active)).content.decode()
    assert "#four" in first and "#one" not in first[first.index('id="timeline"') :]
    assert "?tl=2#timeline" in first
    last = console.get(workbench(active) + "?tl=99").content.decode()
    assert 'id="timeline-pages"' in last
    assert console.get(workbench(active) + "?tl=x").status_code == 200


# --- the review --------------------------------------------------------------------------------------------
def test_review_and_action_items(console, mim, service, make_user):
    mi = MajorIncidentFactory(state="resolved", manager=mim, affected_services=[service])
    owner = make_user(roles.RESOLVER, first_name="Olga", last_name="Owner")
    response = console.post(
        button("review", mi),
        {
            "review-summary": "Payments failed for two hours.",
            "review-root_cause": "Expired certificate.",
            "review-lessons_learned": "Monitor certificate expiry.",
        },
    )
    assert response.status_code == 302, texts(response)
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert review.root_cause == "Expired certificate."

    response = console.post(button("add_action_item", mi), {"new-item-title": "Add expiry alert"})
    assert response.status_code == 302, texts(response)
    item = ActionItem.objects.get(review=review)
    html = console.get(workbench(mi)).content.decode()
    assert "has no owner" in html and "Add expiry alert" in html

    response = console.post(
        button("action_item", mi, item.pk),
        {
            f"item-{item.pk}-title": "Add expiry alert",
            f"item-{item.pk}-owner": owner.pk,
            f"item-{item.pk}-due_date": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 302, texts(response)
    item.refresh_from_db()
    assert (item.owner, item.due_date is not None) == (owner, True)
    html = console.get(workbench(mi)).content.decode()
    assert "Complete" in html[html.index('id="review-status"') :][:600]
    response = console.get(button("review_markdown", mi))
    assert response.status_code == 200 and f'filename="{mi.number}-review.md"' in response["Content-Disposition"]
    assert "Expired certificate." in response.content.decode()


def test_review_with_a_stale_version_is_refused(console, mim, service):
    from incidents.major import review as review_service

    mi = MajorIncidentFactory(state="resolved", manager=mim, affected_services=[service])
    review_service.update_review(mi, actor=mim, fields={"summary": "First."})
    response = console.post(button("review", mi), {"review-version": 0, "review-summary": "Second."})
    assert "changed since you read it" in " ".join(texts(response)) + response.content.decode()
    assert PostIncidentReview.objects.get(major_incident=mi).summary == "First."


def test_action_item_owner_must_exist(console, mim, service):
    mi = MajorIncidentFactory(state="resolved", manager=mim, affected_services=[service])
    response = console.post(button("add_action_item", mi), {"new-item-title": "X", "new-item-owner": 999999})
    assert response.status_code == 200
    assert not ActionItem.objects.exists()


# --- query counts -------------------------------------------------------------------------------------------
def big_major_incident(mim, service, linked: int, posted: int, paged: int) -> MajorIncident:
    """A major incident with `linked` incidents, `posted` updates and `paged` responders, stored in bulk."""
    mi = MajorIncidentFactory(state="active", manager=mim, affected_services=[service])
    base = Incident.objects.count()
    Incident.objects.bulk_create(
        [
            Incident(number=f"INC9{base + i:06d}", title=f"Report {i}", priority=3, service=service, major_incident=mi)
            for i in range(linked)
        ]
    )
    now = timezone.now()
    StakeholderUpdate.objects.bulk_create(
        [
            StakeholderUpdate(
                major_incident=mi,
                audience="external" if i % 2 else "internal",
                status="investigating",
                body=f"Update {i}",
                author=mim,
                posted_at=now - timedelta(minutes=posted - i),
                late_seconds=60 * (i % 3),
            )
            for i in range(posted)
        ]
    )
    MajorIncidentEvent.objects.bulk_create(
        [
            # Older than the primary incident's own events, so every page mixes both sources alike.
            MajorIncidentEvent(
                major_incident=mi,
                type="update_posted",
                actor=mim,
                at=now - timedelta(days=1, minutes=i),
                data={"audience": "internal"},
            )
            for i in range(posted)
        ]
    )
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"responder-{mi.pk}-{i}") for i in range(paged)])
    Responder.objects.bulk_create([Responder(major_incident=mi, user=u, paged_at=now, page_count=1) for u in users])
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=now + timedelta(minutes=10))
    return mi


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_workbench_queries_do_not_grow_with_links_and_updates(console, mim, service, django_assert_max_num_queries):
    small = big_major_incident(mim, service, linked=1, posted=1, paged=1)
    large = big_major_incident(mim, service, linked=500, posted=200, paged=10)
    console.get(workbench(small))  # warm the per-process caches (content types, settings)
    assert count_queries(console, workbench(large)) == count_queries(console, workbench(small))
    with django_assert_max_num_queries(25):
        response = console.get(workbench(large))
    html = response.content.decode()
    assert "500 linked besides the primary" in html
    assert "of 200 updates" in html


def test_changelist_queries_do_not_grow(console, mim, service, django_assert_max_num_queries):
    for _ in range(2):
        big_major_incident(mim, service, linked=3, posted=0, paged=0)
    few = count_queries(console, CHANGELIST)
    for _ in range(8):
        big_major_incident(mim, service, linked=3, posted=0, paged=0)
    assert count_queries(console, CHANGELIST) == few
    with django_assert_max_num_queries(20):
        console.get(CHANGELIST)


# --- the change list ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query", ["", "?state__exact=active", "?state__exact=active&state__exact=proposed", "?q=MIM", "?q=payments"]
)
def test_changelist_renders_with_filters_and_search(console, active, query):
    response = console.get(CHANGELIST + query)
    assert response.status_code == 200
    assert active.number in response.content.decode()


def test_changelist_columns_and_service_filter(console, active, mim, service):
    linked_incidents(active, mim, service, 2)
    other = ServiceFactory(name="Email")
    elsewhere = MajorIncidentFactory(state="active", manager=mim, affected_services=[other], title="Mail slow")
    html = console.get(CHANGELIST).content.decode()
    assert "Maya Manager" in html and service.name in html and "Payments down" in html
    html = console.get(f"{CHANGELIST}?affected_services__id__exact={other.pk}").content.decode()
    assert elsewhere.number in html and active.number not in html
    row = console.get(f"{CHANGELIST}?q={active.number}").content.decode()
    assert ">2<" in row.replace(" ", "")  # the linked count (the primary not counted)


def test_no_add_or_delete(console, active):
    assert console.get(f"{CHANGELIST}add/").status_code == 403
    assert console.post(f"{CHANGELIST}{active.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MajorIncident.objects.filter(pk=active.pk).exists()


def test_the_page_itself_takes_no_post(console, active):
    version = active.version
    response = console.post(workbench(active), {"title": "Hijack"})
    assert response.status_code == 302
    active.refresh_from_db()
    assert (active.title, active.version) == ("Payments down", version)


def test_stakeholder_update_log_is_read_only(console, active, mim):
    updates.post_update(active, actor=mim, audience="internal", status="investigating", body="Looking into it.")
    response = console.get("/admin/incidents/stakeholderupdate/")
    assert response.status_code == 200 and "Looking into it." in response.content.decode()
    update = StakeholderUpdate.objects.get()
    assert console.get(f"/admin/incidents/stakeholderupdate/{update.pk}/change/").status_code == 200
    assert console.get("/admin/incidents/stakeholderupdate/add/").status_code == 403


def test_settings_singleton(client, administrator, mim):
    client.force_login(administrator)
    row = MajorIncidentSettings.current()
    url = f"/admin/incidents/majorincidentsettings/{row.pk}/change/"
    assert client.get("/admin/incidents/majorincidentsettings/").status_code == 302
    data = {
        "cadence_p1_minutes": 15,
        "cadence_default_minutes": 45,
        "repage_after_minutes": 3,
        "max_pages": 4,
        "responder_hourly_rate": "120.00",
    }
    assert client.post(url, data).status_code == 302
    row.refresh_from_db()
    assert (row.cadence_p1_minutes, row.max_pages) == (15, 4)
    assert client.get("/admin/incidents/majorincidentsettings/add/").status_code == 403

    client.force_login(mim)
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {**data, "max_pages": 9}).status_code == 403
    row.refresh_from_db()
    assert row.max_pages == 4
