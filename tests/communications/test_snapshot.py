"""emit() caches its configuration per process; every change reaches the next emit()."""

import pytest
from django.core.cache import cache

from communications import snapshot
from communications.models import Notification, NotificationRule
from communications.services import emit
from tests.communications.factories import NotificationRuleFactory, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db


def recipients(**subject) -> set[str]:
    emitted = emit("incident.created", make_subject(id=Notification.objects.count() + 1, **subject), {})
    return {n.recipient for n in emitted}


def commit_bumps(run: bool = True) -> None:
    """The test's transaction never commits: run (or drop, as another process's) its pending bumps."""
    from django.db import connection

    hooks = [h for h in connection.run_on_commit if getattr(h[1], "owner", None) is snapshot.CONFIG]
    connection.run_on_commit = [h for h in connection.run_on_commit if h not in hooks]
    for _, hook, _ in hooks if run else ():
        hook()
    if not run:
        snapshot.CONFIG.forget_change()


@pytest.fixture
def committed(no_default_rules):
    """Run a block's after-commit hooks (the version bump), as a real commit would."""
    commit_bumps()  # the default rules' deletion

    def run(fn):
        result = fn()
        commit_bumps()
        return result

    return run


def test_cached_emit_query_budget(make_user, group, no_default_rules, committed, django_assert_max_num_queries):
    committed(lambda: NotificationRuleFactory(events=["incident.created"], recipients=["group_members"]))
    committed(lambda: WebhookEndpointFactory(events=["incident.*"]))
    group.members.add(*[make_user() for _ in range(3)])
    emit("incident.created", make_subject(id=1, group_id=group.pk), {})  # loads the configuration
    # group, members, subscriptions, storm control (2), idempotency check, insert, 2 savepoints (x2):
    # no rule, endpoint or template reads (18 statements when they were read on every emit)
    with django_assert_max_num_queries(11):
        rows = emit("incident.created", make_subject(id=2, group_id=group.pk), {})
    assert len(rows) == 4


def test_a_change_takes_effect_on_the_next_emit(make_user, no_default_rules, committed):
    dana, eve = make_user(email="dana@example.com"), make_user(email="eve@example.com")
    rule = committed(lambda: NotificationRuleFactory(events=["incident.created"], recipients=[], users=[dana]))
    assert recipients() == {"dana@example.com"}
    committed(lambda: rule.users.add(eve))  # m2m
    assert recipients() == {"dana@example.com", "eve@example.com"}
    dana.email = "dana@new.example.com"  # users are never cached
    dana.save()
    assert recipients() == {"dana@new.example.com", "eve@example.com"}
    rule.active = False
    committed(rule.save)
    assert recipients() == set()


def test_inside_the_changing_transaction_emit_reads_its_own_state_and_caches_nothing(make_user, committed):
    dana = make_user(email="dana@example.com")
    assert recipients() == set()  # cached: no rules
    version = cache.get(snapshot.CONFIG.version_key)
    NotificationRuleFactory(events=["incident.created"], recipients=[], users=[dana])  # not committed
    assert recipients() == {"dana@example.com"}
    assert cache.get(snapshot.CONFIG.version_key) == version  # nothing bumped before the commit
    cached = snapshot.CONFIG._entries.get("snapshot")
    assert cached is None or cached[1].rules == []


def test_another_process_bumping_the_version_reloads(make_user, no_default_rules, committed):
    dana = make_user(email="dana@example.com")
    assert recipients() == set()
    rule = NotificationRuleFactory(events=["incident.created"], recipients=[], users=[dana])
    commit_bumps(run=False)  # as if another process committed the rule: only the shared version moves
    assert recipients() == set()  # this process still has the old version cached
    cache.set(snapshot.CONFIG.version_key, "from-another-process", None)
    assert recipients() == {"dana@example.com"}
    assert NotificationRule.objects.filter(pk=rule.pk).exists()


def test_without_a_cache_every_emit_reads_the_database(make_user, no_default_rules, committed, monkeypatch):
    dana = make_user(email="dana@example.com")
    from itsm import procache

    monkeypatch.setattr(procache.cache, "get", lambda *a, **k: None)
    monkeypatch.setattr(procache.cache, "add", lambda *a, **k: False)
    assert recipients() == set()
    NotificationRuleFactory(events=["incident.created"], recipients=[], users=[dana])
    commit_bumps(run=False)  # a bump could not be stored anyway
    assert recipients() == {"dana@example.com"}
