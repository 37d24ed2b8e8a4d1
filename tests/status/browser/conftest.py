"""Browser tests of the public status page: Playwright for Python driving Debian's chromium.

No `playwright install`: the browser is the system's `chromium` (scripts/test.sh installs it with
apt-get when missing). Outside CI a missing browser (or playwright) skips these tests; with
CI=true it fails them, so a green CI means the page was exercised in a real browser.

Playwright's sync API runs an event loop in the thread that uses it; Django then treats that
thread as async (its connections become per-context and ORM calls are refused). So Playwright
lives in a thread of its own (`Chromium.run(fn)` runs `fn(browser)` there and returns what it
returns) and the test thread keeps a plain, synchronous Django.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
AXE = Path(__file__).with_name("axe.min.js")
ARTIFACTS = ROOT / "var" / "browser"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(message: str):
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the browser tests must run)")
    pytest.skip(message)


class Chromium:
    """Headless chromium driven from one dedicated thread."""

    def __init__(self, executable: str):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self._executor.submit(self._start, executable).result()

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )

    def run(self, fn):
        """`fn(browser)` in the Playwright thread; its result (or exception) here."""
        return self._executor.submit(fn, self._browser).result(timeout=120)

    def close(self) -> None:
        def stop(_browser):
            self._browser.close()
            self._playwright.stop()

        try:
            self.run(stop)
        finally:
            self._executor.shutdown(wait=True)


@pytest.fixture
def transactional_db(django_db_serialized_rollback, transactional_db):
    """Committing tests (the live server reads what they write), with the data migrations' rows
    (roles, number counters, matrix) restored after each."""
    return transactional_db


@pytest.fixture(scope="module")
def chromium():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed")
    executable = chromium_path()
    if executable is None:
        _missing("no chromium on PATH (apt-get install chromium)")
    browser = Chromium(executable)
    yield browser
    browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def run_axe(page) -> list[dict]:
    """Inject the shipped axe-core and return the violations of impact serious or critical."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
