"""The page in a real browser: Debian's chromium, headless, driven by selenium through chromedriver.

Each page is written by ``ravine report`` and loaded from a file:// URL at a phone's width (390 px, mobile
emulation) and a desktop's (1280 px). Checked: no console errors, every image decoded, every section there, no
sideways scrolling of the page, the optimiser toggles hide and show their lines (by mouse and by keyboard), hover
shows the values, and full-page screenshots are not blank (every band of the page has contrast). Skipped only
where chromium or chromedriver is not installed (``apt-get install -y chromium chromium-driver``; .ci/run does).
Set RAVINE_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ravine.cli.app import app

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs a headless browser: Debian's chromium and chromium-driver (apt-get install -y chromium "
    "chromium-driver) were not found on PATH",
)

#: Flags for a closed network and a container: no sandbox (root), no GPU, nothing fetched in the background.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--hide-scrollbars",
)
WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def write_page(folder: Path) -> Path:
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    return folder / "report.html"


def open_at(driver, page: Path, width: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get_log("browser")  # drop what an earlier page said
    driver.get(page.resolve().as_uri())
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null))).then(() => done(true));"
    )


def screenshot(driver, name: str) -> np.ndarray:
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot["data"])
    keep = os.environ.get("RAVINE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}.png").write_bytes(data)
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)


def check_page(driver, page: Path, sections: list[str], name: str) -> None:
    for width in WIDTHS:
        open_at(driver, page, width)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert all(ok and w > 0 and h > 0 for _, ok, w, h in images), [i for i in images if not i[2]]
        for ident in sections:
            el = driver.find_element("id", ident)
            assert el.is_displayed() and el.size["height"] > 20, ident
        overflow = driver.execute_script("return document.documentElement.scrollWidth")
        assert overflow <= width, f"the page scrolls sideways at {width} px ({overflow} px wide)"
        pixels = screenshot(driver, f"{name}-{width}")
        assert pixels.shape[1] == width
        height = driver.execute_script("return document.documentElement.scrollHeight")
        assert pixels.shape[0] >= min(height, 900) - 1
        # Not blank: the whole page, and each 700-px band of it, has visible contrast (a figure that did not
        # paint would leave a white band).
        assert pixels.std() > 20
        bands = [pixels[y : y + 700] for y in range(0, pixels.shape[0] - 350, 700)]
        flat = [i for i, b in enumerate(bands) if b.std() < 4]
        assert flat == [], f"blank bands at {[i * 700 for i in flat]} px in the {width}-px screenshot"


def test_landscape_page(browser, landscapes, sections_of):
    page = write_page(landscapes.path)
    check_page(browser, page, sections_of(landscapes.path), "landscapes")
    gif = browser.execute_script(
        "return Array.from(document.images).filter(i => i.src.startsWith('data:image/gif')).length"
    )
    assert gif == len(json.loads((landscapes.path / "results.json").read_text())["landscapes"])


def test_doctor_page(browser, doctor):
    page = write_page(doctor)
    check_page(browser, page, ["doctor-run-jsonl"], "doctor")
    cards = browser.find_elements("css selector", ".finding")
    report = json.loads((doctor / "doctor.json").read_text())
    assert len(cards) == len(report["findings"]) and all(c.is_displayed() for c in cards)


@pytest.fixture(scope="module")
def task_page(request) -> Path:
    """mnist-logreg where the shared data are present (accuracy-judged, as a user runs it), else the quadratic."""
    try:
        return request.getfixturevalue("mnist")
    except pytest.skip.Exception:
        return request.getfixturevalue("quadratic")


def test_task_page_toggles_and_hover(browser, task_page: Path, sections_of):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page = write_page(task_page)
    check_page(browser, page, sections_of(task_page), "task")
    doc = json.loads((task_page / "results.json").read_text())
    first, second = (row["optimizer"] for row in doc["summary"][:2])
    group = browser.find_element("css selector", f"#{sections_of(task_page)[1]} [data-group]")

    def lines(name: str) -> list:
        return group.find_elements("css selector", f'g.series[data-series="{name}"]')

    button = group.find_element("css selector", f'button[data-toggle="{first}"]')
    assert len(lines(first)) == 3 * 2  # three panels, tuned and default
    assert all(g.is_displayed() for g in lines(first))
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert not any(g.is_displayed() for g in lines(first))
    assert all(g.is_displayed() for g in lines(second))
    button.send_keys(Keys.ENTER)  # a real button: the keyboard works too
    assert button.get_attribute("aria-pressed") == "true" and all(g.is_displayed() for g in lines(first))

    chart = group.find_element("css selector", "svg.chart")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    ActionChains(browser).move_to_element_with_offset(chart, chart.size["width"] // 4, 0).perform()
    tip = chart.find_element("xpath", "following-sibling::div[@class='tip']")
    deadline = time.monotonic() + 5
    while not tip.is_displayed() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = tip.text
    assert tip.is_displayed() and text.startswith("epoch "), text
    assert f"{first} lr=" in text and f"{second} lr=" in text
    button.click()
    ActionChains(browser).move_to_element_with_offset(chart, chart.size["width"] // 4 + 3, 0).perform()
    time.sleep(0.1)
    assert f"{first} lr=" not in tip.text and f"{second} lr=" in tip.text  # a hidden optimiser leaves the read-out
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
