"""Browser tests of the dashboard and a report page: the status page's headless Chromium (imported).

A chart counts as drawn when its canvas has coloured (non-grey) pixels: the axes, grid and labels
are grey, the series are drawn in the palette's colours, so an empty chart or a canvas Chart.js
never drew fails.
"""

from __future__ import annotations

# The status page's browser fixtures, shared: one chromium per module, committing tests, artifacts.
from tests.status.browser.conftest import AXE, artifacts, chromium, transactional_db  # noqa: F401

# Per canvas: size, painted (non-transparent) pixels and coloured ones (a channel spread > 60).
CANVAS_PIXELS = """(canvas) => {
  const {width, height} = canvas;
  const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 16) continue;
    painted++;
    const hi = Math.max(data[i], data[i + 1], data[i + 2]), lo = Math.min(data[i], data[i + 1], data[i + 2]);
    if (hi - lo > 60 && data[i + 3] > 128) coloured++;
  }
  const card = canvas.closest('[id]');
  return {id: card ? card.id : '', width, height, painted, coloured};
}"""
MIN_COLOURED = 8


def canvas_pixels(page, timeout_ms: int = 5000) -> list[dict]:
    """Every chart canvas's pixel counts, once each is coloured or `timeout_ms` has passed (animations)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"""() => {{
              const canvases = [...document.querySelectorAll('canvas.chart')];
              const count = {CANVAS_PIXELS};
              return canvases.length > 0 && canvases.every(c => count(c).coloured >= {MIN_COLOURED});
            }}""",
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:
        pass  # the counts below say which canvas stayed empty
    page.wait_for_timeout(300)  # the last frames of the animation, for the screenshot
    return page.eval_on_selector_all("canvas.chart", f"(canvases) => canvases.map({CANVAS_PIXELS})")


def axe_serious(page, selector: str) -> list[dict]:
    """axe-core's serious and critical violations inside `selector` (our markup, not Unfold's chrome)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (selector) => await axe.run(document.querySelector(selector), {resultTypes: ['violations']})",
        selector,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
