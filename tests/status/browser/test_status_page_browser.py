"""The status page and its feed in headless Chromium against a live server.

Each test does its browser work in `chromium.run(...)` (Playwright's thread) and asserts here.
"""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from tests.status.browser.conftest import run_axe

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def scene(transactional_db, outage, email_service):
    """The outage fixture (public, P1, an external and an internal update) and one healthy service."""
    return outage


def test_the_outage_its_external_update_and_the_level_show_and_the_internal_update_does_not(
    chromium, live_server, scene, artifacts
):
    def visit(browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            response = page.goto(live_server.url + "/status/")
            incident = page.locator(f"article#{scene.number}")
            seen = {
                "status": response.status,
                "banner": page.locator("#banner-heading").inner_text().strip(),
                "title": incident.locator("h3").inner_text(),
                "incident": incident.inner_text(),
                "body": page.locator("body").inner_text(),
                "payroll": page.locator("#service-payroll .level-text").inner_text(),
                "email": page.locator("#service-email .level-text").inner_text(),
                "border": page.evaluate("getComputedStyle(document.querySelector('.banner')).borderTopStyle"),
            }
            page.screenshot(path=str(artifacts / "status-page-desktop.png"), full_page=True)
            return seen
        finally:
            page.close()

    seen = chromium.run(visit)
    assert seen["status"] == 200
    assert seen["banner"] == "Major outage"
    assert "Payroll unavailable" in seen["title"]
    assert "Payroll is unavailable. We are investigating." in seen["incident"]
    assert "Next update by" in seen["incident"]
    assert "Restarting the connection pool" not in seen["body"] and "pay-db-01" not in seen["body"]
    assert seen["payroll"] == "Major outage" and seen["email"] == "Operational"
    assert seen["border"] == "solid"  # the stylesheet was served and applied


def test_the_feed_is_valid_atom_in_the_browser(chromium, live_server, scene):
    def fetch(browser):
        page = browser.new_page()
        try:
            response = page.goto(live_server.url + "/status/feed.atom")
            return response.status, response.headers["content-type"], response.body()
        finally:
            page.close()

    status, content_type, body = chromium.run(fetch)
    assert status == 200 and content_type.startswith("application/atom+xml")
    root = ElementTree.fromstring(body)
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}updated") is not None
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith("Payroll unavailable")
    assert b"Restarting the connection pool" not in body


def test_a_phone_renders_without_horizontal_scrolling(chromium, live_server, scene, artifacts):
    def phone(browser):
        context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
        try:
            page = context.new_page()
            page.goto(live_server.url + "/status/")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            visible = page.locator("#subscribe-email").is_visible()
            page.screenshot(path=str(artifacts / "status-page-phone.png"), full_page=True)
            return overflow, visible
        finally:
            context.close()

    overflow, visible = chromium.run(phone)
    assert overflow <= 0, f"{overflow}px of horizontal scrolling on a phone"
    assert visible


def test_the_page_passes_axe_without_serious_violations_and_keyboard_focus_is_visible(chromium, live_server, scene):
    def audit(browser):
        page = browser.new_page()
        try:
            page.goto(live_server.url + "/status/")
            violations = run_axe(page)
            page.keyboard.press("Tab")  # the skip link comes first and shows itself
            skip = page.evaluate(
                "[document.activeElement.className, document.activeElement.getBoundingClientRect().left]"
            )
            page.locator("#subscribe-email").focus()
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            return violations, skip, outline
        finally:
            page.close()

    violations, (skip_class, skip_left), outline = chromium.run(audit)
    assert violations == [], violations
    assert skip_class == "skip" and skip_left >= 0
    assert outline != "none"


def test_a_visitor_subscribes_from_the_page(chromium, live_server, scene):
    from status.models import StatusSubscriber

    def subscribe(browser):
        page = browser.new_page()
        try:
            page.goto(live_server.url + "/status/")
            page.fill("#subscribe-email", "reader@example.org")
            page.check("#scope-services")
            page.check("#follow-payroll")
            page.click("form[action='/status/subscribe/'] button[type=submit]")
            return page.locator("h1").inner_text()
        finally:
            page.close()

    assert "Check your email" in chromium.run(subscribe)
    subscriber = StatusSubscriber.objects.get(email="reader@example.org")
    assert subscriber.confirmed_at is None and [s.slug for s in subscriber.services.all()] == ["payroll"]
