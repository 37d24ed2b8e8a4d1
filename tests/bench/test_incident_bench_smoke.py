"""End to end at a tiny scale: the `incidents` scenario and `bench.sla_sweep` (issue 3 item 9, issue 4 item 7).

Both make their own PostgreSQL database (`itsm_bench_test_*`, see conftest.py; dropped afterwards) in child
processes, so no pytest-django database is involved. The sweep runs a real Celery worker on a
Redis database of its own (db 6), never the one the integration tests use. As with the other
bench smoke test, a missing PostgreSQL or Redis skips these outside CI and fails them with CI=true.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWEEP_BROKER = "redis://127.0.0.1:6379/6"
# Hang guards only: a run takes 20-40 s on an idle machine, more when others load it.
SCENARIO_TIMEOUT = 150
SWEEP_TIMEOUT = 150


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory, bench_services, bench_test_db, bench_drop, bench_env):
    """One tiny run of the `incidents` scenario: its JSON results and printed table."""
    out = tmp_path_factory.mktemp("incidents-bench") / "results.json"
    db = bench_test_db("incidents")
    args = [sys.executable, "-m", "bench", "--scenario", "incidents", "--scale", "400", "--requests", "12"]
    try:
        done = subprocess.run(
            [*args, "--json", str(out)],
            cwd=ROOT,
            env=bench_env(BENCH_DB_NAME=db),
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        yield json.loads(out.read_text()), done.stdout
    finally:
        bench_drop(db)


def _steps(results: dict) -> dict[str, dict]:
    return {step["step"]: step for step in results["steps"]}


API_STEPS = {
    "create",
    "list",
    "list-200",
    "filtered",
    "by-group",
    "dated",
    "dated-by-opened",
    "walk-50",
    "deep-cursor",
    "detail",
    "by-number",
    "transitions",
}

STATUS_STEPS = {"status-page", "status-feed"}
# The known error database (issue 13); its endpoints are routed by the problems API.
KEDB_STEPS = {"kedb-search", "kedb-suggest"}
# Issue 14: the console's dashboard (a session) and two reports through the API.
REPORT_STEPS = {"dashboard", "report-mttr", "report-sla-compliance"}


@pytest.mark.integration
def test_incident_api_steps_have_no_errors(scenario_run):
    results, table = scenario_run
    steps = _steps(results)

    assert set(steps) == API_STEPS | {"admin"} | STATUS_STEPS | KEDB_STEPS | REPORT_STEPS
    for name in API_STEPS:
        step = steps[name]
        assert step["errors"] == 0, (name, step["error_samples"])
        assert step["completed"] == 12, name
        assert step["queries"]["missing"] == 0 and step["queries"]["min"] >= 1, name
    for name in STATUS_STEPS:  # anonymous, from the cache: a warm request asks the database nothing
        step = steps[name]
        assert step["errors"] == 0 and step["completed"] == 12, (name, step["error_samples"])
        assert step["queries"]["missing"] == 0 and step["queries"]["min"] == 0, name
    assert steps["create"]["statuses"] == {"201": 12}
    [scenario] = results["scenarios"]
    assert (scenario["name"], scenario["scale"]) == ("incidents", 400)
    assert {("incidents", name) for name in API_STEPS} <= {tuple(line.split()[:2]) for line in table.splitlines()}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(KEDB_STEPS))
def test_kedb_steps_have_no_errors(scenario_run, name):
    step = _steps(scenario_run[0])[name]
    if set(step["statuses"]) == {"404"}:
        pytest.skip(f"{name}: the known error endpoints are not routed yet")

    assert step["errors"] == 0, step["error_samples"]
    assert step["statuses"] == {"200": 12} and step["queries"]["min"] >= 1


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(REPORT_STEPS))
def test_dashboard_and_report_steps_have_no_errors(scenario_run, name):
    step = _steps(scenario_run[0])[name]

    assert step["errors"] == 0, step["error_samples"]
    assert step["statuses"] == {"200": 12} and step["queries"]["min"] >= 1


@pytest.mark.integration
def test_list_query_count_does_not_grow_with_page_size(scenario_run):
    steps = _steps(scenario_run[0])

    # 400 incidents: page_size=200 really returns 200 rows, four times the default page.
    assert steps["list-200"]["queries"]["max"] == steps["list"]["queries"]["max"]


@pytest.mark.integration
def test_admin_changelist_has_no_errors(scenario_run):
    admin = _steps(scenario_run[0])["admin"]
    if set(admin["statuses"]) == {"404"}:
        pytest.skip("/admin/incidents/incident/ answers 404: the incident admin is not registered yet")

    assert admin["errors"] == 0, admin["error_samples"]
    assert admin["statuses"] == {"200": 12}


@pytest.mark.integration
def test_sla_sweep_fires_every_due_breach_exactly_once(
    tmp_path, bench_services, bench_test_db, bench_drop, bench_env, bench_processes_with
):
    out = tmp_path / "sweep.json"
    sweep_db = bench_test_db("sla")
    args = [sys.executable, "-m", "bench.sla_sweep", "--incidents", "2000", "--open", "400", "--due", "50"]
    args += ["--db", sweep_db, "--broker", SWEEP_BROKER, "--sweep-interval", "5", "--timeout", "60"]
    args += ["--profile", "10", "--drop", "--json", str(out)]
    pipe = subprocess.PIPE
    process = subprocess.Popen(args, cwd=ROOT, env=bench_env(), stdout=pipe, stderr=pipe, text=True)
    try:
        stdout, stderr = process.communicate(timeout=SWEEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # the sweep stops its worker on SIGTERM
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"bench.sla_sweep took longer than {SWEEP_TIMEOUT} s: {stderr[-3000:]}")
    finally:
        bench_drop(sweep_db)

    assert process.returncode == 0, stderr[-3000:] + stdout[-3000:]
    # The sweep's worker names the sweep's pid in its hostname: none may outlive the run.
    assert bench_processes_with(f"--hostname=sla-sweep-{process.pid}@".encode()) == []
    results = json.loads(out.read_text())
    fire = results["fire"]
    assert fire["armed"] == 50 and fire["all_fired"], fire
    assert fire["breached_events_per_clock"] == {"1": 50}  # one `breached` event per clock, none twice
    assert fire["exactly_once"] and fire["drained"]
    for query in results["queries"]:
        assert query["uses_partial_index"] and not query["seq_scan"], query["plan"]
        assert query["returned"] >= 50
    assert results["profile"]["fired"] == 10 and results["profile"]["queries_per_fire"] > 0
    assert "(b) 50 due breaches" in stdout
