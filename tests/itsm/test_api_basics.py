import pytest
from django.test import override_settings

from itsm.models import IdempotencyRecord, Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_missing_token_is_401_in_error_shape(api):
    response = api.get("/api/v1/services/")
    assert response.status_code == 401
    assert response.json() == {
        "type": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
        "errors": {},
    }


def test_wrong_token_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Token nope")
    response = api.get("/api/v1/services/")
    assert response.status_code == 401
    assert response.json()["type"] == "authentication_failed"


def test_unknown_api_path_is_json_404(api, reader):
    response = api.as_user(reader).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


def test_unknown_record_is_404(api, reader):
    response = api.as_user(reader).get("/api/v1/services/nope/")
    assert response.status_code == 404
    assert response.json()["errors"] == {}


def test_method_not_allowed_is_405(api, administrator, service):
    response = api.as_user(administrator).delete(f"/api/v1/services/{service.slug}/")
    assert response.status_code == 405
    assert response.json()["type"] == "method_not_allowed"


def test_non_json_body_is_400_or_415(api, administrator):
    client = api.as_user(administrator)
    bad_json = client.generic("POST", "/api/v1/services/", "{not json", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json()["type"] == "parse_error"
    form = client.generic("POST", "/api/v1/services/", "a=b", content_type="text/plain")
    assert form.status_code == 415 and form.json()["type"] == "unsupported_media_type"


def test_body_not_an_object_is_400(api, administrator):
    response = api.as_user(administrator).post("/api/v1/services/", [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


@override_settings(API_MAX_BODY_BYTES=1000)
def test_body_over_limit_is_413(api, administrator):
    response = api.as_user(administrator).post(
        "/api/v1/services/", {"slug": "big", "name": "x", "description": "y" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["type"] == "payload_too_large"
    assert not Service.objects.filter(slug="big").exists()


def test_idempotency_key_replays_first_response(api, administrator):
    client = api.as_user(administrator)
    payload = {"slug": "vpn", "name": "VPN"}
    first = client.post("/api/v1/services/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post("/api/v1/services/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Service.objects.filter(slug="vpn").count() == 1


def test_idempotency_key_with_other_body_is_409(api, administrator):
    client = api.as_user(administrator)
    client.post("/api/v1/services/", {"slug": "a", "name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = client.post("/api/v1/services/", {"slug": "b", "name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409
    assert not Service.objects.filter(slug="b").exists()


def test_failed_create_does_not_burn_the_key(api, administrator):
    client = api.as_user(administrator)
    bad = client.post("/api/v1/services/", {"slug": "bad slug"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="k-3").exists()


def test_etag_and_if_match(api, administrator):
    service = ServiceFactory(slug="mail")
    client = api.as_user(administrator)
    etag = client.get("/api/v1/services/mail/")["ETag"]
    assert etag
    ok = client.patch("/api/v1/services/mail/", {"name": "Mail"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    assert ok["ETag"] != etag
    stale = client.patch("/api/v1/services/mail/", {"name": "Stale"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["type"] == "precondition_failed"
    service.refresh_from_db()
    assert service.name == "Mail"


def test_throttling_per_token_with_retry_after(api, reader, make_user, monkeypatch):
    from itsm.api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min", "alerts": "100/min"})
    client = api.as_user(reader)
    codes = [client.get("/api/v1/services/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/services/")
    assert limited.json()["type"] == "throttled"
    assert int(limited["Retry-After"]) >= 1
    # the bucket is per token: another user is not affected
    assert api.as_user(make_user()).get("/api/v1/services/").status_code == 200


def test_schema_and_docs_served(api, reader):
    client = api.as_user(reader)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/services/" in schema.json()["paths"]
    assert "Error" in schema.json()["components"]["schemas"]
    assert client.get("/api/docs/").status_code == 200


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_the_broker_when_down(client, monkeypatch):
    from itsm import health

    monkeypatch.setattr(health, "_check_broker", lambda: "broker unreachable: ConnectionRefusedError")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("broker unreachable")
    assert response.json()["checks"]["database"] == "ok"
