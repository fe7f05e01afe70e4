"""The reports in a real browser: headless Chromium (Debian packages ``chromium`` and
``chromium-driver``, driven by Selenium) opens the English and Chinese reports of the canonical
run and the run index; no console errors, no broken images, Chinese text drawn with the embedded
font, and a screenshot that is not blank.

Skipped, with the reason, only where no Chromium/chromedriver is installed (CI installs them).
"""

from __future__ import annotations

import io
import shutil

import pytest

from crmlab import report
from tests.deliverables_support import canonical_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no headless browser: install the Debian packages chromium and chromium-driver "
    "(CI does: apt-get install -y chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        opts.add_argument(arg)
    opts.add_argument("--disable-dev-shm-usage")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, "retail_satisfaction")
    root = tmp_path_factory.mktemp("browser") / "reports"
    copy = root / "retail_satisfaction" / run_dir.name
    shutil.copytree(run_dir, copy)
    return {
        "en": report.build_report(copy, "en"),
        "zh": report.build_report(copy, "zh"),
        "index": report.build_index(root),
    }


def _open(browser, path):
    browser.get(path.as_uri())
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
    )
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def _not_blank(png: bytes) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width >= 800 and img.height >= 600
    colors = img.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50  # text, charts and tables, not one flat colour
    white = sum(n for n, c in colors if min(c) >= 250)
    assert white < 0.97 * img.width * img.height


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_renders_without_errors_or_broken_images(browser, pages, lang, tmp_path):
    errors = _open(browser, pages[lang])
    assert not errors, errors
    images = browser.execute_script(
        "return [...document.images].map(i => [i.complete, i.naturalWidth, i.alt]);"
    )
    assert len(images) >= 10
    broken = [alt for complete, width, alt in images if not (complete and width > 0)]
    assert not broken, broken
    assert browser.execute_script("return document.querySelectorAll('section.stage').length") == 5
    family = browser.execute_script("return getComputedStyle(document.body).fontFamily")
    assert "Liberation Sans" in family  # the inline style sheet applies
    if lang == "zh":
        # the CJK font comes first, so it is loaded before any Chinese text is laid out
        assert family.startswith('"crmlab CJK"'), family
        # the embedded CJK font is loaded and covers the headings (no empty boxes)
        sample = browser.execute_script("return document.querySelector('h1').textContent")
        assert browser.execute_script(
            "return document.fonts.check('16px \"crmlab CJK\"', arguments[0]);", sample
        )
        faces = browser.execute_script("return [...document.fonts].map(f => f.status)")
        assert faces == ["loaded"]
    png = browser.get_screenshot_as_png()
    (tmp_path / f"report-{lang}.png").write_bytes(png)
    _not_blank(png)


def test_index_links_open_the_reports(browser, pages):
    errors = _open(browser, pages["index"])
    assert not errors, errors
    links = browser.execute_script("return [...document.links].map(a => a.href)")
    assert any(h.endswith("/report.html") for h in links)
    assert any(h.endswith("/report.zh.html") for h in links)
    report_link = next(h for h in links if h.endswith("/report.html"))
    browser.get(report_link)
    assert "Retail satisfaction" in browser.title
