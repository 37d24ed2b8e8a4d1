"""End to end: `python -m bench --scenario config` at a tiny scale against a real PostgreSQL.

The bench makes its own database, so this uses `itsm_bench_test` (never the `itsm_bench` of a
real run) and drops it afterwards. It needs no pytest-django database: everything happens in
the bench's child processes. As with tests/integration, a missing PostgreSQL or Redis on
127.0.0.1 skips it outside CI and fails it with CI=true.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "itsm_bench_test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _require(port: int, what: str) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        message = f"the bench needs {what} on 127.0.0.1:{port}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: integration services are required)")
        pytest.skip(message)


@pytest.fixture
def bench_db():
    """The smoke run's database name; the database is dropped after the test."""
    _require(5432, "PostgreSQL")
    _require(6379, "Redis")
    yield DB_NAME
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))


@pytest.mark.integration
def test_config_scenario_end_to_end(bench_db, tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DB_NAME"} | {"BENCH_DB_NAME": bench_db}

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
