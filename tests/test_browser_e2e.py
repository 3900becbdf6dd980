"""End to end in a real browser: the Streamlit server on a free localhost port, driven by Debian's headless Chromium.

Skipped when /usr/bin/chromium or /usr/bin/chromedriver is missing (``./run.sh test`` installs them).
Screenshots of every page, at desk and portrait-kiosk sizes in English and Chinese, go to $ASSISTANT_SCREENSHOTS
when set, else to a temporary folder; the test prints the path. They show synthetic products only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from app_support import STAFF_NAME, STAFF_PASSWORD, add_staff_account, build_catalog

from assistant.catalog import Catalog
from assistant.shop.i18n import messages
from bench.live_app import chromium, chromium_available
from bench.live_app import streamlit_server as live_server

KIOSK_IDLE_SECONDS = 8  # long enough for the checks below to finish on a busy machine before the reset
STAFF_IDLE_MINUTES = 0.5  # the staff screen locks itself after 30 s without a click
#: A category whose Markdown would show a remote image if facet labels were rendered as Markdown.
IMAGE_CATEGORY = "![x](http://127.0.0.1:9/tracker.png)"
#: Seconds a page may take to answer: generous, since a loaded 2-core machine can take tens of seconds.
WAIT = 120

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not chromium_available(),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def e2e_catalog(tmp_path_factory, tiny_embedder, synthetic_source) -> Path:
    """60 synthetic products (one of them in a category written as a Markdown image) and one staff account."""
    folder = build_catalog(tmp_path_factory.mktemp("e2e") / "catalog", tiny_embedder, synthetic_source)
    catalog = Catalog.open(folder, tiny_embedder.spec.name, create=False)
    catalog.update_fields("SYN-00060", category=IMAGE_CATEGORY)
    catalog.close()
    add_staff_account(folder)
    return folder


@pytest.fixture(scope="module")
def app_url(e2e_catalog):
    """``streamlit run app.py`` on a free port over the e2e catalog with the tiny model, every page set."""
    yield from streamlit_server(e2e_catalog, ASSISTANT_STAFF_IDLE_MINUTES=str(STAFF_IDLE_MINUTES))


@pytest.fixture(scope="module")
def kiosk_only_url(e2e_catalog):
    """A second, fresh server over the same catalog that serves the kiosk only (a store's kiosk machine)."""
    yield from streamlit_server(e2e_catalog, ASSISTANT_PAGES="kiosk")


def streamlit_server(catalog: Path, **settings: str):
    """Run the app until the generator is closed; yields its URL once it answers."""
    env = {
        "ASSISTANT_CATALOG": str(catalog),
        "ASSISTANT_MODEL": "tiny-test",
        "ASSISTANT_KIOSK_IDLE_SECONDS": str(KIOSK_IDLE_SECONDS),
        **settings,
    }
    with live_server("app.py", env, timeout=WAIT) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(1400, 1100) as driver:
        yield driver


SCREENSHOTS_ENV = "ASSISTANT_SCREENSHOTS"


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """$ASSISTANT_SCREENSHOTS (created if needed), else a fresh temporary folder."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


def wait_until(browser, condition, what: str, timeout: float = WAIT):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda d: condition(d), message=f"waiting for {what}")


def card_titles(browser) -> list[str]:
    """Card titles in page order, read in one go (Streamlit replaces elements while it reruns)."""
    return browser.execute_script("return [...document.querySelectorAll('.card-title')].map(e => e.textContent)")


def loaded_card_images(browser) -> int:
    """How many card photos the browser has actually decoded."""
    return browser.execute_script(
        "return [...document.querySelectorAll('div[class*=\"st-key-card-\"] img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )


#: Streamlit draws a placeholder (a "skeleton") while a widget's code is still loading, slowly on a busy machine.
SETTLED = (
    "return !document.querySelector('[data-testid=\"stSkeleton\"]')"
    " && [...document.images].every(i => i.complete)"
)


def settled(browser) -> bool:
    """Every widget drawn (no loading placeholder) and every photo loaded."""
    return browser.execute_script(SETTLED)


def screenshot(browser, path: Path) -> None:
    """Save the top of the page once it has settled (Streamlit scrolls its main container, not the window)."""
    wait_until(browser, settled, f"the page to settle for {path.name}")
    browser.execute_script(
        "document.querySelectorAll('[data-testid=\"stMain\"], section.main').forEach(e => e.scrollTo(0, 0))"
    )
    time.sleep(0.3)
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000


def idle(browser) -> bool:
    """Streamlit has finished running the script (no 'running' indicator)."""
    from selenium.webdriver.common.by import By

    return not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')


#: Labels of every navigation drawn: Streamlit's sidebar list of pages and the app's own top navigation.
NAV_LABELS = (
    'return [...document.querySelectorAll(\'[data-testid="stSidebarNav"] a, [data-testid="stTopNavSection"],'
    " [data-testid=\"stTopNavLink\"]')].map(a => a.innerText.trim().split('\\n').pop())"
)

#: The links of the open dropdown of a top navigation section.
DROPDOWN_LINKS = (
    "return [...document.querySelectorAll('[data-testid=\"stTopNavDropdownLink\"]')]"
    ".map(a => a.innerText.trim().split('\\n').pop())"
)


def staff_menu(browser) -> list[str]:
    """Open the top navigation's *Staff* section, read its links, and close it again."""
    from selenium.webdriver.common.by import By

    sections = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stTopNavSection"]')
    section = next(s for s in sections if s.text.strip().endswith("Staff"))
    section.click()
    wait_until(browser, lambda d: d.execute_script(DROPDOWN_LINKS), "the Staff menu")
    links = browser.execute_script(DROPDOWN_LINKS)
    section.click()
    wait_until(browser, lambda d: not d.execute_script(DROPDOWN_LINKS), "the Staff menu to close")
    return links


def visible_text(browser) -> str:
    return browser.execute_script("return document.body.innerText")


def password_shown(browser) -> bool:
    return browser.execute_script("return document.querySelectorAll('input[type=password]').length") == 1


def test_a_deep_link_to_a_fresh_server_runs_the_whole_app(app_url, browser, e2e_catalog):
    """The first visitor of a new server opens /catalog: app.py still chooses the pages (titles, logo, style),
    no raw list of the page files is drawn while the first run loads, and the signed-out visitor gets
    the sign-in form and nothing of the Catalog page."""
    browser.get(f"{app_url}/catalog")
    seen: set[str] = set()  # every navigation label drawn while the first run loads the model

    def drawn(d) -> bool:
        seen.update(d.execute_script(NAV_LABELS))
        return password_shown(d) and idle(d)

    wait_until(browser, drawn, "the staff sign-in form")
    assert not seen & {"shop", "kiosk", "welcome", "catalog", "merchandiser"}, f"a raw page list was shown: {seen}"
    assert browser.execute_script(NAV_LABELS) == ["Shop", "Staff"]  # sections along the top; pages inside
    assert staff_menu(browser) == ["Staff sign-in"], "signed out, the Staff section holds only the sign-in link"
    assert browser.execute_script("return document.querySelectorAll('img.stLogo').length") == 1
    assert_nothing_of_a_staff_page(browser, e2e_catalog)


def assert_nothing_of_a_staff_page(browser, catalog: Path) -> None:
    text = visible_text(browser)
    assert "Staff sign-in" in text and "In the search index" not in text and "SYN-" not in text
    assert str(catalog) not in browser.page_source and "Draft a category" not in text
    assert browser.execute_script("return document.querySelectorAll('input[type=file]').length") == 0


def sign_in(browser, name: str, password: str, language: str = "en") -> None:
    from selenium.webdriver.common.by import By

    words = messages(language)
    wait_until(browser, password_shown, "the sign-in form")
    name_box = browser.find_element(By.CSS_SELECTOR, f'input[aria-label="{words.text("staff.name")}"]')
    name_box.clear()
    name_box.send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(password)
    click_button(browser, words.text("staff.sign_in"))


def test_staff_sign_in_refuses_a_wrong_password_opens_with_the_right_one_and_locks_when_idle(
    app_url, browser, e2e_catalog, screenshots
):
    browser.get(f"{app_url}/merchandiser")
    wait_until(browser, lambda d: password_shown(d) and idle(d), "the staff sign-in form")
    assert_nothing_of_a_staff_page(browser, e2e_catalog)

    sign_in(browser, STAFF_NAME, "not the password")
    wait_until(browser, lambda d: "Wrong name or password." in visible_text(d) and idle(d), "the refusal")
    assert_nothing_of_a_staff_page(browser, e2e_catalog)

    sign_in(browser, STAFF_NAME, STAFF_PASSWORD)
    wait_until(browser, lambda d: "Draft a category" in visible_text(d) and idle(d), "the Merchandiser page")
    assert browser.execute_script(NAV_LABELS) == ["Shop", "Staff"]  # sections along the top; pages inside
    assert staff_menu(browser) == ["Merchandiser", "Catalog"]
    assert "Signed in as" in visible_text(browser)
    screenshot(browser, screenshots / "merchandiser-signed-in.png")

    click_button(browser, "Sign out")
    wait_until(browser, lambda d: password_shown(d) and "You are signed out." in visible_text(d), "signed out")
    assert_nothing_of_a_staff_page(browser, e2e_catalog)

    sign_in(browser, STAFF_NAME, STAFF_PASSWORD)
    wait_until(browser, lambda d: "Draft a category" in visible_text(d) and idle(d), "signed in again")
    # nobody clicks: the page's own timer locks the screen once the session is idle
    wait_until(
        browser,
        lambda d: password_shown(d) and "without activity" in visible_text(d),
        "the idle lock",
        timeout=STAFF_IDLE_MINUTES * 60 + 30,
    )
    assert_nothing_of_a_staff_page(browser, e2e_catalog)


def test_a_markdown_image_in_a_category_shows_as_text_on_the_kiosk(app_url, browser):
    browser.get(f"{app_url}/kiosk")
    wait_until(browser, lambda d: IMAGE_CATEGORY in visible_text(d), "the category pill, as text")
    assert browser.execute_script("return document.querySelectorAll('img[src*=\"tracker\"]').length") == 0


#: Records, from the first byte of every document, anything that would let a kiosk shopper reach staff pages.
STAFF_WATCH = """
window.__staffSeen = [];
const look = () => {
  const found = [];
  if (document.querySelector('[data-testid="stSidebar"], [data-testid="stSidebarNav"]')) found.push('sidebar');
  if (document.querySelector('input[type=password]')) found.push('password field');
  for (const a of document.querySelectorAll('a')) {
    const where = (a.getAttribute('href') || '') + ' ' + a.innerText;
    if (/catalog|merchandiser|welcome|staff|sign.in/i.test(where)) found.push('link ' + where.trim());
  }
  const text = document.body ? document.body.innerText : '';
  if (/Staff sign-in|Merchandiser/.test(text)) found.push('staff text');
  if (/Page not found|no corresponding file/i.test(text)) found.push('a page-not-found notice');
  window.__staffSeen.push(...found);
};
new MutationObserver(look).observe(document, {childList: true, subtree: true, attributes: true});
"""


#: URLs the app has no page for: each must show the kiosk on a kiosk-only server, with no "page not found" notice
#: (the first one is a fresh server's first visit, which Streamlit answers differently from later ones).
UNKNOWN_PATHS = ("nonexistent", "Catalog", "admin", "%3Cscript%3E")


def test_a_kiosk_only_server_serves_the_kiosk_at_every_url_and_never_shows_staff_links(kiosk_only_url, browser):
    watch = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STAFF_WATCH})
    try:
        for path in (*UNKNOWN_PATHS, "kiosk", "catalog", "merchandiser", "welcome", "shop", ""):
            browser.get(f"{kiosk_only_url}/{path}")
            wait_until(
                browser,
                lambda d: "Find your piece" in visible_text(d) and len(card_titles(d)) == 12 and idle(d),
                f"the kiosk at /{path}",
            )
            assert browser.execute_script("return window.__staffSeen") == [], f"/{path}"
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": watch["identifier"]})


VIEWPORTS = {"desk": (1400, 1000), "portrait": (1080, 1920)}
#: Every page a person can open, at both sizes and in both languages: its path (the product page by its deep
#: link), what shows it is drawn, and whether staff sign in first (signed out, the sign-in form is the page).
PAGES = {
    "shop": ("", ".card-title", False),
    "product": ("?sku=SYN-00003", ".product-title", False),
    "kiosk": ("kiosk", ".kiosk-title", False),
    "kiosk-product": ("kiosk?sku=SYN-00003", ".product-title", False),
    "sign-in": ("catalog", "input[type=password]", False),
    "catalog": ("catalog", '[data-testid="stMetric"]', True),
    "merchandiser": ("merchandiser", '[data-testid="stTabs"]', True),
}
#: Staff pages' second tabs (a table of products; the category list), shot after the page itself.
SECOND_TABS = {"catalog": "catalog-browse", "merchandiser": "merchandiser-categories"}
#: Message keys whose English words must not show on a Chinese page (the pages' own words, not catalog data).
STAFF_PAGE_MESSAGES = ("staff.", "catalog.", "import.", "browse.", "edit.", "trash.", "audit.", "merch.", "common.")


def viewport(browser, name: str) -> None:
    """Exactly this many CSS pixels of page (a window size would include the browser's own bars)."""
    width, height = VIEWPORTS[name]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def wait_drawn(browser, ready_selector: str, what: str) -> None:
    """Until ``ready_selector`` shows, the script has finished and every photo has loaded."""
    from selenium.webdriver.common.by import By

    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ready_selector) and idle(d), f"{what} to draw")
    wait_until(browser, settled, f"the widgets and photos of {what}")


def open_page(browser, url: str, ready_selector: str) -> None:
    browser.get(url)
    wait_drawn(browser, ready_selector, url)


def open_tab(browser, index: int) -> None:
    """Click the page's nth tab and wait until its panel is drawn."""
    tabs = "return [...document.querySelectorAll('[role=tab]')]"
    browser.execute_script(f"{tabs}[{index}].click()")
    wait_until(
        browser,
        lambda d: (
            d.execute_script(f"return {tabs[7:]}[{index}].getAttribute('aria-selected') === 'true'")
            and idle(d)
            and settled(d)
        ),
        f"tab {index}",
    )


def english_phrases(language: str) -> list[str]:
    """The English words of the staff pages' messages (two words or more) that differ in ``language``."""
    english, other = messages("en").entries, messages(language).entries
    return [
        text
        for key, text in english.items()
        if key.startswith(STAFF_PAGE_MESSAGES)
        and isinstance(text, str)
        and "{" not in text
        and len(text.split()) >= 2
        and other[key] != text
    ]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_screenshots_of_every_page(app_url, browser, screenshots, size, language):
    """Every page drawn at both sizes in both languages; in Chinese no English interface words remain."""
    viewport(browser, size)
    english = english_phrases(language) if language != "en" else []
    try:
        for name, (path, ready, staff) in PAGES.items():
            joiner = "&" if "?" in path else "?"
            url = f"{app_url}/{path}{joiner}lang={language}"
            if staff:  # a new browser session: signed out, so the page's URL shows the form first
                open_page(browser, url, "input[type=password]")
                sign_in(browser, STAFF_NAME, STAFF_PASSWORD, language)
                wait_drawn(browser, ready, name)
            else:
                open_page(browser, url, ready)
            screenshot(browser, screenshots / f"{name}-{size}-{language}.png")
            if name in SECOND_TABS:
                open_tab(browser, 1)
                screenshot(browser, screenshots / f"{SECOND_TABS[name]}-{size}-{language}.png")
            shown = visible_text(browser)
            assert not [e for e in english if e in shown], f"English on the Chinese {name} page"
            if language == "zh" and name in ("shop", "kiosk"):
                assert "馆藏共 60 件" in browser.page_source
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


BAND_CARDS = "return document.querySelectorAll('div[class*=\"st-key-open-band-\"]').length"


def test_search_then_like_keeps_the_grid_in_place(app_url, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(app_url)
    box = wait_until(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, 'input[aria-label="What are you looking for?"]'),
        "the search box",
    )
    wait_until(browser, lambda d: len(card_titles(d)) == 24, "the collection cards")
    assert "60 pieces in the collection" in browser.page_source
    collection = card_titles(browser)

    box.send_keys("xyzzy qwerty", Keys.ENTER)
    wait_until(
        browser,
        lambda d: "No close match" in d.page_source and card_titles(d) != collection and idle(d),
        "the no-close-match answer",
    )
    wait_until(browser, lambda d: loaded_card_images(d) == len(card_titles(d)), "decoded result photos")
    results = card_titles(browser)
    assert 0 < len(results) <= 8

    click_button(browser, "Like", nth=2)
    # the band's own cards: its name is also in the (collapsed) likes tray's help text from the start
    wait_until(browser, lambda d: d.execute_script(BAND_CARDS) > 0 and idle(d), "the Updated for you band")
    assert card_titles(browser)[: len(results)] == results, "nothing moved under the finger"
    liked_buttons = browser.execute_script(
        "return [...document.querySelectorAll('button')].filter(b => b.innerText.trim().endsWith('Liked')).length"
    )
    assert liked_buttons == 1
    assert "Your likes (1)" in browser.page_source
    screenshot(browser, screenshots / "shop-after-like.png")

    # A tap redraws only the parts it changed (ui/redraw.py): taking the like back from the tray redraws
    # the card, the tray and the band, exactly as a whole page would show it.
    browser.execute_script("document.querySelector('.st-key-shop-likes-tray summary').click()")
    click_button(browser, "Remove")
    headings = "return [...document.querySelectorAll('h3')].map(h => h.innerText)"
    wait_until(
        browser,
        lambda d: "Your likes (0)" in d.page_source and "Updated for you" not in d.execute_script(headings) and idle(d),
        "the like taken back",
    )
    assert "Liked" not in visible_text(browser) and card_titles(browser) == results


def test_a_tap_on_a_photo_opens_the_product_page_with_zoom(app_url, browser, screenshots):
    from selenium.webdriver.common.by import By

    browser.get(app_url)
    wait_until(browser, lambda d: len(card_titles(d)) == 24 and idle(d), "the collection cards")
    first = card_titles(browser)[0]
    open_first = (
        "const b = document.querySelector('div[class*=\"st-key-open-shop-\"] button');"
        "if (!b) return false; b.scrollIntoView({block: 'center'}); b.click(); return true;"
    )
    wait_until(browser, lambda d: d.execute_script(open_first), "a card's photo to tap")
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=dialog] .product-title"), "the product page")
    wait_until(browser, lambda d: "sku=" in d.current_url and idle(d), "the deep link")
    assert browser.find_element(By.CSS_SELECTOR, "[role=dialog] .product-title").text == first
    wait_until(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[role=dialog] [class*=st-key-similar-open-]")) == 8,
        "More like this",
    )

    width = "return document.querySelector('.zoom-box img').getBoundingClientRect().width"
    before = browser.execute_script(width)
    browser.find_element(By.CSS_SELECTOR, ".zoom-box label").click()
    wait_until(browser, lambda d: d.execute_script(width) > 2 * before, "the photo to zoom in")
    screenshot(browser, screenshots / "product-zoomed.png")

    browser.find_element(By.CSS_SELECTOR, "[role=dialog] button[aria-label=Close]").click()
    wait_until(
        browser,
        lambda d: "sku=" not in d.current_url and not d.find_elements(By.CSS_SELECTOR, "[role=dialog]"),
        "the page without the dialog",
    )


CLICK_BY_TEXT = """
const [label, nth] = arguments;
const buttons = [...document.querySelectorAll('button')]
    .filter(b => b.innerText.trim().split('\\n').pop().trim() === label && !b.disabled);
if (buttons.length <= nth) return false;
buttons[nth].scrollIntoView({block: 'center'});
buttons[nth].click();
return true;
"""


def click_button(browser, label: str, nth: int = 0) -> None:
    """Click the nth enabled button labelled ``label`` (after any icon), found and clicked in one step."""
    wait_until(browser, lambda d: d.execute_script(CLICK_BY_TEXT, label, nth), f"a {label!r} button")


def shortlisted_skus(browser) -> list[str]:
    return browser.execute_script("return [...document.querySelectorAll('.shortlist-sku')].map(e => e.textContent)")


SHORTLIST_LAYOUT = """
const sku = document.querySelector('.shortlist-sku');
const photo = document.querySelector('div[class*="st-key-listed-"] img');
const remove = [...document.querySelectorAll('div[class*="st-key-listed-"] button')].pop();
return {
  skuLines: Math.round(sku.getBoundingClientRect().height / parseFloat(getComputedStyle(sku).lineHeight)),
  photo: photo.getBoundingClientRect().width,
  removeCut: remove.scrollWidth > remove.clientWidth + 1,
  links: [...document.querySelectorAll('.stMain a[href]')].filter(a => getComputedStyle(a).pointerEvents !== 'none'
    && !a.href.startsWith(location.origin)).length,
};
"""


def test_kiosk_in_portrait_shortlist_then_idle_reset(app_url, browser, screenshots):
    viewport(browser, "portrait")
    try:
        browser.get(f"{app_url}/kiosk")
        wait_until(browser, lambda d: len(card_titles(d)) == 12 and loaded_card_images(d) == 12, "the kiosk's tiles")
        assert not browser.execute_script(
            "const s = document.querySelector('[data-testid=\"stSidebar\"]'); return s && s.offsetParent !== null"
        ), "the kiosk hides the navigation"
        camera = browser.execute_script(
            "return document.querySelector('[data-testid=\"stCameraInput\"]').getBoundingClientRect().width"
        )
        assert camera >= 500, f"a big camera preview, not {camera} px"

        click_button(browser, "Necklace")  # a tap instead of typing
        wait_until(browser, lambda d: "pieces match your choices" in d.page_source and idle(d), "necklaces")
        last_touch = time.monotonic()  # no later than the server's record of the shopper's last touch
        click_button(browser, "Add to shortlist")
        wait_until(browser, lambda d: len(shortlisted_skus(d)) == 1, "the shortlist panel")
        wait_until(browser, idle, "the page to settle")
        layout = browser.execute_script(SHORTLIST_LAYOUT)
        assert layout["skuLines"] == 1 and layout["photo"] >= 96 and not layout["removeCut"], layout
        assert layout["links"] == 0, "no link leaves the kiosk"
        heights = browser.execute_script(
            "return [...document.querySelectorAll('div[class*=\"st-key-card-\"] .stButton button')]"
            ".filter(b => b.offsetParent !== null && !b.closest('[class*=\"st-key-open-\"]'))"
            ".map(b => b.getBoundingClientRect().height)"
        )
        assert len(heights) >= 6 and min(heights) >= 56, f"touch targets: {heights}"
        screenshot(browser, screenshots / "kiosk-shortlist-portrait.png")

        # nobody touches the screen: the page's own timer starts the visit over
        wait_until(
            browser,
            lambda d: not shortlisted_skus(d) and "60 pieces in the collection" in d.page_source,
            "the idle reset",
            timeout=KIOSK_IDLE_SECONDS + 30,
        )
        assert time.monotonic() - last_touch >= KIOSK_IDLE_SECONDS
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
