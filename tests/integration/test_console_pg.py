"""The console's dashboard and report pages on PostgreSQL: the same tests as on SQLite.

The widgets use window counts (`COUNT(*) OVER ()`), `COUNT(DISTINCT ...) FILTER`, `NULLS LAST`
orderings and the admin's `__in` lookups; these run the console tests' known answers on the
real database.
"""

import pytest

from tests.reporting.console.conftest import desk, stand_ins  # noqa: F401 - fixtures
from tests.reporting.console.test_dashboard import (  # noqa: F401 - collected here too
    tasks,
    test_a_groups_manager_sees_the_charts_each_linking_to_its_report_with_the_same_parameters,
    test_an_agent_sees_their_work_and_every_number_is_the_list_it_links_to,
    test_open_problems_and_known_errors_by_deflections_link_to_their_lists,
    test_the_dashboard_takes_a_fixed_number_of_queries_whatever_the_data,
)
from tests.reporting.console.test_report_pages import (  # noqa: F401 - collected here too
    agent_client,
    test_a_report_page_shows_the_apis_rows,
    test_bad_input_shows_the_apis_messages_on_the_page_with_a_400,
)

pytestmark = pytest.mark.integration
