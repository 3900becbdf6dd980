"""Load: the real Streamlit server, concurrent headless-Chromium shoppers, and a CLI ingest of 1,000 products.

``streamlit run app.py`` starts on a free localhost port over a catalog of ``--start`` products (tiny
model). ``--sessions`` shoppers, each its own Chromium (Debian's, through ``/usr/bin/chromedriver``) and
so its own Streamlit session thread, then repeat a visit: open the shop, search by words, like a piece,
open the shop again, search by a photo, like a piece. First with nothing else running (the baseline),
then while ``python -m assistant ingest`` adds ``--products`` more. It reports p50 and p99 per action
in both phases and their ratio, and counts errors (a timeout, a traceback or an error box on the page).
At the end every product must be searchable (its own stored vector finds it with the top score),
products == indexed in the catalog folder, and the running server's Catalog page must show the same
two counts: the long-running server saw every commit of the ingest.

    python -m bench.load                          # 8 sessions, 1,000 products ingested
    python -m bench.load --sessions 2 --products 40 --start 20 --rounds 1     # a quick try
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.catalog import Catalog
from assistant.catalog.synthetic import prefixed_copy, write_synthetic_catalog
from assistant.staff.accounts import StaffAccounts
from bench.live_app import REPO, chromium_available, chromium_driver, streamlit_server
from bench.report import format_table, machine_line

MODEL = "tiny-test"
#: Seconds one action may take before it counts as an error (the machine may be shared and busy).
ACTION_TIMEOUT = 120
QUERIES = ("pearl necklace", "rose gold ring", "silver hoop earrings", "diamond bracelet", "珍珠耳环", "gold pendant")
ACTIONS = ("open shop", "text search", "photo search", "like")
ERROR_BOXES = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CLICK_LIKE = """
const buttons = [...document.querySelectorAll('button')]
    .filter(b => b.innerText.trim().split('\\n').pop().trim() === 'Like' && !b.disabled);
if (buttons.length <= arguments[0]) return false;
buttons[arguments[0]].scrollIntoView({block: 'center'});
buttons[arguments[0]].click();
return true;
"""
CARD_TITLES = "return [...document.querySelectorAll('.card-title')].map(e => e.textContent)"
TASTE = "return [...document.querySelectorAll('[data-testid=\"stSidebar\"] p')].map(p => p.innerText).join(' / ')"
CLICK_BUTTON = """
const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === arguments[0] && !b.disabled);
if (!button) return false;
button.click();
return true;
"""
#: The benchmark's own staff account, made in its throw-away catalog.
STAFF_NAME, STAFF_PASSWORD = "bench-staff", "bench-staff-password"
LIKED_COUNT = "return [...document.querySelectorAll('button')].filter(b => b.innerText.trim().endsWith('Liked')).length"


# ----------------------------------------------------------------- the server and the catalog
def cli(*args: str, catalog: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "assistant", "--catalog", str(catalog), "--model", MODEL, *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ----------------------------------------------------------------- one shopper
class Shopper:
    """One Chromium session on the shop page; records each action's seconds and every error."""

    def __init__(self, n: int, url: str, photos: Sequence[Path], record: Callable[[str, str, float | None], None]):
        self.browser = chromium_driver(1280, 1000)
        self.n, self.url, self.photos, self.record = n, url, photos, record
        self.visits = 0

    def close(self) -> None:
        self.browser.quit()

    def wait(self, condition: Callable, what: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        ignored = (StaleElementReferenceException,)
        WebDriverWait(self.browser, ACTION_TIMEOUT, poll_frequency=0.1, ignored_exceptions=ignored).until(
            lambda d: condition(d), message=f"shopper {self.n}: waiting for {what}"
        )

    def settled(self, driver) -> bool:
        """The script run is over: no 'running' widget; an error box on the page is an error."""
        from selenium.webdriver.common.by import By

        if driver.find_elements(By.CSS_SELECTOR, ERROR_BOXES):
            raise RuntimeError(f"shopper {self.n}: the page shows an error")
        return not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')

    def timed(self, phase: str, action: str, run: Callable[[], None]) -> bool:
        start = time.perf_counter()
        try:
            run()
        except Exception as exc:  # a benchmark counts every failure of the app, whatever its kind
            self.record(phase, action, None)
            why = " ".join(str(exc).split())[:400]
            print(f"  error: {action}: {type(exc).__name__}: {why}", flush=True)
            return False
        self.record(phase, action, time.perf_counter() - start)
        return True

    def open_shop(self) -> None:
        from selenium.webdriver.common.by import By

        self.browser.get(self.url)
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, 'input[aria-label="What are you looking for?"]'), "box")
        self.wait(lambda d: len(d.execute_script(CARD_TITLES)) > 0 and self.settled(d), "the collection")

    def text_search(self, query: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        before = self.browser.execute_script(CARD_TITLES)
        box = self.browser.find_element(By.CSS_SELECTOR, 'input[aria-label="What are you looking for?"]')
        box.send_keys(query, Keys.ENTER)
        self.wait(lambda d: "match" in d.page_source and d.execute_script(CARD_TITLES) != before, "results")
        self.wait(self.settled, "the search to finish")

    def photo_search(self, photo: Path) -> None:
        from selenium.webdriver.common.by import By

        before = self.browser.execute_script(CARD_TITLES)
        upload = self.browser.find_element(By.CSS_SELECTOR, '[data-testid="stFileUploaderDropzoneInput"]')
        upload.send_keys(str(photo))
        self.wait(lambda d: "match" in d.page_source and d.execute_script(CARD_TITLES) != before, "results")
        self.wait(self.settled, "the search to finish")

    def like(self) -> None:
        liked = self.browser.execute_script(LIKED_COUNT)
        self.wait(lambda d: d.execute_script(CLICK_LIKE, 2), "a Like button")
        try:
            self.wait(lambda d: d.execute_script(LIKED_COUNT) > liked and self.settled(d), "the like to count")
        except Exception as exc:
            taste = self.browser.execute_script(TASTE)
            raise RuntimeError(f"{exc}; 'Liked' buttons {self.browser.execute_script(LIKED_COUNT)}, {taste!r}") from exc

    def visit(self, phase: str) -> None:
        """Words then a like; a fresh shop page, a photo, then a like. A failed step ends the visit."""
        query = QUERIES[(self.n + self.visits) % len(QUERIES)]
        photo = self.photos[(self.n * 7 + self.visits) % len(self.photos)]
        self.visits += 1
        steps = [
            ("open shop", self.open_shop),
            ("text search", lambda: self.text_search(query)),
            ("like", self.like),
            ("open shop", self.open_shop),
            ("photo search", lambda: self.photo_search(photo)),
            ("like", self.like),
        ]
        for action, run in steps:
            if not self.timed(phase, action, run):
                return


# ----------------------------------------------------------------- the run
class Results:
    """Seconds per (phase, action), and errors per (phase, action); thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.errors: dict[tuple[str, str], int] = defaultdict(int)

    def record(self, phase: str, action: str, seconds: float | None) -> None:
        with self._lock:
            if seconds is None:
                self.errors[phase, action] += 1
            else:
                self.seconds[phase, action].append(seconds)

    def rows(self) -> list[dict]:
        rows = []
        for action in ACTIONS:
            row = {"action": action}
            for phase in ("baseline", "ingest"):
                times = self.seconds.get((phase, action), [])
                row[f"{phase}_n"] = len(times)
                row[f"{phase}_p50_ms"] = float(np.percentile(times, 50) * 1e3) if times else float("nan")
                row[f"{phase}_p99_ms"] = float(np.percentile(times, 99) * 1e3) if times else float("nan")
                row[f"{phase}_errors"] = self.errors.get((phase, action), 0)
            row["p50_ratio"] = row["ingest_p50_ms"] / row["baseline_p50_ms"]
            rows.append(row)
        return rows


def run_phase(shoppers: Sequence[Shopper], phase: str, rounds: int, keep_going: Callable[[], bool]) -> None:
    """Every shopper in its own thread: at least ``rounds`` visits, and more while ``keep_going()``."""

    def shop(shopper: Shopper) -> None:
        done = 0
        while done < rounds or keep_going():
            shopper.visit(phase)
            done += 1

    threads = [threading.Thread(target=shop, args=(s,)) for s in shoppers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check_catalog(root: Path, expected: int) -> dict:
    """Products == indexed == expected, and every product's own vector finds it with the top score."""
    catalog = Catalog.open(root, MODEL)
    ids, vectors = catalog.vectors()
    unsearchable = []
    for pid, vector in zip(ids.tolist(), vectors):
        hits = catalog.search_vector(vector, k=10)
        # missing only if something scoring below the product itself took its place (identical products,
        # same words and photo, tie with it and may fill all k places)
        if pid not in {h.product.id for h in hits} and (len(hits) < 10 or hits[-1].score < vector @ vector - 1e-5):
            unsearchable.append(pid)
    return {
        "products": catalog.count(),
        "indexed": catalog.indexed_count(),
        "expected": expected,
        "unsearchable": len(unsearchable),
    }


def server_counts(shopper: Shopper) -> tuple[str, str]:
    """The running server's own view: the Catalog page's 'Products' and 'In the search index' metrics, read
    after signing in as the benchmark's staff account through the page's own form."""
    from selenium.webdriver.common.by import By

    browser = shopper.browser
    browser.get(f"{shopper.url}/catalog")
    shopper.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=password]"), "the sign-in form")
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Name"]').send_keys(STAFF_NAME)
    browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(STAFF_PASSWORD)
    shopper.wait(lambda d: d.execute_script(CLICK_BUTTON, "Sign in"), "the Sign in button")
    read = (
        "return [...document.querySelectorAll('[data-testid=\"stMetric\"]')].map(m => ["
        "(m.querySelector('[data-testid=\"stMetricLabel\"]')?.innerText || '').trim(),"
        "(m.querySelector('[data-testid=\"stMetricValue\"]')?.innerText || '').trim()]);"
    )
    shopper.wait(lambda d: "In the search index" in d.page_source and shopper.settled(d), "the catalog page")
    metrics = dict(browser.execute_script(read))
    return metrics.get("Products", "?"), metrics.get("In the search index", "?")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help="concurrent Chromium shoppers")
    parser.add_argument("--products", type=int, default=1000, help="products the CLI ingests during the load")
    parser.add_argument("--start", type=int, default=100, help="products in the catalog before the load")
    parser.add_argument("--rounds", type=int, default=2, help="visits per shopper in each phase (at least)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    if not chromium_available():
        raise SystemExit(
            "bench.load needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp = Path(tmp)
        source = write_synthetic_catalog(tmp / "source", n=max(args.products, args.start), seed=1)
        images = source.parent / "images"
        catalog = tmp / "catalog"
        seed = cli(
            "ingest",
            str(prefixed_copy(source, tmp / "start.csv", "START", args.start)),
            "--images",
            str(images),
            catalog=catalog,
        )
        if seed.wait() != 0:
            raise SystemExit(seed.stderr.read())
        StaffAccounts(catalog).add(STAFF_NAME, STAFF_PASSWORD)  # the Catalog page's counts are for staff only
        photos = sorted(images.glob("*.png"))[:50]
        results = Results()
        with streamlit_server("app.py", {"ASSISTANT_CATALOG": str(catalog), "ASSISTANT_MODEL": MODEL}) as url:
            shoppers = [Shopper(n, url, photos, results.record) for n in range(args.sessions)]
            try:
                shoppers[0].open_shop()  # the server's first page loads the model: not part of the baseline
                print(f"{args.sessions} shoppers on {url}; baseline ({args.rounds} visits each)...", flush=True)
                run_phase(shoppers, "baseline", args.rounds, lambda: False)
                print(f"ingesting {args.products} products from the CLI while they shop...", flush=True)
                ingest_csv = prefixed_copy(source, tmp / "more.csv", "MORE", args.products)
                started = time.perf_counter()
                ingest = cli("ingest", str(ingest_csv), "--images", str(images), catalog=catalog)
                run_phase(shoppers, "ingest", args.rounds, lambda: ingest.poll() is None)
                ingest_seconds = time.perf_counter() - started
                if ingest.wait() != 0:
                    raise SystemExit(f"the ingest failed:\n{ingest.stderr.read()}")
                served = server_counts(shoppers[0])
            finally:
                for shopper in shoppers:
                    shopper.close()
        checks = check_catalog(catalog, args.start + args.products)
    return report(args, results, checks, served, ingest_seconds)


def report(args, results: Results, checks: dict, served: tuple[str, str], ingest_seconds: float) -> dict:
    rows = results.rows()
    table = [
        (
            r["action"],
            r["baseline_n"],
            f"{r['baseline_p50_ms']:.0f}",
            f"{r['baseline_p99_ms']:.0f}",
            r["ingest_n"],
            f"{r['ingest_p50_ms']:.0f}",
            f"{r['ingest_p99_ms']:.0f}",
            f"{r['p50_ratio']:.2f}x",
            r["baseline_errors"] + r["ingest_errors"],
        )
        for r in rows
    ]
    headers = ["action", "n", "p50 ms", "p99 ms", "n (ingest)", "p50 ms (ingest)", "p99 ms (ingest)", "p50 ratio"]
    print(machine_line())
    print(f"{args.sessions} Chromium sessions; CLI ingest of {args.products} products took {ingest_seconds:.0f} s")
    print(format_table([*headers, "errors"], table))
    errors = sum(r["baseline_errors"] + r["ingest_errors"] for r in rows)
    server_ok = served == (f"{checks['expected']:,}", f"{checks['expected']:,}")
    print(
        f"after the ingest: products {checks['products']}, indexed {checks['indexed']} "
        f"(expected {checks['expected']}), "
        f"unsearchable {checks['unsearchable']}; the running server's Catalog page: {served[0]} products, "
        f"{served[1]} indexed"
    )
    result = {
        "sessions": args.sessions,
        "ingested": args.products,
        "ingest_seconds": ingest_seconds,
        "rows": rows,
        "errors": errors,
        "checks": checks,
        "server_counts": list(served),
        "ok": errors == 0
        and server_ok
        and checks["unsearchable"] == 0
        and checks["products"] == checks["indexed"] == checks["expected"],
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print("OK" if result["ok"] else "FAILED")
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
