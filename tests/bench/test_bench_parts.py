"""The harness's parts without PostgreSQL: load generator, registry, report, query counter."""

import json
import time

import pytest
from django.test import Client
from werkzeug import Response

from bench import registry
from bench.load import check_loopback, percentile, relative_path, run_step
from bench.registry import Request, Scenario, Step
from bench.report import format_table

SCENARIO = "test-load-parts"


@pytest.fixture
def scenario():
    """Register a throw-away scenario whose steps the test fills in; removed afterwards."""
    steps: list[Step] = []
    registry.register(Scenario(name=SCENARIO, default_scale=1, seed=lambda scale: None, steps=steps))
    yield steps
    registry.unregister(SCENARIO)


def spec(server, step: str, **overrides):
    return {
        "scenario": SCENARIO,
        "step": step,
        "base_url": server.url_for("").rstrip("/"),
        "token": "k",
        "requests": 10,
        "concurrency": 2,
        "time_limit": 10,
        "scale": 1,
        "seed_data": {"start": 3},
    } | overrides


@pytest.mark.parametrize("client", ["http", "httpx"])
def test_fixed_path_counts_statuses_latency_and_query_header(scenario, httpserver, client):
    httpserver.expect_request("/things/", headers={"Authorization": "Token k"}).respond_with_json(
        {"ok": True}, headers={"X-Query-Count": "4"}
    )
    scenario.append(Step("list", "/things/"))

    result = run_step(spec(httpserver, "list", client=client))

    assert (result["planned"], result["completed"], result["errors"], result["timed_out"]) == (10, 10, 0, False)
    assert result["statuses"] == {"200": 10}
    assert result["queries"] == {"min": 4, "median": 4, "max": 4, "missing": 0}
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["throughput_rps"] > 0


def test_factory_follows_next_links_and_sends_bodies(scenario, httpserver):
    pages = {str(n): {"next": httpserver.url_for(f"/pages/?cursor={n + 1}") if n < 3 else None} for n in range(4)}
    httpserver.expect_request("/pages/").respond_with_handler(
        lambda request: Response(json.dumps(pages[request.args["cursor"]]), content_type="application/json")
    )
    httpserver.expect_request("/things/", method="POST").respond_with_handler(
        lambda request: Response(request.data, status=201, content_type="application/json")
    )
    seen: list[str] = []

    def walk(ctx: registry.RequestContext) -> str:
        link = ctx.last_response.json()["next"] if ctx.last_response is not None else None
        path = link or f"/pages/?cursor={ctx.seed_data['start'] - 3}"
        seen.append(path)
        return path

    scenario.append(Step("walk", walk))
    scenario.append(
        Step("create", lambda ctx: Request("/things/", json={"n": ctx.index}), method="post", expect=(201,))
    )

    walked = run_step(spec(httpserver, "walk", requests=5, concurrency=1))
    created = run_step(spec(httpserver, "create"))

    assert walked["errors"] == 0
    assert [p.rsplit("=", 1)[1] for p in seen] == ["0", "1", "2", "3", "0"]
    assert seen[1].startswith("http://localhost:")  # absolute next links are followed on the same server
    assert created["statuses"] == {"201": 10} and created["errors"] == 0
    assert created["queries"]["missing"] == 10 and created["queries"]["min"] is None


def test_non_success_is_an_error_with_samples(scenario, httpserver):
    httpserver.expect_request("/broken/").respond_with_json({"type": "boom"}, status=500)
    scenario.append(Step("broken", "/broken/", auth=False))

    result = run_step(spec(httpserver, "broken"))

    assert result["errors"] == 10 and result["completed"] == 10
    assert len(result["error_samples"]) == 5
    assert result["error_samples"][0]["status"] == 500 and "boom" in result["error_samples"][0]["body"]


def test_time_limit_stops_issuing_requests(scenario, httpserver):
    def slow(request):
        time.sleep(0.1)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow/").respond_with_handler(slow)
    scenario.append(Step("slow", "/slow/"))

    started = time.monotonic()
    result = run_step(spec(httpserver, "slow", requests=10_000, concurrency=1, time_limit=0.5))

    assert time.monotonic() - started < 3
    assert result["timed_out"] and 1 <= result["completed"] < 20
    assert result["errors"] == 0  # the request in flight at the limit was allowed to finish


def test_only_loopback_targets():
    check_loopback("http://127.0.0.1:8000")
    check_loopback("http://localhost:8000")
    for url in ("http://10.0.0.5:8000", "http://example.com", "http://192.168.1.1"):
        with pytest.raises(ValueError):
            check_loopback(url)
    with pytest.raises(ValueError):
        relative_path("http://127.0.0.2:9/x", "http://127.0.0.1:8000")
    assert relative_path("http://127.0.0.1:8000/a/?b=1", "http://127.0.0.1:8000") == "/a/?b=1"


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([], 50) is None


def test_registry_rejects_duplicates_and_discovers_config(scenario):
    with pytest.raises(ValueError):
        registry.register(Scenario(name=SCENARIO, default_scale=1, seed=lambda s: None, steps=[]))
    found = registry.discover()
    assert {"config", SCENARIO} <= set(found)
    assert found["config"].step("readyz").auth is False


def test_table_shows_rows_errors_and_rss():
    step = {
        "scenario": "s",
        "step": "list",
        "planned": 5,
        "completed": 3,
        "errors": 1,
        "timed_out": True,
        "throughput_rps": 12.5,
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
        "queries": {"min": 2, "median": 3, "max": 9},
        "statuses": {"200": 2, "503": 1},
        "error_samples": [{"index": 2, "method": "GET", "path": "/x", "status": 503, "body": "down"}],
    }
    results = {
        "steps": [step],
        "scenarios": [{"name": "s", "scale": 7, "seconds": 0.5, "reused": False}],
        "peak_rss_kb": {"gunicorn master (1)": 2048},
    }

    table = format_table(results)

    assert ["s", "list", "3*", "1", "12.5", "1.0", "2.0", "3.0", "2/3/9"] in [
        line.split() for line in table.splitlines()
    ]
    assert "2/3/9" in table and "GET /x -> 503 down" in table and "2.0 MiB" in table
    assert "Python speed" not in table  # no calibration recorded, no line

    table = format_table({**results, "python_calibration_ms": 153.4})
    assert "the calibration workload (bench/calibrate.py) took 153.4 ms" in table


def test_calibration_is_a_repeatable_positive_time(monkeypatch):
    from bench import calibrate

    assert calibrate._workload(2_000) == calibrate._workload(2_000)  # a fixed workload
    ticks = iter([0.0, 0.5, 1.0, 1.2, 2.0, 2.9])  # rounds of 0.5 s, 0.2 s and 0.9 s
    monkeypatch.setattr(calibrate.time, "perf_counter", lambda: next(ticks))
    assert calibrate.python_ms(rounds=3, n=10) == 200.0  # the best round


@pytest.mark.django_db
def test_query_count_header_only_when_enabled(settings, django_user_model):
    user = django_user_model.objects.create_user("counter", password="pw")
    plain = Client()
    plain.force_login(user)
    assert "X-Query-Count" not in plain.get("/api/v1/services/").headers

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "bench.middleware.QueryCountMiddleware"]
    counted = Client()  # a client builds its middleware chain once, on its first request
    counted.force_login(user)
    response = counted.get("/api/v1/services/")

    assert response.status_code == 200
    assert int(response.headers["X-Query-Count"]) >= 1
