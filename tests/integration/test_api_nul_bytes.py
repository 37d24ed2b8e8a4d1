"""On PostgreSQL (which refuses NUL in text), a NUL byte in a query parameter or body is a 400, not a 500."""

import pytest
from rest_framework.authtoken.models import Token

from itsm import roles
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/incidents/",
    "/api/v1/services/",
    "/api/v1/categories/",
    "/api/v1/groups/",
    "/api/v1/calendars/",
    "/api/v1/sla-policies/",
    "/api/v1/users/",
    "/api/v1/notifications/",
    "/api/v1/subscriptions/",
    "/api/v1/webhooks/",
    "/api/v1/notification-rules/",
    "/api/v1/notification-templates/",
]


@pytest.fixture
def auth(make_user):
    ServiceFactory(slug="vpn")
    token, _ = Token.objects.get_or_create(user=make_user(roles.ADMINISTRATOR, roles.SERVICE_DESK_AGENT))
    return f"Token {token.key}"


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query, name", [("service=%00", "service"), ("q=%00", "q"), ("username=a%00", "username")])
def test_nul_in_a_query_parameter_is_400(api, auth, path, query, name):
    response = api.get(f"{path}?{query}", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 400, (path, response.content[:300])
    assert name in response.json()["errors"]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/incidents/", {"title": "a\u0000b"}, "title"),
        ("/api/v1/incidents/", {"title": "ok", "service": "\u0000"}, "service"),
        ("/api/v1/incidents/", {"title": "ok", "tags": ["\u0000"]}, "tags"),
        ("/api/v1/services/", {"slug": "x\u0000", "name": "n"}, "slug"),
        ("/api/v1/alerts/", {"action": "trigger", "summary": "s", "details": {"\u0000": 1}}, "details"),
    ],
)
def test_nul_in_a_json_body_is_400(api, auth, path, body, field):
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["errors"]
