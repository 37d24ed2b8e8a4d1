"""End to end: `python -m bench --scenario config` at a tiny scale against a real PostgreSQL.

The bench makes its own database, so this uses `itsm_bench_test` (never the `itsm_bench` of a
real run; `BENCH_TEST_DB_PREFIX` changes it, see conftest.py) and drops it afterwards. It needs
no pytest-django database: everything happens in the bench's child processes. As with
tests/integration, a missing PostgreSQL or Redis on 127.0.0.1 skips it outside CI and fails it
with CI=true. The second test runs the framework ceiling (`--scenario ceiling`) the same way.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_db(bench_services, bench_test_db, bench_drop):
    """The smoke run's database name; the database is dropped after the test."""
    name = bench_test_db()
    yield name
    bench_drop(name)


@pytest.mark.integration
def test_config_scenario_end_to_end(bench_db, bench_env, tmp_path):
    out = tmp_path / "results.json"
    env = bench_env(BENCH_DB_NAME=bench_db)

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "config", "--scale", "20", "--requests", "20", "--json", out],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=55,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    steps = {step["step"]: step for step in results["steps"]}
    expected = {"services", "services-200", "categories", "groups", "sla-policies", "users", "readyz"}
    assert set(steps) == expected
    for name, step in steps.items():
        assert step["errors"] == 0, (name, step["error_samples"])
        assert step["completed"] == 20, name
        assert step["queries"]["missing"] == 0, name
        assert step["queries"]["min"] is not None and step["queries"]["min"] >= 1, name
        assert step["latency_ms"]["p99"] is not None, name
    [scenario] = results["scenarios"]
    assert (scenario["name"], scenario["scale"], scenario["reused"]) == ("config", 20, False)
    assert sum(name.startswith("gunicorn worker") for name in results["peak_rss_kb"]) == 2
    # The printed table has a row per step: scenario, step, then the numbers.
    rows = {tuple(line.split()[:2]) for line in done.stdout.splitlines()}
    assert {("config", name) for name in expected} <= rows


@pytest.mark.integration
def test_ceiling_scenario_end_to_end(bench_db, bench_env, tmp_path):
    out = tmp_path / "results.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "ceiling", "--scale", "60", "--requests", "12", "--json", out],
        cwd=ROOT,
        env=bench_env(BENCH_DB_NAME=bench_db),
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["settings"] == "bench.ceiling.settings"
    steps = {step["step"]: step for step in results["steps"]}
    assert set(steps) == {"ceiling-create", "ceiling-list"}
    for name, step in steps.items():
        assert step["errors"] == 0, (name, step["error_samples"])
        assert step["completed"] == 12, name
        assert step["queries"]["missing"] == 0 and step["queries"]["min"] >= 1, name
    assert steps["ceiling-create"]["statuses"] == {"201": 12}
    assert steps["ceiling-list"]["statuses"] == {"200": 12}
    [scenario] = results["scenarios"]
    assert (scenario["name"], scenario["scale"]) == ("ceiling", 60)
    rows = {tuple(line.split()[:2]) for line in done.stdout.splitlines()}
    assert {("ceiling", "ceiling-create"), ("ceiling", "ceiling-list")} <= rows
