"""A headless Chromium for the dashboard's browser tests and its page-load benchmark.

Both must drive the same browser with the same flags, or the benchmark would measure something
the tests never saw. Chromium and its driver come from Debian's packages (`apt-get install
chromium chromium-driver`); nothing is downloaded. selenium is imported on first use.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

__all__ = ["CHROMIUM_FLAGS", "chromium_paths", "headless_chromium"]

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    # SwiftShader gives headless Chromium a software WebGL, which Plotly's fast charts use.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
)


def chromium_paths() -> tuple[str | None, str | None]:
    """The Chromium binary and its driver on this machine, each None when missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if driver is None and os.path.exists("/usr/bin/chromedriver"):
        driver = "/usr/bin/chromedriver"
    return browser, driver


def headless_chromium(window: tuple[int, int] = (1400, 1800)) -> Any:
    """A selenium `webdriver.Chrome` on the system's Chromium, headless, with `CHROMIUM_FLAGS`.

    Raises:
        RuntimeError: Chromium or its driver is not installed.
    """
    from selenium import webdriver

    browser, driver = chromium_paths()
    if browser is None or driver is None:
        raise RuntimeError(
            "no Chromium or chromedriver found; install them with "
            "`apt-get install -y chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--window-size={window[0]},{window[1]}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))
