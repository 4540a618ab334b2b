"""Looking at a page in a real browser engine: Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Rendered:
    texts: dict[str, str]
    """Visible text of each element asked for (CSS selector → text)."""
    counts: dict[str, int]
    """How many elements match each selector asked for."""
    width: int
    """Width of the laid-out document, in CSS pixels."""


async def render(
    html: str, screenshot: Path, *, texts: list[str], counts: list[str], width: int = 1100
) -> Rendered:
    """Lay ``html`` out in Chromium in a window ``width`` CSS pixels wide, save a full-page
    screenshot, read what a person sees."""
    if CHROMIUM is None:
        pytest.skip("no chromium binary on this machine (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": width, "height": 900})
            await page.set_content(html, wait_until="load")
            await page.screenshot(path=str(screenshot), full_page=True)
            seen = {selector: await page.inner_text(selector) for selector in texts}
            found = {selector: await page.locator(selector).count() for selector in counts}
            laid_out = await page.evaluate("document.documentElement.scrollWidth")
        finally:
            await browser.close()
    return Rendered(seen, found, int(laid_out))
