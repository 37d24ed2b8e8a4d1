"""The harness's shared helpers, without PostgreSQL: COPY plans from the models, processes,
profiling tables, report pieces, database names, and the framework ceiling's declaration."""

import dataclasses
import json
import sys
import time
import uuid

import pytest

from bench import db, procs, profiling, report
from bench.bulk import copy_plan
from bench.registry import Scenario, discover


# --- COPY plans: columns from the models ------------------------------------------------------------
def test_copy_plan_takes_columns_from_the_model_and_fills_defaults():
    from incidents.models import TimelineEvent

    plan = copy_plan(TimelineEvent, ["incident", "type", "at", "data"])
    columns = {f.column for f in TimelineEvent._meta.concrete_fields if not f.primary_key}

    assert set(plan.columns) == columns  # every column but the id, whichever the seed filled
    # The given columns come first (in the model's field order, which the seed does not rely on).
    given = {"incident": 7, "type": "created", "at": "2026-01-01T00:00:00Z", "data": "{}"}
    row = plan.row(given)
    assert dict(zip(plan.columns[:4], row[:4], strict=True)) == {
        TimelineEvent._meta.get_field(name).column: value for name, value in given.items()
    }
    assert len(row) == len(plan.columns)


def test_copy_plan_defaults_json_and_blank_and_callables_per_row():
    from communications.models import Notification

    fields = {f.name: f for f in Notification._meta.concrete_fields}
    required = [
        f.name
        for f in fields.values()
        if not (f.primary_key or f.has_default() or f.null or (f.blank and f.empty_strings_allowed))
    ]
    plan = copy_plan(Notification, required)
    first, second = plan.row(dict.fromkeys(required, 1)), plan.row(dict.fromkeys(required, 1))
    by_column = dict(zip(plan.columns, first, strict=True))

    for f in fields.values():
        if f.name in required or f.primary_key:
            continue
        value = by_column[f.column]
        if isinstance(f, type(fields["id"])) or (f.has_default() and not callable(f.default)):
            expected = f.get_default()
            assert value == (json.dumps(expected) if f.get_internal_type() == "JSONField" else expected), f.name
    uuids = [f.column for f in fields.values() if f.has_default() and f.default is uuid.uuid4]
    for column in uuids:  # a callable default is evaluated per row, not once per seed
        i = plan.columns.index(column)
        assert first[i] != second[i]


def test_copy_plan_refuses_unknown_fields_and_required_ones_left_out():
    from incidents.models import Incident

    with pytest.raises(RuntimeError, match="no field"):
        copy_plan(Incident, ["title", "no_such_field"])
    with pytest.raises(RuntimeError, match="required and has no default"):
        copy_plan(Incident, ["title"])  # the number (among others) has no default


def test_copy_plan_accepts_attnames():
    from incidents.models import TimelineEvent

    by_name = copy_plan(TimelineEvent, ["incident", "type", "at", "data"])
    by_attname = copy_plan(TimelineEvent, ["incident_id", "type", "at", "data"])
    assert by_name.columns == by_attname.columns


# --- processes ---------------------------------------------------------------------------------------------
class _Sleeper(procs.Child):
    what = "the sleeper"

    def command(self):
        return [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]

    def ready(self):
        return "up" in self.log_tail()


def test_child_starts_in_its_own_group_and_stops(tmp_path):
    child = _Sleeper(procs.child_env(), tmp_path / "sleeper.log")
    child.start()
    try:
        child.wait_ready(timeout=20)
        assert child.alive()
        assert child.process.pid in procs.group_members(child.process.pid)  # its own group
        assert procs.cpu_seconds(child.process.pid) is not None
    finally:
        child.stop(timeout=5)
    assert not child.alive() and procs.group_members(child.process.pid) == []


def test_child_that_dies_is_an_error_with_its_log(tmp_path):
    class Failing(_Sleeper):
        def command(self):
            return [sys.executable, "-c", "import sys; print('broken config'); sys.exit(3)"]

    child = Failing(procs.child_env(), tmp_path / "failing.log")
    child.start()
    with pytest.raises(db.BenchError, match=r"exited with 3:\n(.|\n)*broken config"):
        child.wait_ready(timeout=20)


def test_run_checked_and_proc_readings():
    assert procs.run_checked([sys.executable, "-c", "print('ok')"], procs.child_env(), 20, "echo").strip() == "ok"
    with pytest.raises(db.BenchError, match="false failed"):
        procs.run_checked([sys.executable, "-c", "raise SystemExit(1)"], procs.child_env(), 20, "false")
    assert 1024 <= procs.free_port() <= 65535
    assert procs.cpu_seconds(999_999_999) is None
    assert procs.children_cpu_seconds(1) >= 0


def test_server_and_worker_environments():
    env = procs.server_env("itsm_bench_x", "k", settings="bench.ceiling.settings")
    assert env["DJANGO_SETTINGS_MODULE"] == "bench.ceiling.settings" and env["DEBUG"] == "false"
    assert env["DATABASE_URL"].endswith("/itsm_bench_x") and "ITSM_TESTING" not in env
    assert env["EXTRA_MIDDLEWARE"] == "bench.middleware.QueryCountMiddleware"
    worker = procs.worker_env("itsm_bench_x", "k", "redis://127.0.0.1:6379/5", NOTIFICATION_DIGEST_THRESHOLD="0")
    assert "EXTRA_MIDDLEWARE" not in worker and "REDIS_URL" not in worker
    assert worker["CELERY_BROKER_URL"].endswith("/5") and worker["EMAIL_URL"] == "dummymail://"
    assert worker["NOTIFICATION_DIGEST_THRESHOLD"] == "0"


def test_celery_worker_command_names_our_pid():
    worker = procs.CeleryWorker({}, procs.ROOT / "x.log", concurrency=2, name="sla-sweep", prefetch=4)
    command = worker.command()
    assert f"--hostname=sla-sweep-{__import__('os').getpid()}@%h" in command
    assert "--concurrency=2" in command and "--prefetch-multiplier=4" in command


def test_scratch_dir_is_removed_unless_the_block_fails(capsys):
    with procs.scratch_dir() as path:
        (path / "log").write_text("x")
    assert not path.exists()
    with pytest.raises(ValueError), procs.scratch_dir() as kept:
        raise ValueError
    assert kept.exists() and str(kept) in capsys.readouterr().err


# --- databases -------------------------------------------------------------------------------------------
def test_database_names_must_say_they_are_the_bench():
    db.check_name("itsm_bench_helper_x")
    for name in ("postgres", "itsm", "itsm_bench; drop", "ITSM_BENCH"):
        with pytest.raises(db.BenchError):
            db.check_name(name)
    assert db.database_url("itsm_bench") == "postgres://postgres@127.0.0.1:5432/itsm_bench"


# --- profiling ---------------------------------------------------------------------------------------------
def test_statement_kinds_and_per_unit_tables():
    queries = [
        {"sql": 'SELECT "a"."id" FROM "incidents_slaclock" WHERE 1 FOR UPDATE', "time": "0.002"},
        {"sql": 'INSERT INTO "communications_notification" ("x") VALUES (1)', "time": "0.001"},
        {"sql": 'UPDATE "incidents_slaclock" SET x = 1', "time": "0.001"},
        {"sql": "SAVEPOINT s1", "time": "0.000"},
    ]
    assert [profiling.statement_kind(q["sql"]) for q in queries] == [
        "SELECT incidents_slaclock FOR UPDATE",
        "INSERT communications_notification",
        "UPDATE incidents_slaclock",
        "SAVEPOINT",
    ]
    table = profiling.statements(queries, 2, "fire")
    assert table["queries_per_fire"] == 2 and table["db_ms_per_fire"] == 2.0
    assert table["statements"][0] == {
        "statement": "SELECT incidents_slaclock FOR UPDATE",
        "per_fire": 0.5,
        "ms_per_fire": 1.0,
    }


def test_profile_areas_top_and_report_lines():
    stats = profiling.profile(lambda n: json.dumps(list(range(n))), [1000] * 20)
    rules = [("json", ("json",)), *profiling.TRAILING_AREAS]
    areas = profiling.areas(stats, 20, rules, "call")
    top = profiling.top(stats, 20, "call", limit=5)

    assert {a["area"] for a in areas} >= {"json"}
    assert round(sum(a["share"] for a in areas)) in (99, 100, 101)
    assert len(top) == 5 and all(
        {"function", "cum_ms_per_call", "own_ms_per_call", "calls_per_call"} <= set(t) for t in top
    )
    lines = profiling.report_lines({"statements": [], "areas": areas, "top_cumulative": top}, "call")
    assert "  own time by area (cProfile, ms per call, share):" in lines and len(lines) == 3 + len(areas) + 5


def test_thin_keeps_one_point_per_interval_and_the_last():
    points = [(t / 2, t) for t in range(30)]
    assert profiling.thin(points, every=5) == [(0.0, 0), (5.0, 10), (10.0, 20), (14.5, 29)]
    assert profiling.thin([]) == []


# --- report pieces -------------------------------------------------------------------------------------------
def test_text_table_aligns_and_conditions_are_recorded(monkeypatch, tmp_path):
    lines = report.text_table([["name", "n"], ["a", "10"], ["long", "2"]], right={1})
    assert lines == ["name   n", "----  --", "a     10", "long   2"]

    monkeypatch.setattr(report.calibrate, "python_ms", lambda: 123.4)
    conditions = report.Conditions()
    time.sleep(0.01)
    results = conditions.results()
    assert results["python_calibration_ms"] == 123.4 and len(results["load_average"]["before"]) == 3
    text = report.conditions_lines(results)
    assert text[0].startswith("Load average (1/5/15 min)") and "took 123.4 ms" in text[1]
    assert report.conditions_lines({}) == []

    path = report.write_json({"when": conditions.started_at}, tmp_path / "out" / "r.json")
    assert json.loads(path.read_text())["when"] == str(conditions.started_at)
    assert report.results_path("sla-sweep-").name.startswith("sla-sweep-")


# --- the framework ceiling ---------------------------------------------------------------------------------
def test_ceiling_steps_carry_the_load_of_the_incident_create_and_list():
    found = discover()
    ceiling, incidents = found["ceiling"], found["incidents"]

    assert ceiling.settings == "bench.ceiling.settings" and incidents.settings is None
    for mine, theirs in (("ceiling-create", "create"), ("ceiling-list", "list")):
        a, b = dataclasses.asdict(ceiling.step(mine)), dataclasses.asdict(incidents.step(theirs))
        different = {k for k in a if a[k] != b[k]}
        assert different <= {"name", "path"}, different
    request = ceiling.step("ceiling-create").build(
        __import__("bench.registry", fromlist=["RequestContext"]).RequestContext(3, 1, 10, {})
    )
    assert request.method == "POST" and request.path == "/api/v1/bench-ceiling/notes/" and request.json["title"]


def test_ceiling_settings_are_the_products_plus_its_app_and_urlconf():
    import importlib

    import itsm.settings as product

    ceiling = importlib.import_module("bench.ceiling.settings")
    names = {n for n in dir(product) if n.isupper()} | {n for n in dir(ceiling) if n.isupper()}
    different = {n for n in names if getattr(product, n, None) != getattr(ceiling, n, None)}

    assert different == {"INSTALLED_APPS", "ROOT_URLCONF"}
    assert ceiling.INSTALLED_APPS == [*product.INSTALLED_APPS, "bench.ceiling.apps.CeilingConfig"]
    assert ceiling.ROOT_URLCONF == "bench.ceiling.urls"


def test_ceiling_urlconf_keeps_every_product_route_first():
    from bench.ceiling import urls
    from itsm import urls as product

    assert urls.urlpatterns[: len(product.urlpatterns)] == product.urlpatterns
    assert len(urls.urlpatterns) == len(product.urlpatterns) + 1
    assert "/" + urls.CEILING_PATH == __import__("bench.scenarios.ceiling", fromlist=["PATH"]).PATH


def test_one_settings_module_per_run():
    from bench.runner import settings_module

    def scenario(settings):
        return Scenario(name="s", default_scale=1, seed=lambda s: None, steps=[], settings=settings)

    assert settings_module([scenario(None)]) == "itsm.settings"
    assert settings_module([scenario(None), scenario("bench.ceiling.settings")]) == "bench.ceiling.settings"
    with pytest.raises(db.BenchError, match="different settings"):
        settings_module([scenario("a.settings"), scenario("b.settings")])


def test_every_kind_of_seeded_clock_fills_the_same_columns():
    """copy_rows refuses a batch whose rows differ in their keys: every clock builder must agree."""
    import random
    from datetime import UTC, datetime, timedelta

    from bench.seeding import incidents as seeding

    now = datetime(2026, 1, 1, tzinfo=UTC)
    start = now - timedelta(days=3)
    target = timedelta(hours=4)
    clocks = [
        seeding._clock(1, 2, "response", target, start, now),
        seeding._clock(1, 2, "response", target, start, now, stop=start + timedelta(hours=1)),
        seeding._clock(1, 2, "resolution", target, start, now, pause=start + timedelta(hours=1)),
        seeding._clock(1, 2, "resolution", target, start, now, stop=now, cancelled=True),
        seeding._due_clock(1, 3, start, now, random.Random(1)),
    ]
    assert len({tuple(sorted(clock)) for clock in clocks}) == 1
