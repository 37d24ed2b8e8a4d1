"""The post-incident review: reading, writing (states, permissions, versions), completeness, pre-fill."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.major import review
from incidents.major.models import ActionItem, MajorIncidentEvent, PostIncidentReview
from itsm import roles
from itsm.exceptions import Conflict, StaleRecord
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

SECTIONS = {
    "summary": "Payroll was down for two hours.",
    "root_cause": "An expired certificate on the database proxy.",
    "contributing_factors": "No expiry monitoring.",
    "went_well": "Fast declaration.",
    "went_badly": "Late first update.",
    "lessons_learned": "Monitor certificate expiry.",
}


@pytest.fixture
def tech_lead(make_user):
    return make_user(roles.RESOLVER, first_name="Tara", last_name="Tech")


@pytest.fixture
def mi(mim, comms_lead, tech_lead):
    """A major incident in review with its three leads named."""
    return MajorIncidentFactory(state="in_review", manager=mim, comms_lead=comms_lead, tech_lead=tech_lead)


def review_events(mi):
    return list(
        MajorIncidentEvent.objects.filter(major_incident=mi, type="review_changed").values_list("data", flat=True)
    )


def snapshot(mi):
    """What a refused call must leave as it was."""
    stored = PostIncidentReview.objects.filter(major_incident=mi).values(*SECTIONS, "timeline_markdown", "version")
    return list(stored), MajorIncidentEvent.objects.filter(major_incident=mi).count()


@pytest.mark.parametrize("state", ["proposed", "active", "resolved", "in_review", "closed", "rejected"])
def test_get_review_creates_it_once_in_any_state(state):
    mi = MajorIncidentFactory(state=state)
    first = review.get_review(mi)
    assert review.get_review(mi).pk == first.pk
    assert PostIncidentReview.objects.filter(major_incident=mi).count() == 1
    assert first.version == 1 and first.summary == ""


def test_update_review_sets_the_sections_bumps_the_version_and_writes_the_timeline(mi, mim):
    updated = review.update_review(mi, actor=mim, fields=SECTIONS, expected_version=1)
    stored = PostIncidentReview.objects.get(pk=updated.pk)
    assert {name: getattr(stored, name) for name in SECTIONS} == SECTIONS
    assert stored.version == 2 and stored.updated_by == mim
    assert review_events(mi) == [{"fields": list(SECTIONS)}]
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="review_changed")
    assert event.actor == mim


def test_update_review_names_only_what_changed_and_an_identical_put_writes_nothing(mi, mim):
    review.update_review(mi, actor=mim, fields=SECTIONS)
    again = review.update_review(mi, actor=mim, fields={**SECTIONS, "went_badly": "Late updates."})
    assert again.version == 3
    assert review_events(mi)[-1] == {"fields": ["went_badly"]}
    before = snapshot(mi)
    same = review.update_review(mi, actor=mim, fields={**SECTIONS, "went_badly": "Late updates."})
    assert same.version == 3 and snapshot(mi) == before


def test_timeline_markdown_is_editable(mi, mim):
    review.update_review(mi, actor=mim, fields={"timeline_markdown": "| t | edited |"})
    assert PostIncidentReview.objects.get(major_incident=mi).timeline_markdown == "| t | edited |"
    assert review_events(mi) == [{"fields": ["timeline_markdown"]}]


def test_bad_input_is_400_naming_every_field_and_writes_nothing(mi, mim):
    review.get_review(mi)
    before = snapshot(mi)
    fields = {"summary": 12, "root_cause": "x" * (review.MAX_TEXT + 1), "state": "closed", "lessons_learned": "ok"}
    with pytest.raises(ValidationError) as caught:
        review.update_review(mi, actor=mim, fields=fields)
    assert set(caught.value.message_dict) == {"summary", "root_cause", "state"}
    assert caught.value.message_dict["state"] == ["Unknown field."]
    assert snapshot(mi) == before


@pytest.mark.parametrize("state", ["active", "resolved", "in_review"])
def test_the_review_is_written_while_active_resolved_or_in_review(state, mim):
    mi = MajorIncidentFactory(state=state, manager=mim)
    assert review.update_review(mi, actor=mim, fields={"summary": "Preliminary."}).summary == "Preliminary."


@pytest.mark.parametrize("state", ["proposed", "closed", "rejected"])
def test_a_proposed_closed_or_rejected_record_is_409_naming_its_state(state, mim):
    mi = MajorIncidentFactory(state=state, manager=mim)
    review.get_review(mi)
    before = snapshot(mi)
    with pytest.raises(Conflict) as caught:
        review.update_review(mi, actor=mim, fields={"summary": "Too late."})
    assert caught.value.errors == {"state": [f"The major incident is {state}."]}
    assert mi.number in caught.value.detail
    assert snapshot(mi) == before


def test_a_stale_version_is_412_and_writes_nothing(mi, mim):
    review.update_review(mi, actor=mim, fields={"summary": "v2"})
    before = snapshot(mi)
    with pytest.raises(StaleRecord) as caught:
        review.update_review(mi, actor=mim, fields={"summary": "lost update"}, expected_version=1)
    assert "version 2" in caught.value.detail
    assert snapshot(mi) == before


@pytest.mark.parametrize("who", ["mim", "administrator", "manager", "comms_lead", "tech_lead"])
def test_managers_and_the_records_leads_write_the_review(who, request, make_user, comms_lead, tech_lead):
    manager = make_user(roles.SERVICE_DESK_AGENT)  # named manager without the role
    mi = MajorIncidentFactory(state="resolved", manager=manager, comms_lead=comms_lead, tech_lead=tech_lead)
    actor = {"manager": manager, "comms_lead": comms_lead, "tech_lead": tech_lead}.get(who) or request.getfixturevalue(
        who
    )
    assert review.update_review(mi, actor=actor, fields={"summary": who}).summary == who


@pytest.mark.parametrize("who", ["agent", "reader"])
def test_anyone_else_is_403_and_nothing_is_written(who, request, mi):
    review.get_review(mi)
    before = snapshot(mi)
    with pytest.raises(PermissionDenied):
        review.update_review(mi, actor=request.getfixturevalue(who), fields={"summary": "Mine now."})
    assert snapshot(mi) == before


def test_completeness_lists_what_is_missing(mi, mim):
    current = review.get_review(mi)
    assert current.missing() == ["summary is empty", "root_cause is empty", "lessons_learned is empty"]
    review.update_review(mi, actor=mim, fields={"summary": "s", "root_cause": "  ", "lessons_learned": "l"})
    assert review.get_review(mi).missing() == ["root_cause is empty"]
    review.update_review(mi, actor=mim, fields={"root_cause": "r"})
    item = review.add_action_item(mi, actor=mim, title="Alert on expiry")
    assert review.get_review(mi).missing() == [
        f"action item {item.pk} (Alert on expiry) has no owner",
        f"action item {item.pk} (Alert on expiry) has no due date",
    ]
    review.update_action_item(item, actor=mim, changes={"owner": mim, "due_date": "2030-01-31"})
    assert review.get_review(mi).missing() == []


def test_prefill_fills_the_timeline_and_keeps_what_people_wrote(mi, mim):
    review.update_review(mi, actor=mim, fields={"summary": "Written before the review started."})
    review.add_action_item(mi, actor=mim, title="Keep me")
    prefilled = review.prefill_review(mi)
    assert prefilled.timeline_markdown.startswith(f"## Timeline of {mi.number}")
    assert prefilled.summary == "Written before the review started."
    assert ActionItem.objects.filter(review=prefilled).count() == 1
    assert review_events(mi)[-1] == {"fields": ["timeline_markdown"], "prefilled": True}
    assert MajorIncidentEvent.objects.filter(major_incident=mi).last().actor is None
    # Review edits are not part of the timeline it shows: pre-filling again changes nothing.
    version, count = prefilled.version, MajorIncidentEvent.objects.filter(major_incident=mi).count()
    assert review.prefill_review(mi).version == version
    assert MajorIncidentEvent.objects.filter(major_incident=mi).count() == count


def test_prefill_creates_the_review_when_there_is_none():
    mi = MajorIncidentFactory(state="in_review")
    prefilled = review.prefill_review(mi.pk)
    assert prefilled.pk and prefilled.version == 2 and "| time (UTC) |" in prefilled.timeline_markdown
