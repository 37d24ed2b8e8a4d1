"""/api/v1/maintenance-windows/: every endpoint, its 400/403/404/409/412 answers, nothing written on error."""

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from itsm import roles
from status.maintenance import services as maintenance
from status.models import MaintenanceWindow

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
URL = "/api/v1/maintenance-windows/"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(**overrides):
    body = {
        "title": "Upgrade",
        "description": "Read-only.",
        "services": ["payroll"],
        "starts_at": iso(NOW + H),
        "ends_at": iso(NOW + 3 * H),
    }
    body.update(overrides)
    return body


@pytest.fixture
def window(administrator, desk):
    with freeze_time(NOW):
        return maintenance.announce(
            actor=administrator,
            title="Upgrade",
            description="Read-only.",
            services=["payroll"],
            starts_at=NOW + H,
            ends_at=NOW + 3 * H,
        )


def test_create_returns_201_with_the_window_and_an_etag(api, administrator, desk):
    with freeze_time(NOW):
        response = api.as_user(administrator).post(URL, payload(pause_sla=True), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "scheduled" and data["services"] == ["payroll"] and data["pause_sla"] is True
    assert data["announced_at"] == iso(NOW) and data["started_at"] is None
    assert set(data) == {
        "id",
        "title",
        "description",
        "services",
        "starts_at",
        "ends_at",
        "pause_sla",
        "state",
        "announced_at",
        "started_at",
        "completed_at",
        "cancelled_at",
    }
    assert response["ETag"] == '"v1"' and response["Location"].endswith(f"{URL}{data['id']}/")


def test_a_mim_may_create(api, manager, desk):
    with freeze_time(NOW):
        assert api.as_user(manager).post(URL, payload(), format="json").status_code == 201


def test_ending_before_the_start_is_400_naming_ends_at_and_writes_nothing(api, administrator, desk):
    with freeze_time(NOW):
        response = api.as_user(administrator).post(URL, payload(ends_at=iso(NOW + H / 2)), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error" and list(body["errors"]) == ["ends_at"]
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"services": ["nope"]}, "services"),
        ({"services": []}, "services"),
        ({"title": ""}, "title"),
        ({"state": "completed"}, "state"),
        ({"colour": "red"}, "colour"),
        ({"starts_at": "tomorrow"}, "starts_at"),
    ],
)
def test_other_bad_input_is_400_naming_the_field(api, administrator, desk, overrides, field):
    with freeze_time(NOW):
        response = api.as_user(administrator).post(URL, payload(**overrides), format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize("role", [roles.SERVICE_DESK_AGENT, roles.READ_ONLY])
def test_readers_may_not_write(api, make_user, window, role):
    client = api.as_user(make_user(role))
    assert client.get(URL).status_code == 200
    with freeze_time(NOW):
        assert client.post(URL, payload(), format="json").status_code == 403
        assert client.patch(f"{URL}{window.pk}/", {"title": "x"}, format="json").status_code == 403
        response = client.post(f"{URL}{window.pk}/transitions/cancel/", {}, format="json")
    assert response.status_code == 403 and response.json()["type"] == "permission_denied"
    assert MaintenanceWindow.objects.count() == 1


def test_integration_accounts_may_not_read(api, make_user, window):
    assert api.as_user(make_user(roles.INTEGRATION, is_staff=False)).get(URL).status_code == 403


def test_list_filters_and_orders(api, administrator, desk, window):
    with freeze_time(NOW):
        other = maintenance.announce(
            actor=administrator,
            title="Mail",
            description="Mail moves.",
            services=["mail"],
            starts_at=NOW + 10 * H,
            ends_at=NOW + 11 * H,
        )
        maintenance.cancel(other, actor=administrator)
    client = api.as_user(administrator)
    data = client.get(URL).json()
    assert [r["id"] for r in data["results"]] == [window.pk, other.pk] and data["count"] == 2
    assert [r["id"] for r in client.get(f"{URL}?state=cancelled").json()["results"]] == [other.pk]
    assert [r["id"] for r in client.get(f"{URL}?service=payroll").json()["results"]] == [window.pk]
    after = client.get(URL, {"starts_after": iso(NOW + 5 * H)}).json()["results"]
    before = client.get(URL, {"starts_before": iso(NOW + 5 * H)}).json()["results"]
    assert [r["id"] for r in after] == [other.pk] and [r["id"] for r in before] == [window.pk]
    assert [r["id"] for r in client.get(f"{URL}?ordering=-starts_at").json()["results"]] == [other.pk, window.pk]
    assert client.get(f"{URL}?service=nope").status_code == 400
    assert client.get(f"{URL}?state=done").status_code == 400


def test_detail_and_404(api, administrator, window):
    client = api.as_user(administrator)
    response = client.get(f"{URL}{window.pk}/")
    assert response.status_code == 200 and response["ETag"] == '"v1"'
    assert client.get(f"{URL}999999/").status_code == 404
    assert client.patch(f"{URL}999999/", {"title": "x"}, format="json").status_code == 404
    assert client.post(f"{URL}999999/transitions/cancel/", {}, format="json").status_code == 404


def test_patch_with_if_match(api, administrator, window):
    client = api.as_user(administrator)
    with freeze_time(NOW):
        response = client.patch(f"{URL}{window.pk}/", {"title": "Bigger"}, format="json", HTTP_IF_MATCH='"v1"')
        assert response.status_code == 200 and response.json()["title"] == "Bigger" and response["ETag"] == '"v2"'
        stale = client.patch(f"{URL}{window.pk}/", {"title": "Lost"}, format="json", HTTP_IF_MATCH='"v1"')
        assert stale.status_code == 412
        bad = client.patch(f"{URL}{window.pk}/", {"ends_at": iso(NOW)}, format="json")
        assert bad.status_code == 400 and list(bad.json()["errors"]) == ["ends_at"]
        assert client.patch(f"{URL}{window.pk}/", {"state": "completed"}, format="json").status_code == 400
    window.refresh_from_db()
    assert window.title == "Bigger" and window.version == 2


def test_cancel_then_409(api, administrator, window):
    client = api.as_user(administrator)
    with freeze_time(NOW):
        response = client.post(f"{URL}{window.pk}/transitions/cancel/", {"reason": "Postponed"}, format="json")
        assert response.status_code == 200 and response.json()["state"] == "cancelled"
        again = client.post(f"{URL}{window.pk}/transitions/cancel/", {}, format="json")
        assert again.status_code == 409 and again.json()["type"] == "invalid_transition"
        assert client.patch(f"{URL}{window.pk}/", {"title": "x"}, format="json").status_code == 409


def test_cancel_with_a_stale_if_match_is_412(api, administrator, window):
    with freeze_time(NOW):
        response = api.as_user(administrator).post(
            f"{URL}{window.pk}/transitions/cancel/", {}, format="json", HTTP_IF_MATCH='"v9"'
        )
    assert response.status_code == 412
    window.refresh_from_db()
    assert window.state == "scheduled"


def test_idempotency_key_replays_the_create(api, administrator, desk):
    client = api.as_user(administrator)
    with freeze_time(NOW):
        first = client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
        second = client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert MaintenanceWindow.objects.count() == 1


def test_unauthenticated_is_401(api, window):
    assert api.get(URL).status_code == 401
