"""End to end at a tiny scale: `python -m bench.webhooks` (issue 5, item 9).

200 deliveries drained by real Celery workers into the bench's loopback receiver, exactly once;
then a few incidents with the broker up and down, the sweep delivering the outage's rows once
the broker is back. The bench makes its own database (`itsm_bench_test_webhooks`, see
conftest.py; dropped afterwards) and uses Redis db 11 as its private broker, never the db the integration tests
use; no pytest-django database is involved. As with the other bench smoke tests, a missing
PostgreSQL or Redis skips this outside CI and fails it with CI=true.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/11"
DELIVERIES = 200
# A hang guard only: the run takes 30-60 s on an idle machine (migrations are most of it).
TIMEOUT = 180


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory, bench_services, bench_test_db, bench_drop):
    """One tiny run: its JSON results, printed report and the runner's pid."""
    DB_NAME = bench_test_db("webhooks")
    out = tmp_path_factory.mktemp("webhooks-bench") / "results.json"
    args = [sys.executable, "-m", "bench.webhooks", "--deliveries", str(DELIVERIES), "--db", DB_NAME]
    args += ["--broker", BROKER, "--incidents", "4", "--rounds", "1", "--warmup", "0"]
    args += ["--sweep-interval", "2", "--sweep-grace", "0", "--timeout", "90", "--profile", "10"]
    args += ["--drop", "--json", str(out)]
    # The caller's DATABASE_URL / CELERY_BROKER_URL / ITSM_TESTING are the test run's; the bench
    # sets its own for every process it starts.
    process = subprocess.Popen(
        args, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # the bench stops its workers and receiver on SIGTERM
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"bench.webhooks took longer than {TIMEOUT} s: {stderr[-3000:]}")
    finally:
        bench_drop(DB_NAME)
    assert process.returncode == 0, stderr[-4000:] + stdout[-3000:]
    return json.loads(out.read_text()), stdout, process.pid


@pytest.mark.integration
def test_every_delivery_reaches_the_receiver_exactly_once(bench_run):
    results, report, _ = bench_run
    drain = results["drain"]

    assert drain["drained"] and drain["statuses"] == {"sent": DELIVERIES}
    assert drain["attempts_per_row"] == {"1": DELIVERIES}
    receiver = drain["receiver"]
    assert receiver["requests"] == receiver["distinct_ids"] == DELIVERIES
    assert receiver["duplicates"] == 0 and drain["ids_match"]  # the very ids of the outbox rows
    assert receiver["bad_signatures"] == receiver["stale_timestamps"] == receiver["id_mismatches"] == 0
    assert drain["queue_left"] == 0 and drain["rate_per_s"] > 0
    assert results["passed"]["exactly_once"] and results["passed"]["drained"]
    assert "deliveries/s" in report and "time to drain" in report


@pytest.mark.integration
def test_the_sweep_delivers_what_was_created_while_the_broker_was_down(bench_run):
    outage = bench_run[0]["outage"]

    assert outage["normal"]["published"] > 0  # the reachable broker took the hand-offs
    assert outage["outage"]["published"] == 0 and outage["outage"]["incidents"] == 4
    # The creates wrote their rows; with the broker down none was handed over: all waited as pending.
    assert outage["outage_incidents"] == 4
    assert outage["outage_rows_pending_before"] == outage["outage_rows_written"] == outage["outage_rows"] > 0
    assert outage["recovered"] and outage["exactly_once"]
    assert outage["receiver"]["requests"] == outage["webhook_rows"] == 8  # one incident.created each
    assert outage["ratio"] is not None


@pytest.mark.integration
def test_no_worker_or_receiver_outlives_the_run(bench_run, bench_processes_with):
    results, _, pid = bench_run

    assert bench_processes_with(f"--hostname=webhooks1-{pid}@".encode()) == []
    assert bench_processes_with(f"_receiver\0--port={results['receiver_port']}".encode()) == []
    assert results["profile"]["deliveries"] == 9 and results["profile"]["queries_per_delivery"] > 0
