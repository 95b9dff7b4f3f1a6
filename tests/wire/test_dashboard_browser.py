"""The dashboard in a real headless Chromium: it shows our quotes and updates live (SSE).

Needs Debian's chromium (/usr/bin/chromium) and the playwright Python package; skips with the
install commands otherwise. Playwright's own browser download is never used.
Set LB_SCREENSHOT_DIR to also save the page as <dir>/dashboard.png (docs/dashboard.png).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_dashboard import TOKEN, fill_state  # tests/wire is on sys.path (rootdir conftest)

from liquidity_bot.web.dashboard import DashboardState, start_dashboard
from liquidity_bot.web.metrics import BotMetrics

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright_api = pytest.importorskip(
    "playwright.async_api",
    reason="playwright is not installed: .venv/bin/pip install playwright (never run "
    "`playwright install`; the test uses Debian's chromium)",
)
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip(
        "chromium is missing: apt-get update && apt-get install -y chromium",
        allow_module_level=True,
    )


async def test_page_shows_quotes_and_updates_live():
    state = DashboardState(title="liquidity-bot · demo")
    state.mode = "paper (simulator)"
    fill_state(state, BotMetrics())
    server = await start_dashboard(state, "127.0.0.1", 0, TOKEN, push_interval_s=0.05)
    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                await page.goto(server.url + f"?token={TOKEN}")
                assert "token" not in page.url  # traded for a cookie, gone from the address bar
                quotes = page.get_by_test_id("quotes-XRPUSDT")
                await quotes.get_by_text("0.5180", exact=True).wait_for()
                await quotes.get_by_text("0.5220", exact=True).wait_for()
                await page.get_by_text("live", exact=True).wait_for()
                assert await page.get_by_test_id("met-XRPUSDT").inner_text() == "obligations met"
                assert await page.locator("tr.ours").count() == 4  # our levels marked in the book
                before = await page.locator("#clock").inner_text()

                fill_state(state, shift=5)  # the runner moves our quotes: bid 0.5175, ask 0.5225
                state.add_event("order", "re-quoted XRPUSDT after a price move")
                await quotes.get_by_text("0.5175", exact=True).wait_for()
                await quotes.get_by_text("0.5225", exact=True).wait_for()
                await page.get_by_text("re-quoted XRPUSDT after a price move").wait_for()
                assert await quotes.get_by_text("0.5180", exact=True).count() == 0
                assert await page.locator("#clock").inner_text() != before
                assert page.url.rstrip("/") == server.url.rstrip("/")  # no reload happened
                assert errors == []
                out = os.environ.get("LB_SCREENSHOT_DIR")
                if out:
                    Path(out).mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(Path(out) / "dashboard.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.stop()
