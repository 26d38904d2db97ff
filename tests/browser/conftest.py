"""Debian's chromium driven by Playwright against the live test server."""

from __future__ import annotations

import os
import shutil

import pytest

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium")  # Debian's package, on PATH


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def logged_in(page, staff):
    page.goto("/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return page


@pytest.fixture
def lots(staff):
    """The demo study's reagent lots (chemicals and lots only: the records are made in the
    browser from blank forms), keyed by formula."""
    from core.audit import acting_as
    from demo.records import _lots

    with acting_as(staff):
        return _lots(staff)


@pytest.fixture
def viewer_page(page, viewer):
    page.goto("/")
    page.fill("#id_username", "victor")
    page.fill("#id_password", "pw-victor-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return page
