"""The page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium.  Skipped where they are not installed, unless
MDIFF_REQUIRE_BROWSER=1 (CI sets it: there these tests must run)."""

import os
import shutil
import tempfile
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from web_helpers import server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing():
    for module in ("selenium", "starlette", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install '.[test,web]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


if _missing():
    if os.environ.get("MDIFF_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"MDIFF_REQUIRE_BROWSER=1 but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 60


@pytest.fixture(scope="module")
def url():
    with server("--workers", "2") as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="mdiff-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1100,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition):
    """Until ``condition`` holds (the page re-renders: an element may go stale meanwhile)."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException]) \
        .until(condition)


def _results(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#results .result")


def _type_and_enter(driver, expr, wrt):
    box = driver.find_element(By.NAME, "expr")
    box.clear()
    box.send_keys(expr)
    field = driver.find_element(By.NAME, "wrt")
    field.clear()
    field.send_keys(wrt + Keys.ENTER)


def _plain(driver):
    """The plain-text results shown, read in one step."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#results .result pre.plain')]"
        ".map(e => e.textContent)")


def test_typing_an_expression_shows_the_katex_result_and_its_text(url, browser):
    browser.get(url + "?expr=x")
    _type_and_enter(browser, "tr(A*X*B)", "X")
    _wait(browser, lambda d: _plain(d) == ["A'*B'"])
    card = _results(browser)[0]
    annotation = card.find_element(By.CSS_SELECTOR, ".math .katex annotation")
    assert annotation.get_attribute("textContent") == "A^{\\top} B^{\\top}"
    assert card.find_element(By.CSS_SELECTOR, ".math .katex-html").is_displayed()
    assert "numerically checked" in card.find_element(By.CSS_SELECTOR, ".badge.check").text
    assert card.find_element(By.CSS_SELECTOR, "pre.kron").text == "vec(A'*B')'"
    # the variables table, as mdiff inferred them
    rows = browser.find_elements(By.CSS_SELECTOR, "#variables tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td.name").text for r in rows] == ["A", "X", "B"]
    # the derivation is there (KaTeX too)
    steps = card.find_elements(By.CSS_SELECTOR, "ol.steps li")
    assert len(steps) >= 3 and steps[0].find_elements(By.CSS_SELECTOR, ".katex")
    # KaTeX's fonts came from the package: the page makes no request elsewhere
    hosts = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).host)")
    assert set(hosts) <= {urlparse(url).netloc}


def test_an_error_shows_its_caret_under_the_input(url, browser):
    browser.get(url + "?expr=x")
    _type_and_enter(browser, "x'*A*", "x")
    box = _wait(browser, lambda d: d.find_element(By.ID, "expr-error")
                if d.find_element(By.ID, "expr-error").is_displayed() else None)
    assert "ParseError" in box.text
    caret = box.find_element(By.CSS_SELECTOR, "pre.caret").get_attribute("textContent")
    assert caret.split("\n") == ["x'*A*", " " * 5 + "^"]
    assert "invalid" in browser.find_element(By.NAME, "expr").get_attribute("class")


def test_the_url_holds_the_state(url, browser):
    browser.get(url + "?expr=x")
    _type_and_enter(browser, "x'*A*x", "x")
    _wait(browser, lambda d: _plain(d) == ["(A + A')*x"])
    prop = browser.find_element(By.CSS_SELECTOR, "select[aria-label='property of A']")
    prop.find_element(By.CSS_SELECTOR, "option[value='symmetric']").click()
    _wait(browser, lambda d: _plain(d) == ["2*A*x"])
    shared = browser.current_url
    query = parse_qs(urlparse(shared).query)
    assert query["expr"] == ["x'*A*x"] and query["wrt"] == ["x"]
    assert query["d"] == ["A: matrix(n,n) symmetric"]
    browser.get(url)                        # somewhere else, then the shared link
    _wait(browser, lambda d: _plain(d) == ["B*X*A + B'*X*A'"])   # the first example
    browser.get(shared)
    _wait(browser, lambda d: _plain(d) == ["2*A*x"])
    assert browser.find_element(By.NAME, "expr").get_attribute("value") == "x'*A*x"
    assert browser.find_element(By.NAME, "wrt").get_attribute("value") == "x"


def _shown(driver, element_id):
    e = driver.find_element(By.ID, element_id)
    return e if e.is_displayed() else None


def test_a_bad_declaration_in_a_shared_link_is_shown_and_can_be_removed(url, browser):
    query = urlencode({"expr": "x'*A*x", "wrt": "x", "d": "A: matrix(n"})
    browser.get(url + "?" + query)        # the first load: no table of variables yet
    box = _wait(browser, lambda d: _shown(d, "declare-error"))
    assert "ParseError" in box.text
    assert box.find_element(By.CSS_SELECTOR, "pre.caret").get_attribute(
        "textContent").startswith("A: matrix(n")
    assert not _results(browser)
    box.find_element(By.CSS_SELECTOR, "button.remove-declaration").click()
    _wait(browser, lambda d: _plain(d) == ["(A + A')*x"])
    assert "d" not in parse_qs(urlparse(browser.current_url).query)
    assert not browser.find_element(By.ID, "declare-error").is_displayed()


def test_an_error_leaves_no_earlier_result_on_screen(url, browser):
    browser.get(url + "?" + urlencode({"expr": "norm2(A*x - b)^2", "wrt": "x", "solve": "1"}))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#solve-card .classification"))
    assert len(_plain(browser)) == 1
    box = browser.find_element(By.NAME, "expr")
    box.clear()
    box.send_keys("x'*A*" + Keys.ENTER)
    _wait(browser, lambda d: _shown(d, "expr-error"))
    assert _plain(browser) == [] and not _results(browser)
    assert not browser.find_element(By.ID, "solve-card").is_displayed()


def test_the_code_is_copied(url, browser):
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": url.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.get(url + "?expr=tr(A*X*B)&wrt=X")
    _wait(browser, lambda d: _plain(d) == ["A'*B'"])
    card = _results(browser)[0]
    card.find_element(By.CSS_SELECTOR, "details.code-box summary").click()
    shown = card.find_element(By.CSS_SELECTOR, "pre.code").get_attribute("textContent")
    assert "def d_X(" in shown
    button = card.find_element(By.CSS_SELECTOR, "button.copy-code")
    button.click()
    _wait(browser, lambda d: "Copied" in button.text)
    copied = browser.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERR ' + e));")
    assert copied == shown


def test_check_my_derivation_and_solve(url, browser):
    browser.get(url + "?expr=norm2(A*x - b)^2&wrt=x")
    _wait(browser, lambda d: len(_plain(d)) == 1)
    field = browser.find_element(By.NAME, "against")
    field.send_keys("2*A'*(A*x - b)" + Keys.ENTER)
    verdict = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#against-result .badge"))
    assert "equal to mdiff" in verdict[0].text and "NOT" not in verdict[0].text
    field.clear()
    field.send_keys("A'*(A*x - b)" + Keys.ENTER)
    _wait(browser, lambda d: "NOT equal" in d.find_element(By.ID, "against-result").text)
    browser.find_element(By.ID, "solve").click()
    kind = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#solve-card .classification"))
    assert kind[0].text == "minimum"
    assert "x = inv(A'*A)*A'*b" in browser.find_element(By.CSS_SELECTOR, "#solve-card pre.plain").text
    assert parse_qs(urlparse(browser.current_url).query)["solve"] == ["1"]


def test_the_seed_examples_and_a_phone_screen(url, browser):
    browser.set_window_size(390, 844)
    try:
        browser.get(url + "?expr=x")
        buttons = {b.text: b for b in browser.find_elements(By.CSS_SELECTOR, "#examples button")}
        buttons["MLP (seed article)"].click()
        _wait(browser, lambda d: len(_plain(d)) == 2)
        assert "y1 = tanh(W1*x + b1)" in _plain(browser)[0]
        buttons["Gaussian likelihood (seed article)"].click()
        kind = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#solve-card .classification"))
        assert kind[0].text == "maximum"
        time.sleep(0.3)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0          # nothing wider than the phone's screen
    finally:
        browser.set_window_size(1100, 900)
