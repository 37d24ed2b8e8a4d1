"""The dashboard and a report page in headless Chromium against a live server: the charts are
drawn (coloured pixels on every canvas), a screenshot of each page is saved under var/browser/.

Each test does its browser work in `chromium.run(...)` (Playwright's thread) and asserts here.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.reporting.browser.conftest import MIN_COLOURED, axe_serious, canvas_pixels
from tests.reporting.console.conftest import desk, stand_ins  # noqa: F401 - fixtures


def session_cookie(user) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}


def visit(chromium, url: str, cookie: dict, screenshot, selector: str) -> dict:
    def run(browser):
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.add_cookies([{**cookie, "url": url}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            response = page.goto(url)
            pixels = canvas_pixels(page)
            page.screenshot(path=str(screenshot), full_page=True)
            return {
                "status": response.status,
                "pixels": pixels,
                "errors": errors,
                "axe": axe_serious(page, selector),
                "text": page.locator(selector).inner_text(),
            }
        finally:
            context.close()

    return chromium.run(run)


def assert_drawn(pixels: list[dict], expected: set[str]) -> None:
    assert {p["id"] for p in pixels} == expected
    for canvas in pixels:
        assert canvas["width"] > 100 and canvas["height"] > 50, canvas
        assert canvas["coloured"] >= MIN_COLOURED, f"chart {canvas['id']} is empty: {canvas}"


def test_the_dashboard_draws_its_charts(chromium, live_server, transactional_db, desk, stand_ins, artifacts):  # noqa: F811
    seen = visit(
        chromium, live_server.url + "/admin/", session_cookie(desk["lead"]), artifacts / "dashboard.png", "#dashboard"
    )
    assert seen["status"] == 200 and seen["errors"] == []
    assert_drawn(seen["pixels"], {"chart-volume", "chart-mttr", "chart-sla-compliance", "chart-backlog-ageing"})
    assert "My open incidents" in seen["text"] and "Top services by incidents" in seen["text"]
    assert "Mail outage" in seen["text"] and "in 1" in seen["text"]  # the countdown ticks (in 19m ..s)
    assert seen["axe"] == []
    assert (artifacts / "dashboard.png").stat().st_size > 10_000


def test_a_report_page_draws_its_chart(chromium, live_server, transactional_db, desk, artifacts):  # noqa: F811
    url = live_server.url + "/admin/reports/volume/?group_by=service"
    seen = visit(chromium, url, session_cookie(desk["agent"]), artifacts / "report-volume.png", "#report")
    assert seen["status"] == 200 and seen["errors"] == []
    assert_drawn(seen["pixels"], {"report-chart"})
    assert "Email" in seen["text"] and "Download CSV" in seen["text"]
    assert seen["axe"] == []


def test_an_empty_canvas_is_caught(chromium, live_server, transactional_db, desk):  # noqa: F811
    """The check itself: a canvas Chart.js never drew on counts as empty."""
    cookie = session_cookie(desk["agent"])
    url = live_server.url + "/admin/reports/"

    def run(browser):
        context = browser.new_context()
        context.add_cookies([{**cookie, "url": url}])
        page = context.new_page()
        try:
            page.goto(url)
            page.evaluate(
                "() => { const c = document.createElement('canvas'); c.className = 'chart'; c.width = 300;"
                " c.height = 150; document.body.appendChild(c); }"
            )
            return canvas_pixels(page, timeout_ms=500)
        finally:
            context.close()

    (blank,) = chromium.run(run)
    assert blank["coloured"] < MIN_COLOURED
    with pytest.raises(AssertionError, match="is empty"):
        assert_drawn([{**blank, "id": "x"}], {"x"})
