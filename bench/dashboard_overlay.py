"""How long after its tick a level-3 breach shows as the dashboard's overlay.

Runs ``aetheris demo`` (default story: 8 accounts, 40 ticks/s) on a scratch PostgreSQL
database, signs in with Debian's chromium through Playwright, and for every level-3
overlay that arrives while the page is open measures the browser's clock when it showed
minus the breach's event time (the simulated tick's time, which the simulator keeps at
wall-clock time). Run: ``.venv/bin/python bench/dashboard_overlay.py`` (``make bench``).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from infra.db.scratch import scratch_database
from tests.browser.conftest import CHROMIUM, FLAGS, LOGIN_LINE, _free_port, _wait_healthy
from tests.integration.db.conftest import ADMIN_URL

WATCH_SECONDS = 40.0


def main() -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with scratch_database(ADMIN_URL, prefix="aetheris_bench_overlay") as url:
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "aetheris.cli", "demo", "--port", str(port)],
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            found = None
            for line in process.stdout:
                found = LOGIN_LINE.search(line)
                if found:
                    break
            assert found is not None
            threading.Thread(target=process.stdout.read, daemon=True).start()
            _wait_healthy(base, process)
            lags = watch(base, found["email"], found["password"])
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    result = {
        "overlays": len(lags),
        "lag_ms": lags,
        "median_ms": statistics.median(lags) if lags else None,
        "max_ms": max(lags) if lags else None,
    }
    print(describe())
    print(result)
    write_result("dashboard_overlay", result)


def watch(base: str, email: str, password: str) -> list[float]:
    lags: list[float] = []
    seen: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(base + "/")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#nav:not([hidden])")
        signed_in = page.evaluate("Date.now()")
        deadline = time.monotonic() + WATCH_SECONDS
        while time.monotonic() < deadline:
            if not page.locator("#overlay").is_visible():
                page.wait_for_timeout(20)
                continue
            # When the page showed it (its own stamp) against the breach's event time.
            breach, shown, ts = page.evaluate(
                "() => { const o = document.querySelector('#overlay');"
                " return [o.dataset.breach, Number(o.dataset.shownAt), Date.parse(o.dataset.ts)]; }"
            )
            if breach not in seen:
                seen.add(breach)
                if ts >= signed_in:  # raised while the page was open: arrived live
                    lags.append(round(shown - ts, 1))
            page.locator("#overlay-dismiss").dispatch_event("click")
        browser.close()
    return lags


if __name__ == "__main__":
    main()
