"""Schemathesis over the review operations against a real major incident in review.

tests/api fuzzes every operation on a database without major incidents (every review call is a
404 there); here the `mi` and `item_id` path parameters name a seeded record and item, so the
generated bodies, headers and queries reach the views and services. Checked: no 500, statuses,
content types, headers and bodies as the schema documents them (the Markdown export included).
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from incidents.major.models import ActionItem, PostIncidentReview
from itsm import roles
from tests.helpers import openapi_schema
from tests.incidents.major.factories import MajorIncidentFactory

load_all_checks()

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(openapi_schema()).include(path_regex="/review/")
schema.app = get_wsgi_application()

# Path parameters are replaced by real ones below, so generated "invalid" ids may turn valid.
EXCLUDED = [positive_data_acceptance, negative_data_rejection]


@pytest.fixture
def target(make_user):
    manager = make_user(roles.MAJOR_INCIDENT_MANAGER, username="fuzz-mim")
    mi = MajorIncidentFactory(state="in_review", manager=manager)
    review = PostIncidentReview.objects.create(major_incident=mi, summary="s")
    item = ActionItem.objects.create(review=review, title="Alert on expiry", owner=manager)
    token, _ = Token.objects.get_or_create(user=manager)
    return {"mi": str(mi.pk), "item_id": item.pk, "headers": {"Authorization": f"Token {token.key}"}}


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_review_operations_conform(case, target):
    case.path_parameters = {**(case.path_parameters or {}), "mi": target["mi"]}
    if "item_id" in case.path_parameters:
        case.path_parameters["item_id"] = target["item_id"]
    case.call_and_validate(headers=target["headers"], excluded_checks=EXCLUDED)
