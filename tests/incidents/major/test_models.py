"""The major incident record: numbering, the one-per-primary constraint, the FSM, review completeness."""

import pytest
from django.db import IntegrityError, transaction
from django_fsm import TransitionNotAllowed

from incidents.major.models import ActionItem, PostIncidentReview
from incidents.models import Incident
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db


def test_number_and_primary_link():
    mi = MajorIncidentFactory()
    assert mi.number.startswith("MIM") and len(mi.number) == 10
    assert Incident.objects.get(pk=mi.incident_id).major_incident_id == mi.pk


def test_second_live_major_incident_for_the_same_incident_is_refused():
    mi = MajorIncidentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MajorIncidentFactory(incident=mi.incident)


def test_a_rejected_proposal_frees_the_incident():
    rejected = MajorIncidentFactory(state="rejected")
    again = MajorIncidentFactory(incident=rejected.incident, state="proposed")
    assert again.pk != rejected.pk


def test_state_is_protected_and_close_needs_a_complete_review(mim):
    mi = MajorIncidentFactory(state="in_review")
    with pytest.raises(AttributeError):
        mi.state = "closed"
    with pytest.raises(TransitionNotAllowed):
        mi.close()
    review = PostIncidentReview.objects.create(major_incident=mi, summary="s", root_cause="r")
    assert review.missing() == ["lessons_learned is empty"]
    review.lessons_learned = "l"
    review.save()
    item = ActionItem.objects.create(review=review, title="Add an alert")
    assert review.missing() == [
        f"action item {item.pk} (Add an alert) has no owner",
        f"action item {item.pk} (Add an alert) has no due date",
    ]
    ActionItem.objects.filter(pk=item.pk).update(owner=mim, due_date="2027-01-01")
    mi = type(mi).objects.get(pk=mi.pk)
    mi.close()
    assert mi.state == "closed" and mi.closed_at is not None
