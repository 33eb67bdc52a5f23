"""Headless Chromium (Debian's chromium + chromium-driver) driven by selenium: load a page from disk,
read what the browser saw, take a full-page screenshot. No browser download, no network."""

from __future__ import annotations

import base64
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900")


def find_chromium() -> tuple[str, str] | None:
    """(browser, driver) paths, or None where Debian's chromium and chromium-driver are not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@dataclass
class Rendered:
    title: str
    headings: list[str]
    images: list[dict]
    """src, complete, naturalWidth, naturalHeight of every <img>."""
    console: list[dict]
    """Browser log entries (level, message)."""
    screenshot: bytes


def render(page: Path, browser: str, driver: str) -> Rendered:
    """Open ``page`` (file://) in headless Chromium with a fresh profile; return what it rendered."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="automixer-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        session.get(page.resolve().as_uri())
        images = session.execute_script(
            "return Array.from(document.images).map(i => ({src: i.getAttribute('src'), complete: i.complete,"
            " naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))")
        headings = session.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        console = session.get_log("browser")
        shot = session.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        return Rendered(session.title, headings, images, console, base64.b64decode(shot["data"]))
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)
