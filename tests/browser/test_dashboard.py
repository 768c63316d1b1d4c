"""The trader's page in a real browser: sign in with TOTP, a simulated account's level-3
overlay, dismissal, the alert history, analytics of one account and of all of them, and
no overflow at 390 and 1440 px."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, FilePayload, Page, Route, expect

from tests.browser.conftest import Demo

pytestmark = pytest.mark.integration

# Long enough for a loaded, shared machine; every wait ends as soon as the page shows it.
SLOW = 90_000

OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth, out = [];
  if (root.scrollWidth > width) out.push(`page ${root.scrollWidth} > ${width}`);
  for (const el of document.querySelectorAll("header *, main *, #banners *")) {
    if (!el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    const name = `${el.tagName}.${el.className}`;
    if (box.right > width + 1) out.push(`${name} right ${box.right} > ${width}`);
    const clipped = getComputedStyle(el).overflowX !== "visible" || el.tagName === "B";
    if (clipped && el.scrollWidth > el.clientWidth + 1 && !el.closest(".chart"))
      out.push(`${name} cuts its content (${el.scrollWidth} > ${el.clientWidth})`);
  }
  return out;
}"""


def go(page: Page, view: str) -> None:
    """Open a view. A level-3 overlay may arrive at any moment and cover the page (that is
    its job), so the click is dispatched to the button rather than aimed at the screen."""
    page.locator(f'#nav button[data-view="{view}"]').dispatch_event("click")
    expect(page.locator(f"#view-{view}")).to_be_visible()


def clear_overlays(page: Page) -> None:
    """Dismiss the level-3 alerts queued behind the one under test."""
    while page.locator("#overlay").is_visible():
        page.locator("#overlay-dismiss").dispatch_event("click")
        page.wait_for_function("() => !document.querySelector('#overlay[data-busy]')")


@pytest.fixture(scope="module")
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    """Signed in at 1440 px with a TOTP code (the next step's: the enrolment used this one)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(demo.base + "/")
    page.fill("#email", demo.email)
    page.fill("#password", demo.password)
    page.fill("#totp", demo.totp.at(time.time() + 30))
    page.click("#login button[type=submit]")
    expect(page.locator("#accounts .card[data-status]")).to_have_count(6, timeout=SLOW)
    yield page
    context.close()


def test_a_wrong_totp_code_is_refused_with_the_reason(browser: Browser, demo: Demo) -> None:
    page = browser.new_page()
    page.goto(demo.base + "/")
    page.fill("#email", demo.email)
    page.fill("#password", demo.password)
    page.fill("#totp", "000000" if demo.totp.now() != "000000" else "111111")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("TOTP", ignore_case=True)
    expect(page.locator("#app")).to_be_hidden()
    page.close()


def test_a_level_3_overlay_arrives_is_dismissed_and_stays_in_the_history(
    page: Page, artifacts: Path
) -> None:
    overlay = page.locator("#overlay")
    expect(overlay).to_be_visible(timeout=SLOW)
    breach_id = overlay.get_attribute("data-breach")
    account = page.locator("#overlay-title").get_attribute("data-account")
    assert breach_id and account
    expect(page.locator("#overlay-rule")).to_contain_text("level 3 reached")
    expect(page.locator("#overlay-numbers")).to_contain_text("limit")
    page.screenshot(path=str(artifacts / "level3-overlay-1440.png"))

    page.click("#overlay-dismiss")
    expect(page.locator("#overlay")).not_to_have_attribute("data-breach", breach_id)

    # The account's card says what the level 3 did to it.
    card = page.locator(f'#accounts .card[data-account="{account}"]')
    expect(card).to_have_attribute("data-status", re.compile("failed|locked"))

    clear_overlays(page)
    go(page, "alerts")
    page.select_option("#alert-filters [name=level]", "3")
    item = page.locator(f'#history li[data-breach="{breach_id}"]')
    expect(item).to_be_visible()
    expect(item).to_have_class("dismissed")
    expect(page.locator("#history li[data-level='1']")).to_have_count(0)
    page.screenshot(path=str(artifacts / "alert-history-1440.png"), full_page=True)

    clear_overlays(page)
    go(page, "analytics")
    # All accounts together first (the picker's first choice), then the one account; the
    # KPI cards name what they were computed for.
    page.select_option("#analytics-filters [name=account]", "*")
    expect(page.locator('#kpis[data-source="*"] .kpi')).to_have_count(10, timeout=SLOW)
    expect(page.locator('#kpis[data-source="*"] [data-kpi="trades"] b')).not_to_have_text("–")
    expect(page.locator("#calendar svg text.month").first).to_be_visible()
    page.select_option("#analytics-filters [name=account]", account)
    expect(page.locator(f'#kpis[data-source="{account}"] .kpi')).to_have_count(10, timeout=SLOW)
    expect(page.locator('#kpis .kpi[data-kpi="trades"] b')).not_to_have_text("–")
    symbol = page.locator('#breakdowns [data-breakdown="by_symbol"] .bucket[data-key="EURUSD"]')
    expect(symbol).to_have_count(1)
    expect(page.locator('#equity svg path[d^="M"]')).to_have_count(1)
    page.screenshot(path=str(artifacts / "analytics-1440.png"), full_page=True)

    # The journal: tag one of the account's closed trades FOMO and see what FOMO cost.
    clear_overlays(page)
    go(page, "journal")
    page.select_option("#journal-filters [name=account_id]", account)
    # Rows carry their account: until the selected account's trades arrive, the list may
    # still show the previous account's.
    rows = page.locator(f'#trades li.trade[data-account="{account}"]')
    closed = rows.filter(has_not_text="open").first
    expect(closed).to_be_visible(timeout=SLOW)
    trade_id = closed.get_attribute("data-trade")
    pnl = closed.locator("span").nth(1).inner_text()
    closed.locator('button[data-emotion="FOMO"]').dispatch_event("click")
    tagged = page.locator(f'#trades li[data-trade="{trade_id}"] button[data-emotion="FOMO"]')
    expect(tagged).to_have_attribute("aria-pressed", "true")
    fomo = page.locator('#emotion-pnl [data-emotion-pnl="FOMO"]')
    expect(fomo).to_contain_text("1 trade")
    expect(fomo.locator("b")).to_have_text(pnl)
    page.screenshot(path=str(artifacts / "journal-1440.png"))
    go(page, "overview")


OPTION_VALUES = "options => options.map((option) => option.value)"
JOURNAL_ACCOUNT = "#journal-filters [name=account_id]"
TRADE_LIST = re.compile(r"/api/v1/trades\?")
TRADE_SAVE = re.compile(r"/api/v1/trades/[^/?]+$")


def journal_accounts(page: Page) -> tuple[str, str]:
    """On the journal, an account with trades listed (selected) and another one."""
    clear_overlays(page)
    go(page, "journal")
    accounts = [
        v for v in page.locator(f"{JOURNAL_ACCOUNT} option").evaluate_all(OPTION_VALUES) if v
    ]
    for account in accounts:
        page.select_option(JOURNAL_ACCOUNT, account)
        expect(page.locator("#trades")).not_to_contain_text("Loading trades", timeout=SLOW)
        if page.locator(f'#trades li.trade[data-account="{account}"]').count():
            return account, next(a for a in accounts if a != account)
    raise AssertionError("no demo account has trades yet")


@contextmanager
def held_requests(page: Page, url: re.Pattern[str]) -> Iterator[list[Route]]:
    """Requests to ``url`` wait until the block ends (or until it is left by an error)."""
    held: list[Route] = []
    holding = True

    def hold(route: Route) -> None:
        if holding:
            held.append(route)
        else:
            route.continue_()

    page.route(url, hold)
    try:
        yield held
    finally:
        holding = False
        for route in held:
            route.continue_()
        page.unroute(url)


def wait_until_held(page: Page, held: list[Route], what: str) -> None:
    deadline = time.monotonic() + SLOW / 1000
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, f"the page did not ask for {what}"


def test_the_journal_shows_no_other_accounts_trades_while_the_next_account_loads(
    page: Page,
) -> None:
    """Rows of the account just left must go the moment the filter changes: a click on one
    of them while the next account's trades load would tag a trade the trader no longer
    sees. The next account's request is held until the list has been checked."""
    shown, following = journal_accounts(page)
    with held_requests(page, TRADE_LIST) as held:
        page.select_option(JOURNAL_ACCOUNT, following)
        wait_until_held(page, held, "the next account's trades")
        expect(page.locator("#trades li.trade")).to_have_count(0)
        expect(page.locator("#trades")).to_contain_text("Loading trades")
    expect(page.locator("#trades")).not_to_contain_text("Loading trades", timeout=SLOW)
    expect(page.locator(f'#trades li.trade[data-account="{shown}"]')).to_have_count(0)
    go(page, "overview")


def test_a_tag_saved_after_the_filter_changed_does_not_bring_its_row_back(page: Page) -> None:
    """A tag's answer that arrives once another account is listed is kept by the server but
    does not put the old account's row into the new list."""
    shown, following = journal_accounts(page)
    row = page.locator(f'#trades li.trade[data-account="{shown}"]').first
    trade_id = row.get_attribute("data-trade")
    # The save is held until the next account is listed, then answers (leaving the block).
    with (
        page.expect_response(TRADE_SAVE, timeout=SLOW) as saved,
        held_requests(page, TRADE_SAVE) as held,
    ):
        row.locator('button[data-emotion="ANCHORING"]').dispatch_event("click")
        wait_until_held(page, held, "the tag to be saved")
        page.select_option(JOURNAL_ACCOUNT, following)
        expect(page.locator("#trades")).not_to_contain_text("Loading trades", timeout=SLOW)
    assert saved.value.ok
    # Let the page's handler of that answer run before looking.
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
    expect(page.locator(f'#trades li[data-trade="{trade_id}"]')).to_have_count(0)
    expect(page.locator(f'#trades li.trade[data-account="{shown}"]')).to_have_count(0)
    # The tag itself was kept: back on its account, the trade shows it.
    page.select_option(JOURNAL_ACCOUNT, shown)
    chip = page.locator(f'#trades li[data-trade="{trade_id}"] button[data-emotion="ANCHORING"]')
    expect(chip).to_have_attribute("aria-pressed", "true", timeout=SLOW)
    go(page, "overview")


REFRESH = re.compile(r"/api/v1/auth/refresh$")
ACCOUNT_LIST = re.compile(r"/api/v1/accounts$")


def test_a_refresh_answered_after_signing_out_neither_signs_back_in_nor_changes_the_reason(
    browser: Browser, demo: Demo
) -> None:
    """A refresh still on its way when the trader signs out (the server's revocation closes
    the live socket, whose close asks for one) answers for a session the page no longer
    holds: the page stays signed out with "Signed out.". The refresh is held until then."""
    page = browser.new_page()
    page.goto(demo.base + "/")
    page.fill("#email", f"trader-{secrets.token_hex(4)}@example.org")
    page.fill("#password", secrets.token_urlsafe(18))
    page.click("#register")
    expect(page.locator("#nav")).to_be_visible()
    with held_requests(page, REFRESH) as held:
        # The next poll of the accounts is refused: the page asks for a refresh, held here.
        page.route(ACCOUNT_LIST, lambda route: route.fulfill(status=401, json={"detail": "x"}))
        wait_until_held(page, held, "a token refresh")
        page.unroute(ACCOUNT_LIST)
        page.click("#logout")
        expect(page.locator("#login-error")).to_have_text("Signed out.")
        with page.expect_response(REFRESH, timeout=SLOW) as refreshed:
            for route in held:
                route.continue_()
            held.clear()
    assert refreshed.value.status == 401  # the server revoked the session at sign-out
    # Let the page's handler of that answer run before looking.
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
    expect(page.locator("#login-error")).to_have_text("Signed out.")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    page.close()


@pytest.mark.parametrize("width", [390, 1440])
def test_nothing_is_cut_off_or_off_screen(page: Page, artifacts: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    go(page, "overview")
    expect(page.locator("#accounts .card[data-status]")).to_have_count(6)
    clear_overlays(page)
    problems = page.evaluate(OVERFLOW)
    page.screenshot(path=str(artifacts / f"overview-{width}.png"), full_page=True)
    assert problems == []
    go(page, "alerts")
    assert page.evaluate(OVERFLOW) == []
    page.screenshot(path=str(artifacts / f"alerts-{width}.png"), full_page=True)
    go(page, "overview")


def test_a_new_user_signs_up_adds_an_account_and_turns_on_two_factor_sign_in(
    browser: Browser, demo: Demo, artifacts: Path
) -> None:
    email, password = f"trader-{secrets.token_hex(4)}@example.org", secrets.token_urlsafe(18)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(demo.base + "/")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#register")  # registers, then signs in
    expect(page.locator("#nav")).to_be_visible()
    # No accounts yet: add one from the overview; its card appears.
    page.locator("#add-account summary").click()
    page.fill("#account-form [name=name]", "My challenge")
    page.select_option("#account-form [name=ruleset]", "ftmo-2step")
    page.locator("#account-form button[type=submit]").click()
    expect(page.locator("#accounts .card", has_text="My challenge")).to_have_count(1, timeout=SLOW)
    go(page, "settings")
    expect(page.locator("#twofa-state")).to_contain_text("Off")
    page.click("#twofa-enrol")
    expect(page.locator("#twofa-qr img")).to_be_visible()
    secret = page.locator("#twofa-secret").inner_text()
    page.fill("#twofa-form [name=code]", pyotp.TOTP(secret).now())
    page.click("#twofa-submit")
    expect(page.locator("#twofa-list li").first).to_be_visible()
    assert page.locator("#twofa-list li").count() >= 8
    expect(page.locator("#twofa-state")).to_contain_text("On")
    assert page.evaluate(OVERFLOW) == []
    page.screenshot(path=str(artifacts / "settings-390.png"), full_page=True)
    # Other users' accounts never ring on this user's page.
    expect(page.locator("#overlay")).to_be_hidden()
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("Signed out.")
    expect(page.locator("#app")).to_be_hidden()
    page.close()

    # The server agrees: a password alone no longer signs in.
    refused = httpx.post(
        f"{demo.base}/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert refused.status_code == 401


def test_the_import_form_says_plainly_when_the_server_cannot_import(page: Page) -> None:
    """The demo runs no sync queue: the form answers with the server's reason, nothing is
    lost silently, and the connections list says the same."""
    clear_overlays(page)
    go(page, "imports")
    page.select_option("#import-form [name=format]", "mt5-html")
    page.set_input_files(
        "#import-form [name=file]",
        files=FilePayload(name="statement.html", mimeType="text/html", buffer=b"<html></html>"),
    )
    page.locator("#import-form button[type=submit]").dispatch_event("click")
    expect(page.locator("#import-error")).to_contain_text("not set up on this server")
    expect(page.locator("#connections")).to_contain_text("not set up on this server")
    go(page, "overview")
