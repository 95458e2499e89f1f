"""Headless Chromium for the browser tests: Debian's build, driven by Playwright.

Playwright cannot download its own browser here, so the tests launch
``/usr/bin/chromium`` (installed by scripts/setup.sh --test). One browser per
test module; each test opens its own contexts.
"""

import pytest
from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking switches Chromium keeps trying hosts it
# cannot reach from the test machines.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
