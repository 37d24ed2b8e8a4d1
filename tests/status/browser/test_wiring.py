"""How the browser tests behave without a browser: skipped locally, failed under CI=true."""

import pytest

from tests.status.browser import conftest


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        conftest._missing("no chromium")
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest._missing("no chromium")


def test_axe_core_ships_with_its_license_header():
    head = conftest.AXE.read_text()[:400]
    assert head.startswith("/*! axe v4.") and "Mozilla Public" in head
