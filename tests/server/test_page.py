"""The results explorer page in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rerank.records import Document
from tests.server.live import live_server

webdriver = pytest.importorskip("selenium.webdriver", reason="the page test needs selenium (dev extra)")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
KEY = "page-test-key"
CORPUS = [
    ("aspirin", "Aspirin trial", "A daily aspirin cut heart attacks by a third. Bleeding was rare."),
    ("statins", None, "Statins lower cholesterol. They also reduce heart attacks."),
    ("weather", None, "The weather was sunny all week at the seaside."),
    ("risk", None, "Aspirin raised the risk of heart attacks in one small study."),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not CHROMEDRIVER.exists():
        pytest.skip("chromium and chromium-driver are not installed (make test installs them with apt-get)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(mini_nli_dir, tmp_path_factory):
    from retrievers import BM25Retriever

    folder = tmp_path_factory.mktemp("page")
    documents = [Document(id=i, title=title, text=text) for i, title, text in CORPUS]
    BM25Retriever(documents).save(folder / "index")
    args = ["--model", str(mini_nli_dir), "--backend", "torch", "--precision", "fp32", "--index", str(folder / "index")]
    with live_server(args, folder / "serve.log", env={"RERANK_API_KEY": KEY}) as live:
        yield live


def _wait(driver, condition, timeout_s: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s).until(condition)


def test_query_shows_both_orders_with_bars_evidence_and_filtered_results(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    key_box = _wait(browser, lambda d: d.find_element(By.ID, "key-box"))
    _wait(browser, lambda d: key_box.is_displayed())  # /info answered 401: the page asks for the key
    key = browser.find_element(By.ID, "api-key")
    key.send_keys(KEY)
    browser.find_element(By.ID, "query").click()  # leaving the field sends its change event
    _wait(browser, lambda d: "mini-nli" in d.find_element(By.ID, "model").text)
    assert browser.find_element(By.ID, "mode-search").is_selected()
    browser.find_element(By.ID, "query").send_keys("Aspirin prevents heart attacks.")
    browser.find_element(By.ID, "min-entailment").send_keys("0.9")
    browser.find_element(By.ID, "run").click()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#reranked .result")) > 0)
    retrieved = browser.find_elements(By.CSS_SELECTOR, "#retrieved .retrieved")
    reranked = browser.find_elements(By.CSS_SELECTOR, "#reranked .result")
    assert len(retrieved) == len(reranked) >= 2
    widths = [bar.get_attribute("style") for bar in browser.find_elements(By.CSS_SELECTOR, "#reranked .bar span")]
    assert len(widths) == 2 * len(reranked) and all("width" in style for style in widths)
    assert browser.find_elements(By.CSS_SELECTOR, "#reranked mark")  # the evidence segment is highlighted
    filtered = browser.find_elements(By.CSS_SELECTOR, "#reranked .result.filtered")
    assert filtered and all("min_entailment 0.9" in card.text for card in filtered)
    assert "pairs" in browser.find_element(By.ID, "status").text
    assert browser.save_screenshot(str(tmp_path / "search.png"))

    browser.find_element(By.ID, "mode-paste").click()
    pasted = browser.find_element(By.ID, "documents")
    pasted.send_keys("Bananas are yellow.\n\nA daily aspirin cut heart attacks by a third.")
    browser.find_element(By.ID, "min-entailment").clear()
    browser.find_element(By.ID, "run").click()
    _wait(browser, lambda d: "Input order" in d.find_element(By.ID, "left-title").text)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#reranked .result")) == 2)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#retrieved .retrieved")) == 2
    assert browser.save_screenshot(str(tmp_path / "paste.png"))
    assert (tmp_path / "paste.png").stat().st_size > 1000


def test_the_api_docs_render_without_internet(browser, server):
    """/docs loads Swagger UI from the server itself (fastapi-offline), so the routes show up offline."""
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/docs")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 5)
    paths = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/rerank", "/search", "/verify", "/classify", "/answers"} <= paths
    scripts = [element.get_attribute("src") for element in browser.find_elements(By.CSS_SELECTOR, "script[src]")]
    assert scripts and all(src.startswith(server.url) for src in scripts)
