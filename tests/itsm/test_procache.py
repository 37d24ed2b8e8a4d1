"""Per-process look-up caches (itsm.procache), the cached token authentication and the throttle."""

import pytest
from django.db import transaction
from freezegun import freeze_time
from rest_framework.authtoken.models import Token

from itsm import procache, roles
from itsm.api.authentication import AUTH_CACHE
from itsm.api.throttling import TokenRateThrottle
from itsm.procache import VersionedCache
from tests.helpers import commit


@pytest.fixture
def counted():
    """A cache and a loader that counts its calls."""
    cache = VersionedCache("test-counted", max_age=60.0, version_ttl=0.0)
    calls = []

    def loader():
        calls.append(1)
        return len(calls)

    yield cache, loader, calls
    procache._instances.remove(cache)


def test_a_value_is_loaded_once_per_version(counted):
    cache, loader, calls = counted
    assert cache.get("k", loader) == 1
    assert cache.get("k", loader) == 1
    cache.bump()  # what another process's commit does
    assert cache.get("k", loader) == 2
    assert len(calls) == 2


def test_a_version_change_seen_in_the_shared_cache_reloads(counted):
    from django.core.cache import cache as shared

    cache, loader, calls = counted
    cache.get("k", loader)
    shared.set(cache.version_key, "set-by-another-process", None)
    assert cache.get("k", loader) == 2


# Serialized rollback like every committing unit test (the status page's browser tests): a plain
# flush would re-run post_migrate, re-creating the role groups under new ids that the next
# serialized test's restore then collides with.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_reloads_after_commit_and_the_changing_transaction_reads_its_own_state(counted):
    cache, loader, calls = counted
    cache.get("k", loader)
    with transaction.atomic():
        cache.changed()
        assert cache.get("k", loader) == 2  # pending bump: straight to the loader, nothing cached
        assert cache.get("k", loader) == 3
    assert cache.get("k", loader) == 4  # the commit bumped the version
    assert cache.get("k", loader) == 4


def test_entries_expire_after_max_age(counted):
    cache, loader, calls = counted
    with freeze_time("2026-01-01 12:00:00") as clock:
        cache.get("k", loader)
        clock.tick(59)
        assert cache.get("k", loader) == 1
        clock.tick(2)
        assert cache.get("k", loader) == 2


def test_a_process_local_cache_outside_tests_is_not_trusted(counted, settings):
    settings.TESTING = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache, loader, calls = counted
    cache.get("k", loader)
    cache.get("k", loader)
    assert len(calls) == 2


# --- cached token authentication ---------------------------------------------------------------
@pytest.fixture
def token_client(api, make_user):
    user = make_user(roles.READ_ONLY)
    token = Token.objects.create(user=user)
    commit()
    client = api.__class__()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, user, token


def test_a_token_is_read_once_then_served_from_the_process(token_client, django_assert_num_queries):
    client, user, token = token_client
    assert client.get("/api/v1/services/").status_code == 200
    with django_assert_num_queries(1):  # the list itself; no token or role query
        assert client.get("/api/v1/services/").status_code == 200


def test_a_revoked_token_is_refused_at_once(token_client):
    client, user, token = token_client
    assert client.get("/api/v1/services/").status_code == 200
    token.delete()
    assert client.get("/api/v1/services/").status_code == 401  # the deleting transaction reads afresh
    commit()
    assert client.get("/api/v1/services/").status_code == 401  # and so does everyone after it


def test_a_deactivated_user_is_refused_at_once(token_client):
    client, user, token = token_client
    assert client.get("/api/v1/services/").status_code == 200
    user.is_active = False
    user.save()
    commit()
    assert client.get("/api/v1/services/").status_code == 401


def test_a_role_change_takes_effect_at_once(api, make_user):
    from django.contrib.auth.models import Group

    user = make_user(roles.INTEGRATION)
    token = Token.objects.create(user=user)
    commit()
    client = api.__class__()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = {"action": "trigger", "summary": "Disk full", "severity": "info", "dedup_key": "r"}
    assert client.post("/api/v1/alerts/", body, format="json").status_code == 202
    user.groups.remove(Group.objects.get(name=roles.INTEGRATION))
    commit()
    assert client.post("/api/v1/alerts/", body, format="json").status_code == 403


def test_each_request_gets_its_own_copy_of_the_user(token_client):
    client, user, token = token_client
    client.get("/api/v1/services/")
    _, first = AUTH_CACHE.get(token.key, lambda: None)  # the cached entry
    from itsm.api.authentication import CachedTokenAuthentication

    a, _ = CachedTokenAuthentication().authenticate_credentials(token.key)
    b, _ = CachedTokenAuthentication().authenticate_credentials(token.key)
    assert a is not b and a is not first and a.pk == b.pk == user.pk  # a copy per request
    a.marker = "set by one request"
    assert not hasattr(b, "marker")


def test_an_unknown_token_is_a_401(api, db):
    client = api.__class__()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/services/").status_code == 401


# --- the sliding-window throttle ---------------------------------------------------------------
@pytest.mark.django_db
def test_the_window_slides_instead_of_resetting(api, reader, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "4/min", "alerts": "100/min"})
    client = api.as_user(reader)
    with freeze_time("2026-01-01 12:00:30") as clock:  # halfway through a window
        assert [client.get("/api/v1/services/").status_code for _ in range(5)] == [200] * 4 + [429]
        clock.tick(40)  # 10 s into the next window: the previous one still weighs 5/6 of 4 (3.33)
        assert client.get("/api/v1/services/").status_code == 200
        refused = client.get("/api/v1/services/")  # 3.33 + 1: at the limit
        assert refused.status_code == 429
        # 4 * (1 - f) + 1 < 4 once f > 1/4 of the window: 15 s in, 5 s from now, rounded up.
        assert refused["Retry-After"] == "6"
        clock.tick(5)
        assert client.get("/api/v1/services/").status_code == 429
        clock.tick(1)
        assert client.get("/api/v1/services/").status_code == 200


@pytest.mark.django_db
def test_refused_requests_do_not_use_up_the_next_window(api, reader, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "2/min", "alerts": "100/min"})
    client = api.as_user(reader)
    with freeze_time("2026-01-01 12:00:00") as clock:
        assert [client.get("/api/v1/services/").status_code for _ in range(10)] == [200, 200] + [429] * 8
        clock.tick(120)  # two windows later nothing of the storm of refusals remains
        assert [client.get("/api/v1/services/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_failing_cache_sends_reads_to_the_loader_and_is_not_asked_again_for_a_second(counted, monkeypatch):
    from itsm import procache as module

    cache, loader, calls = counted
    asked = []

    def broken(*args, **kwargs):
        asked.append(1)
        raise ConnectionError("not Redis")

    monkeypatch.setattr(module.cache, "get", broken)
    with freeze_time("2026-01-01 12:00:00") as clock:
        assert cache.get("k", loader) == 1  # no 500: the loader answers
        assert cache.get("k", loader) == 2
        assert len(asked) == 1  # remembered as unavailable for a second
        clock.tick(2)
        cache.get("k", loader)
        assert len(asked) == 2


def test_a_lost_version_write_is_retried_then_logged(counted, monkeypatch, caplog):
    from itsm import procache as module

    cache, loader, calls = counted
    monkeypatch.setattr(module.cache, "set", lambda *a, **k: None)  # django-redis ignoring an error
    monkeypatch.setattr(module.cache, "get", lambda *a, **k: "old")
    cache.bump()
    assert "Could not store a new version" in caplog.text


def test_unknown_tokens_are_not_kept(api, db):
    client = api.__class__()
    for n in range(5):
        client.credentials(HTTP_AUTHORIZATION=f"Token forged-{n}")
        assert client.get("/api/v1/services/").status_code == 401
    assert not any(key.startswith("forged") for key in AUTH_CACHE._entries)
