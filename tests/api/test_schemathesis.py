"""Schemathesis over every operation of the OpenAPI schema, against the WSGI app, on a seeded database.

All checks but positive-data acceptance (a 400 for a reference to a record that does not exist
is right) run on generated valid and invalid requests for each operation, then a stateful run
follows the schema's links from each create to its detail, sub-resources and transitions.
Examples are limited to keep the run near a minute.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.helpers import openapi_schema

load_all_checks()

pytestmark = pytest.mark.django_db

# Invalid requests may also be refused for their size (413: a body over API_MAX_BODY_BYTES).
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}})
schema = schemathesis.openapi.from_dict(openapi_schema(), config=CONFIG)
schema.app = get_wsgi_application()

EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms(case, seeded):
    case.call_and_validate(headers=seeded, excluded_checks=EXCLUDED)


def test_stateful_links_from_creates(seeded):
    base = schema.as_state_machine()

    class Machine(base):
        def get_call_kwargs(self, case):
            return {"headers": seeded}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            case.validate_response(response, excluded_checks=EXCLUDED, headers=seeded)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
