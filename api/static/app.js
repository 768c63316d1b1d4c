// AETHERIS dashboard: plain ES module, served by the API from its own origin.
// Tokens live in memory only; the access token is renewed silently before it expires.
import { breakdownSvg, calendarSvg, equitySvg } from "/static/charts.js";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export const RULES = {
  max_daily_loss: "Daily loss",
  max_loss: "Max loss",
  trailing_drawdown: "Trailing drawdown",
  max_loss_per_trade: "Loss per trade",
  overtrading: "Overtrading",
  tilt: "Tilt (revenge trading)",
};
const COUNT_UNIT = { overtrading: ["trade", "trades"], tilt: ["loss", "losses"] };
const LEVELS = { 1: "Warning", 2: "Danger", 3: "Breach" };
// The templates' level marks (schemas.rulesets default: 70 %, 90 %, 100 % of the limit).
const MARKS = [0.7, 0.9, 1.0];
const STATUS_RANK = { failed: 0, locked: 1, active: 2, passed: 3 };
const RECENT_MS = 12 * 3600 * 1000; // open alerts younger than this ring on sign-in

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clockFmt = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const moneyFmts = new Map();
export function money(value, currency) {
  if (value == null || Number.isNaN(Number(value))) return "–";
  const code = currency && /^[A-Z]{3}$/.test(currency) ? currency : "USD";
  if (!moneyFmts.has(code)) moneyFmts.set(code, new Intl.NumberFormat(undefined, { style: "currency", currency: code }));
  return moneyFmts.get(code).format(Number(value));
}
export function quantity(rule, value) {
  const unit = COUNT_UNIT[rule];
  const n = Math.round(Number(value) * 100) / 100;
  return `${n.toLocaleString()} ${n === 1 ? unit[0] : unit[1]}`;
}
const amount = (rule, value, currency) => (COUNT_UNIT[rule] ? quantity(rule, value) : money(value, currency));
const when = (ts) => (ts ? timeFmt.format(new Date(ts)) : "–");
const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

const store = {
  tokens: null,
  refreshTimer: null,
  pollTimer: null,
  socket: null,
  accounts: new Map(), // id -> account view (with .standing)
  alerts: new Map(), // breach_id -> {breach, dismissed}
  overlayQueue: [],
  sound: true,
  view: "overview",
};

// ---- HTTP with silent refresh -------------------------------------------------------
async function renew() {
  const tokens = store.tokens;
  if (!tokens) return false;
  const answer = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  });
  // Signed out (or renewed by another caller) while this answer was on its way: it speaks
  // of a session the page no longer holds, so it neither signs out again nor signs back in.
  if (store.tokens !== tokens) return false;
  if (!answer.ok) { signedOut("Your session ended; sign in again."); return false; }
  setTokens(await answer.json());
  return true;
}
function setTokens(tokens) {
  store.tokens = tokens;
  clearTimeout(store.refreshTimer);
  const seconds = Math.max(10, (tokens.expires_in ?? 900) - 60);
  store.refreshTimer = setTimeout(renew, seconds * 1000);
}
async function api(path, init = {}) {
  const call = () => fetch(path, { ...init, headers: { ...(init.headers || {}), ...(typeof init.body === "string" ? { "Content-Type": "application/json" } : {}), Authorization: `Bearer ${store.tokens?.access_token}` } });
  let response = await call();
  if (response.status === 401 && store.tokens && (await renew())) response = await call();
  return response;
}

// ---- sign in / out --------------------------------------------------------------------
async function signIn(event) {
  event.preventDefault();
  const body = { email: $("email").value.trim(), password: $("password").value };
  const code = $("totp").value.replace(/\s+/g, "");
  if (code) body.totp_code = code;
  $("login-error").textContent = "";
  const response = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let answer = {};
  try { answer = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    $("login-error").textContent = typeof answer.detail === "string" ? answer.detail : `Sign-in failed (${response.status}).`;
    return;
  }
  $("password").value = ""; $("totp").value = "";
  setTokens(answer);
  $("login").hidden = true;
  for (const id of ["app", "nav", "logout", "sound"]) $(id).hidden = false;
  await loadAccounts();
  await loadAlerts(true);
  store.pollTimer = setInterval(loadAccounts, 2000);
  connect();
}
// A new user registers with the e-mail and password typed in the sign-in form, then signs in.
async function register() {
  const form = $("login");
  if (!form.reportValidity()) return;
  $("login-error").textContent = "";
  const response = await fetch("/api/v1/auth/register", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: $("email").value.trim(), password: $("password").value }),
  });
  if (!response.ok) { $("login-error").textContent = await detail(response); return; }
  await signIn(new Event("submit"));
}

async function addAccount(event) {
  event.preventDefault();
  const form = Object.fromEntries(new FormData($("account-form")));
  $("account-error").textContent = "";
  const response = await api("/api/v1/accounts", {
    method: "POST",
    body: JSON.stringify({ name: String(form.name).trim(), ruleset: form.ruleset, initial_balance: Number(form.initial_balance), currency: String(form.currency).trim().toUpperCase() }),
  });
  if (!response.ok) { $("account-error").textContent = await detail(response); return; }
  $("account-form").reset();
  $("add-account").open = false;
  await loadAccounts();
}

function signedOut(reason) {
  clearTimeout(store.refreshTimer); clearInterval(store.pollTimer);
  store.tokens = null;
  if (store.socket) { store.socket.onclose = null; store.socket.close(); store.socket = null; }
  store.accounts.clear(); store.alerts.clear(); store.overlayQueue = [];
  $("overlay").hidden = true; $("banners").innerHTML = ""; $("accounts").innerHTML = "";
  for (const id of ["app", "nav", "logout", "sound"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
  setLive(false, "offline");
}
async function logout() {
  if (store.tokens) await api("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
  signedOut("Signed out.");
}

// ---- accounts overview ----------------------------------------------------------------
async function loadAccounts() {
  try {
    const response = await api("/api/v1/accounts");
    if (!response.ok) return;
    const views = await response.json();
    const seen = new Set();
    for (const view of views) {
      seen.add(view.id);
      const known = store.accounts.get(view.id);
      // Keep a newer standing from the live stream than what the poll answered.
      if (known?.standing && view.standing && (known.standing.seq ?? 0) > (view.standing.seq ?? 0)) view.standing = known.standing;
      store.accounts.set(view.id, view);
    }
    for (const id of [...store.accounts.keys()]) if (!seen.has(id)) store.accounts.delete(id);
    stamp();
    renderAccounts();
    fillAccountPickers();
  } catch { /* the next poll retries */ }
}
function stamp() { $("updated").textContent = `updated ${clockFmt.format(new Date())} · ${zone}`; }

function worstLevel(standing) { return Math.max(0, ...(standing?.rules ?? []).map((r) => r.level)); }
function severity(view) {
  const s = view.standing;
  if (!s) return [9, 0, 0];
  const top = Math.max(0, ...s.rules.map((r) => r.used_percent));
  return [STATUS_RANK[s.status] ?? 2, -worstLevel(s), -top];
}
function compare(a, b) {
  const x = severity(a), y = severity(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return String(a.name ?? a.id).localeCompare(String(b.name ?? b.id));
}

// The overtrading standing counts what its breach would: trades opened today, or within
// the rule's window when that is nearer its limit (then it carries window_minutes).
function ruleName(rule) {
  const name = RULES[rule.rule] ?? rule.rule;
  if (rule.rule !== "overtrading") return name;
  return rule.window_minutes != null ? `${name} (within ${Number(rule.window_minutes)} min)` : `${name} (today)`;
}

function ruleRow(rule, currency) {
  const name = ruleName(rule);
  const width = Math.min(100, Math.max(0, rule.used_percent));
  const marks = MARKS.map((m) => `<u style="left:calc(${m * 100}% - 1px)" title="level ${MARKS.indexOf(m) + 1}"></u>`).join("");
  let room;
  if (rule.level >= 3) room = `<b class="neg">level 3 reached</b>`;
  else {
    const next = rule.next_level != null && rule.headroom_next != null ? `${amount(rule.rule, rule.headroom_next, currency)} to level ${rule.next_level}` : "";
    const breach = rule.headroom_breach != null ? `${amount(rule.rule, rule.headroom_breach, currency)} to level 3` : "";
    room = [next, rule.next_level === 3 ? "" : breach].filter(Boolean).join(" · ") || "–";
  }
  return `<div class="rule" data-rule="${esc(rule.rule)}">
    <div class="row"><span>${esc(name)}${rule.level ? ` <span class="badge l${rule.level}">L${rule.level}</span>` : ""}</span>
      <span>${amount(rule.rule, rule.used, currency)} / ${amount(rule.rule, rule.limit, currency)} · ${rule.used_percent.toFixed(0)}%</span></div>
    <div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${width.toFixed(0)}" aria-label="${esc(name)} used"><i class="l${rule.level}" style="width:${width}%"></i>${marks}</div>
    <div class="room">left: ${room}</div></div>`;
}

function card(view) {
  const title = esc(view.name || view.id);
  const s = view.standing;
  if (!s) {
    return `<article class="card" data-account="${esc(view.id)}"><div class="card-head"><div><h2>${title}</h2>
      <div class="sub">${esc(view.ruleset)} · ${esc(view.currency)}</div></div></div><p class="muted">Waiting for the first ticks…</p></article>`;
  }
  const cur = s.currency || view.currency;
  const today = s.equity - s.start_of_day_balance;
  const rules = [...s.rules].sort((a, b) => b.level - a.level || b.used_percent - a.used_percent).map((r) => ruleRow(r, cur)).join("");
  const o = s.objectives;
  const objective = o && o.profit_target != null
    ? `<div class="objective">Profit target ${money(o.profit_target, cur)}: ${(o.profit_progress_percent ?? 0).toFixed(1)}% · ${plural(o.trading_days, "trading day", "trading days")}${o.min_trading_days ? ` of ${o.min_trading_days}` : ""}</div>` : "";
  const until = s.status_until ? ` until ${when(s.status_until)}` : "";
  return `<article class="card l${worstLevel(s)} st-${esc(s.status)}" data-account="${esc(view.id)}" data-status="${esc(s.status)}">
    <div class="card-head"><div><h2>${title}</h2><div class="sub">${esc(view.id)} · ${esc(s.ruleset)} · ${esc(cur)}</div></div>
      <span class="badge ${esc(s.status)}" title="${esc(s.status)}${esc(until)}">${esc(s.status.toUpperCase())}</span></div>
    <div class="figures"><div>Balance<b>${money(s.balance, cur)}</b></div><div>Equity<b>${money(s.equity, cur)}</b></div>
      <div>Today's P&amp;L<b class="${today < 0 ? "neg" : today > 0 ? "pos" : ""}">${money(today, cur)}</b></div></div>
    ${rules}${objective}
    <div class="muted" style="margin-top:8px">last tick ${when(s.last_event_time)}${s.status !== "active" ? ` · ${esc(s.status)}${esc(until)}` : ""}</div></article>`;
}

function renderAccounts() {
  const views = [...store.accounts.values()].sort(compare);
  $("accounts").innerHTML = views.length ? views.map(card).join("") : `<p class="muted">No accounts yet: add one with <b>Add an account</b> above.</p>`;
  const count = (status) => views.filter((v) => v.standing?.status === status).length;
  $("summary").innerHTML = `<span><b>${views.length}</b> accounts</span><span><b>${count("active")}</b> active</span>
    <span><b>${count("locked")}</b> locked</span><span><b>${count("failed")}</b> failed</span><span><b>${count("passed")}</b> passed</span>
    <span>times in <b>${esc(zone)}</b></span>`;
}

// ---- live stream ----------------------------------------------------------------------
function setLive(on, text) { $("live").classList.toggle("on", on); $("live-text").textContent = text; }

async function connect() {
  if (!store.tokens) return;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/realtime`;
  let ticket = null;
  try {
    const response = await api("/api/v1/realtime/ticket", { method: "POST" });
    if (response.ok) ticket = (await response.json()).ticket;
    else if (response.status !== 404 && response.status !== 405) throw new Error(String(response.status));
  } catch { setLive(false, "reconnecting…"); setTimeout(connect, 3000); return; }
  const socket = new WebSocket(url);
  store.socket = socket;
  socket.onopen = () => {
    if (ticket) socket.send(JSON.stringify({ type: "auth", ticket }));
    setLive(true, "live");
  };
  socket.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onMessage(message);
  };
  socket.onclose = (event) => {
    if (store.socket !== socket) return;
    store.socket = null;
    setLive(false, "reconnecting…");
    if (event.code === 1008 && store.tokens) { renew().then((ok) => ok && setTimeout(connect, 1000)); return; }
    setTimeout(connect, 2000);
  };
}

function onMessage(message) {
  if (message.kind === "snapshot" || message.kind === "state") {
    const state = message.state;
    if (!state) return;
    const view = store.accounts.get(state.account_id);
    if (view) { view.standing = state; stamp(); renderAccounts(); }
  } else if (message.kind === "breach" && message.breach) {
    // Only the user's own accounts (a stream that is not per user must not ring here).
    if (!store.accounts.has(message.breach.account_id)) return;
    onBreach(message.breach, false);
    stamp();
  } else if (message.kind === "status") {
    loadAccounts();
  } else if (message.kind === "heartbeat") {
    setLive(Boolean(message.live), message.live ? "live" : "live data paused");
  }
}

// ---- Armor alert centre ---------------------------------------------------------------
function accountName(id) { const v = store.accounts.get(id); return v?.name || id; }
function accountCurrency(id) { const v = store.accounts.get(id); return v?.standing?.currency || v?.currency; }

function onBreach(breach, dismissed) {
  if (store.alerts.has(breach.breach_id)) return;
  store.alerts.set(breach.breach_id, { breach, dismissed });
  if (store.view === "alerts") renderHistory();
  if (dismissed || Date.now() - new Date(breach.ts).getTime() > RECENT_MS) return;
  if (breach.level === 3) { store.overlayQueue.push(breach); showOverlay(); alarm(); }
  if (breach.level === 2) renderBanners();
  if (breach.level >= 2) loadAccounts();
}

function renderBanners() {
  const open = [...store.alerts.values()]
    .filter((a) => !a.dismissed && a.breach.level === 2 && Date.now() - new Date(a.breach.ts).getTime() <= RECENT_MS)
    .sort((a, b) => String(b.breach.ts).localeCompare(String(a.breach.ts)));
  const shown = open.slice(0, 3);
  $("banners").innerHTML = shown.map(({ breach: b }) => `<div class="banner" data-breach="${esc(b.breach_id)}">
    <span class="badge l2">LEVEL 2</span><span>${esc(accountName(b.account_id))} · ${esc(RULES[b.rule] ?? b.rule)}:
    ${amount(b.rule, b.value, accountCurrency(b.account_id))} of ${amount(b.rule, b.limit, accountCurrency(b.account_id))}</span>
    <span class="muted">${when(b.ts)}</span><button data-ack="${esc(b.breach_id)}">Acknowledge</button></div>`).join("")
    + (open.length > shown.length ? `<div class="banner">${open.length - shown.length} more level-2 alerts in the history <button data-ack-all="2">Acknowledge all</button></div>` : "");
}

function showOverlay() {
  while (store.overlayQueue.length && store.alerts.get(store.overlayQueue[0].breach_id)?.dismissed) store.overlayQueue.shift();
  const b = store.overlayQueue[0];
  if (!b) { $("overlay").hidden = true; return; }
  const cur = accountCurrency(b.account_id);
  $("overlay-title").textContent = accountName(b.account_id);
  $("overlay-title").dataset.account = b.account_id;
  $("overlay").dataset.breach = b.breach_id;
  $("overlay").dataset.ts = b.ts;
  if ($("overlay").dataset.shownFor !== b.breach_id) { $("overlay").dataset.shownFor = b.breach_id; $("overlay").dataset.shownAt = String(Date.now()); }
  $("overlay-rule").textContent = `${RULES[b.rule] ?? b.rule} · level 3 reached`;
  $("overlay-numbers").textContent = `${amount(b.rule, b.value, cur)} used of a ${amount(b.rule, b.limit, cur)} limit${b.threshold != null ? ` · threshold ${money(b.threshold, cur)}` : ""}`;
  $("overlay-message").textContent = `${b.message} (${when(b.ts)})`;
  $("overlay-more").textContent = store.overlayQueue.length > 1 ? `${store.overlayQueue.length - 1} more level-3 alerts waiting` : "";
  $("overlay").hidden = false;
  $("overlay-dismiss").focus();
}

async function dismiss(breachId) {
  const alert = store.alerts.get(breachId);
  if (alert) alert.dismissed = true;
  try { await api(`/api/v1/alerts/${encodeURIComponent(breachId)}/dismiss`, { method: "POST" }); } catch { /* kept dismissed here */ }
}

let audio = null;
function alarm() {
  if (!store.sound) return;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.type = "square"; tone.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.08, now + i * 0.25); gain.gain.setValueAtTime(0, now + i * 0.25 + 0.18);
      tone.connect(gain).connect(audio.destination); tone.start(now + i * 0.25); tone.stop(now + i * 0.25 + 0.2);
    }
  } catch { /* no audio device: the overlay still shows */ }
}

async function loadAlerts(initial) {
  const form = new FormData($("alert-filters"));
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, value] of form) if (value) params.set(key, String(value));
  try {
    const response = await api(`/api/v1/alerts?${params}`);
    if (!response.ok) return;
    const body = await response.json();
    const items = Array.isArray(body) ? body : body.items ?? [];
    for (const item of [...items].reverse()) {
      const known = store.alerts.get(item.breach.breach_id);
      if (known) known.dismissed = known.dismissed || Boolean(item.dismissed);
      else if (initial) onBreach(item.breach, Boolean(item.dismissed));
      else store.alerts.set(item.breach.breach_id, { breach: item.breach, dismissed: Boolean(item.dismissed) });
    }
    renderHistory();
  } catch { /* shown on the next load */ }
}

function renderHistory() {
  const form = new FormData($("alert-filters"));
  const f = Object.fromEntries(form);
  const rows = [...store.alerts.values()]
    .filter(({ breach: b, dismissed }) => (!f.account_id || b.account_id === f.account_id) && (!f.level || String(b.level) === f.level)
      && (!f.rule || b.rule === f.rule) && (!f.dismissed || String(dismissed) === f.dismissed))
    .sort((a, b) => String(b.breach.ts).localeCompare(String(a.breach.ts)))
    .slice(0, 300);
  $("history").innerHTML = rows.length ? rows.map(({ breach: b, dismissed }) => `<li class="${dismissed ? "dismissed" : ""}" data-breach="${esc(b.breach_id)}" data-account="${esc(b.account_id)}" data-level="${b.level}">
      <span class="badge l${b.level}">${LEVELS[b.level].toUpperCase()}</span><b>${esc(accountName(b.account_id))}</b><span>${esc(RULES[b.rule] ?? b.rule)}</span>
      <span>${amount(b.rule, b.value, accountCurrency(b.account_id))} / ${amount(b.rule, b.limit, accountCurrency(b.account_id))}</span>
      <span class="muted">${when(b.ts)}</span>${dismissed ? `<span class="muted">dismissed</span>` : `<button data-dismiss="${esc(b.breach_id)}">Dismiss</button>`}
      <span class="msg">${esc(b.message)}</span></li>`).join("") : `<li class="muted">No alerts match.</li>`;
}

function fillAccountPickers() {
  const views = [...store.accounts.values()].sort((a, b) => String(a.name ?? a.id).localeCompare(String(b.name ?? b.id)));
  for (const select of [document.querySelector("#alert-filters [name=account_id]"), document.querySelector("#analytics-filters [name=account]"), document.querySelector("#journal-filters [name=account_id]"), document.querySelector("#import-form [name=account_id]")]) {
    const keep = select.value;
    const first = select.closest("#alert-filters") ? `<option value="">all</option>` : select.closest("#analytics-filters") ? bookOptions(views) : "";
    const options = first + views.map((v) => `<option value="${esc(v.id)}">${esc(v.name || v.id)}</option>`).join("");
    if (select.dataset.options !== options) { select.innerHTML = options; select.dataset.options = options; if ([...select.options].some((o) => o.value === keep)) select.value = keep; }
  }
}

// ---- analytics ------------------------------------------------------------------------
// "All accounts" is one book per currency: money in different currencies is never added
// up. Its value starts with "*", which no account id can (ids start with a letter or digit).
function bookOptions(views) {
  const currencies = [...new Set(views.map((v) => v.currency).filter(Boolean))].sort();
  if (currencies.length <= 1) return views.length ? `<option value="*">All accounts</option>` : "";
  return currencies.map((c) => `<option value="*${esc(c)}">All ${esc(c)} accounts</option>`).join("");
}
const analytics = { run: 0 };
const KPIS = [
  ["win_rate", "Win rate", "pct"], ["profit_factor", "Profit factor", "ratio"], ["expectancy", "Expectancy", "money"],
  ["max_drawdown", "Max drawdown", "money"], ["sharpe", "Sharpe", "ratio"], ["trades", "Trades", "count"],
  ["expectancy_r", "Average R", "ratio"], ["average_duration_s", "Average duration", "duration"],
  ["net_pnl", "Net P&L", "money"], ["mfe_mae_ratio", "MFE / MAE", "ratio"],
];
function kpiValue(result, key) {
  for (const section of ["execution", "risk", "returns", "temporal", "mfe_mae", "robustness"]) {
    if (result[section] && key in result[section]) return result[section][key];
  }
  return result[key];
}
function duration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
function kpiText(value, kind, currency) {
  if (value == null) return "–";
  if (value === "Infinity") return "∞";
  if (kind === "pct") return `${(Number(value) * 100).toFixed(1)}%`;
  if (kind === "money") return money(value, currency);
  if (kind === "duration") return duration(Number(value));
  if (kind === "count") return Number(value).toLocaleString();
  return Number(value).toFixed(2);
}

async function loadAnalytics() {
  const form = new FormData($("analytics-filters"));
  const id = form.get("account");
  const run = ++analytics.run;
  if (!id) { $("kpis").innerHTML = `<p class="muted">No account yet.</p>`; return; }
  const book = id.startsWith("*");
  const params = new URLSearchParams();
  if (form.get("from")) params.set("from", new Date(`${form.get("from")}T00:00:00`).toISOString());
  if (form.get("to")) params.set("to", new Date(`${form.get("to")}T00:00:00`).toISOString());
  if (book && id.length > 1) params.set("currency", id.slice(1));
  const response = await api(book ? `/api/v1/metrics?${params}` : `/api/v1/metrics/${encodeURIComponent(id)}?${params}`);
  if (run !== analytics.run) return; // another account or range was picked meanwhile
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).detail; } catch { /* none */ }
    if (run !== analytics.run) return;
    $("kpis").dataset.source = id;
    $("kpis").innerHTML = `<p class="error">Analytics unavailable: ${esc(typeof detail === "string" ? detail : response.status)}</p>`;
    $("calendar").innerHTML = $("equity").innerHTML = $("breakdowns").innerHTML = "";
    return;
  }
  const result = await response.json();
  if (run !== analytics.run) return;
  const view = book ? null : store.accounts.get(id);
  const currency = result.currency || view?.currency || (book && id.length > 1 ? id.slice(1) : undefined);
  $("kpis").dataset.source = id;
  $("kpis").innerHTML = KPIS.map(([key, label, kind]) => `<div class="kpi" data-kpi="${key}"><span>${label}</span><b>${kpiText(kpiValue(result, key), kind, currency)}</b></div>`).join("");
  $("calendar").innerHTML = calendarSvg(result.calendar ?? [], (v) => money(v, currency));
  const thresholds = (view?.standing?.rules ?? []).filter((r) => r.threshold != null).map((r) => ({ label: RULES[r.rule] ?? r.rule, equity: r.threshold }));
  $("equity").innerHTML = equitySvg(result.equity_curve ?? [], thresholds, (v) => money(v, currency));
  const parts = [["by_symbol", "By symbol"], ["by_weekday", "By weekday"], ["by_hour", `By hour (${esc(result.config?.timezone ?? "UTC")})`], ["by_tag", "By tag"]];
  const breakdowns = result.breakdowns ?? {};
  $("breakdowns").innerHTML = parts.map(([key, label]) => `<div class="chart" data-breakdown="${key}"><span class="muted">${label}</span>${breakdownSvg(breakdowns[key] ?? [], (v) => money(v, currency))}</div>`).join("");
}

// ---- journal ----------------------------------------------------------------------------
export const EMOTIONS = { FOMO: "FOMO", REVENGE: "Revenge", OVERCONFIDENCE: "Overconfidence", LOSS_AVERSION: "Loss aversion", ANCHORING: "Anchoring" };
const journal = { cursor: null, trades: new Map(), run: 0 };

function journalQuery(extra = {}) {
  const form = Object.fromEntries(new FormData($("journal-filters")));
  const params = new URLSearchParams({ account_id: String(form.account_id || ""), limit: "100" });
  if (form.from) params.set("from", new Date(`${form.from}T00:00:00`).toISOString());
  if (form.to) params.set("to", new Date(`${form.to}T00:00:00`).toISOString());
  for (const key of ["symbol", "tag", "emotion"]) if (form[key]) params.set(key, String(form[key]).trim());
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

function tradeRow(t) {
  const cur = accountCurrency(t.account_id);
  const chips = Object.entries(EMOTIONS).map(([id, name]) => `<button type="button" class="chip" data-emotion="${id}" aria-pressed="${t.emotions.includes(id)}">${esc(name)}</button>`).join("");
  const pnl = t.pnl == null ? "open" : money(t.pnl, cur);
  return `<li class="trade" data-trade="${esc(t.id)}" data-account="${esc(t.account_id)}">
    <b>${esc(t.symbol)}</b><span>${esc(t.side)} ${Number(t.quantity).toLocaleString()}</span>
    <span class="${(t.pnl ?? 0) < 0 ? "neg" : (t.pnl ?? 0) > 0 ? "pos" : ""}">${pnl}</span>
    <span class="muted">${when(t.exit_time || t.entry_time)}</span>
    <input class="tags" aria-label="tags" placeholder="tags, comma separated" value="${esc(t.tags.join(", "))}">
    <span class="chips">${chips}</span>
    <textarea rows="1" aria-label="notes" placeholder="notes">${esc(t.notes ?? "")}</textarea></li>`;
}

function renderTrades() {
  const side = new FormData($("journal-filters")).get("side");
  const rows = [...journal.trades.values()].filter((t) => !side || t.side === side);
  $("trades").innerHTML = rows.length ? rows.map(tradeRow).join("") : `<li class="muted">No trades match.</li>`;
  $("more-trades").hidden = !journal.cursor;
}

async function loadTrades(more) {
  if (!new FormData($("journal-filters")).get("account_id")) return;
  const params = journalQuery(more && journal.cursor ? { cursor: journal.cursor } : {});
  const run = ++journal.run;
  if (!more) { // the old rows belong to other filters: they must not be tagged meanwhile
    journal.trades.clear();
    $("trades").innerHTML = `<li class="muted">Loading trades…</li>`;
    $("more-trades").hidden = true;
  }
  const response = await api(`/api/v1/trades?${params}`);
  if (run !== journal.run) return; // a newer request is on its way
  if (!response.ok) { $("trades").innerHTML = `<li class="error">Trades unavailable (${response.status}).</li>`; return; }
  const page = await response.json();
  if (!more) journal.trades.clear();
  for (const t of page.items) journal.trades.set(t.id, t);
  journal.cursor = page.next_cursor;
  renderTrades();
}

/** The P&L of the closed trades carrying each emotion (every page, within the filters). */
let emotionRun = 0;
async function loadEmotionPnl() {
  const account = new FormData($("journal-filters")).get("account_id");
  if (!account) return;
  const run = ++emotionRun; // only the latest request draws: an older answer is stale
  const cur = accountCurrency(account);
  const cards = await Promise.all(Object.entries(EMOTIONS).map(async ([id, name]) => {
    let total = 0, count = 0, cursor = null;
    for (let page = 0; page < 20; page++) {
      const params = journalQuery({ emotion: id, status: "closed", limit: "500", ...(cursor ? { cursor } : {}) });
      const response = await api(`/api/v1/trades?${params}`);
      if (!response.ok) break;
      const body = await response.json();
      for (const t of body.items) { total += Number(t.pnl ?? 0); count += 1; }
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return `<div class="kpi" data-emotion-pnl="${id}"><span>${esc(name)}</span><b class="${total < 0 ? "neg" : total > 0 ? "pos" : ""}">${money(total, cur)}</b><span class="muted">${plural(count, "trade", "trades")}</span></div>`;
  }));
  if (run === emotionRun) $("emotion-pnl").innerHTML = cards.join("");
}

async function loadSessions() {
  const account = new FormData($("journal-filters")).get("account_id");
  if (!account) return;
  const response = await api(`/api/v1/sessions?account_id=${encodeURIComponent(account)}&limit=50`);
  if (!response.ok) { $("sessions").innerHTML = ""; return; }
  const sessions = await response.json();
  const cur = accountCurrency(account);
  $("sessions").innerHTML = sessions.length ? sessions.map((s) => `<li data-session="${s.id}"><b>${when(s.started_at)}</b>
    <span>${s.ended_at ? `to ${when(s.ended_at)}` : "open"}</span><span>${plural(s.trade_count, "trade", "trades")}</span>
    <span class="${s.pnl < 0 ? "neg" : s.pnl > 0 ? "pos" : ""}">${money(s.pnl, cur)}</span>${s.tilt ? `<span class="tilt">TILT</span>` : ""}
    ${s.notes ? `<span class="msg">${esc(s.notes)}</span>` : ""}</li>`).join("") : `<li class="muted">No trading sessions recorded.</li>`;
}

async function annotate(tradeId, change) {
  const response = await api(`/api/v1/trades/${encodeURIComponent(tradeId)}`, { method: "PUT", body: JSON.stringify(change) });
  if (!response.ok) {
    let detail = response.status;
    try { detail = (await response.json()).detail; } catch { /* none */ }
    alertLine(`Not saved: ${typeof detail === "string" ? detail : "check the values"}`);
    return;
  }
  const updated = await response.json();
  if (!journal.trades.has(updated.id)) return; // the filters changed while it was saved
  journal.trades.set(updated.id, updated);
  renderTrades();
  loadEmotionPnl();
}
function alertLine(text) { $("trades").insertAdjacentHTML("afterbegin", `<li class="error">${esc(text)}</li>`); }

function loadJournal() { loadTrades(false); loadEmotionPnl(); loadSessions(); }

// ---- import and connections ----------------------------------------------------------------
async function uploadStatement(event) {
  event.preventDefault();
  const form = new FormData($("import-form"));
  const file = form.get("file");
  const account = String(form.get("account_id") || "");
  $("import-error").textContent = "";
  if (!account || !(file instanceof File) || !file.size) { $("import-error").textContent = "Pick an account and a statement file."; return; }
  const params = new URLSearchParams({ format: String(form.get("format")), filename: file.name.replace(/[\\/]/g, "_").slice(0, 200) || "statement" });
  const response = await api(`/api/v1/brokers/sync/${encodeURIComponent(account)}/statement?${params}`, { method: "POST", body: file });
  if (!response.ok) {
    $("import-error").textContent = response.status === 404 || response.status === 405 ? "This server does not import statements." : `Not imported: ${await detail(response)}`;
    return;
  }
  const { job_id: job } = await response.json();
  watchJob(job);
}

async function watchJob(job) {
  const response = await api(`/api/v1/brokers/sync/${encodeURIComponent(job)}`);
  if (!response.ok) { $("import-error").textContent = await detail(response); return; }
  const view = await response.json();
  const { rows_done: done, rows_total: total } = view.progress;
  const log = view.sync_log;
  $("import-job").hidden = false;
  $("import-job").innerHTML = `<b>Import ${esc(view.status)}</b> · ${done}${total != null ? ` of ${total}` : ""} rows
    ${total ? `<div class="bar"><i style="width:${Math.min(100, (100 * done) / total)}%"></i></div>` : ""}
    ${view.error ? `<p class="error">${esc(view.error)}</p>` : ""}
    ${log ? `<p>New ${log.new ?? log.rows_new ?? 0} · updated ${log.updated ?? log.rows_updated ?? 0} · duplicates ${log.duplicate ?? log.rows_duplicate ?? 0} · errors ${log.error ?? log.rows_error ?? 0}</p>
      <pre class="log">${esc(JSON.stringify(log, null, 1))}</pre>` : ""}`;
  if (!["succeeded", "failed", "done", "finished"].includes(view.status)) setTimeout(() => watchJob(job), 1000);
}

async function loadConnections() {
  const accounts = [...store.accounts.values()];
  let problem = "";
  const lists = await Promise.all(accounts.map(async (v) => {
    const response = await api(`/api/v1/accounts/${encodeURIComponent(v.id)}/brokers`);
    if (!response.ok) { problem = response.status === 404 || response.status === 405 ? "This server does not keep broker connections." : await detail(response); return []; }
    return (await response.json()).map((c) => ({ ...c, accountName: v.name || v.id }));
  }));
  const all = lists.flat();
  if (problem && !all.length) { $("connections").innerHTML = `<li class="muted">${esc(problem)}</li>`; return; }
  $("connections").innerHTML = all.length ? all.map((c) => `<li data-connection="${esc(c.id)}"><b>${esc(c.label || c.broker)}</b>
    <span>${esc(c.accountName)}</span><span>${esc(c.kind)} · ${esc(c.broker)}</span>
    <span class="badge ${c.last_error ? "failed" : "active"}">${esc(c.sync_status)}</span>
    <span class="muted">last sync ${when(c.last_sync_at)}</span>${c.last_error ? `<span class="msg error">${esc(c.last_error)}</span>` : ""}</li>`).join("")
    : `<li class="muted">No broker connections.</li>`;
}

// ---- settings ---------------------------------------------------------------------------
async function detail(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    // A validation error lists each field's problem.
    if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc ?? []).slice(-1)[0] ?? ""}: ${d.msg}`).join("; ");
    return `error ${response.status}`;
  } catch { return `error ${response.status}`; }
}

async function loadSettings() {
  $("twofa-error").textContent = ""; $("hook-error").textContent = "";
  const me = await api("/api/v1/auth/me");
  if (me.ok) {
    const user = await me.json();
    $("twofa-state").textContent = user.totp_enabled ? `On for ${user.email}: sign-in asks for a code.` : `Off for ${user.email}.`;
    $("twofa-enrol").hidden = user.totp_enabled;
    $("twofa-form").hidden = !user.totp_enabled;
    $("twofa-form").dataset.mode = user.totp_enabled ? "disable" : "confirm";
    $("twofa-submit").textContent = user.totp_enabled ? "Switch off" : "Confirm";
    $("twofa-setup").hidden = true;
  }
  const email = await api("/api/v1/auth/me/alerts");
  $("email-level3").disabled = !email.ok;
  if (email.ok) { $("email-level3").checked = Boolean((await email.json()).email_level3); $("email-state").textContent = ""; }
  else $("email-state").textContent = email.status === 404 ? "This server does not send e-mail alerts." : await detail(email);
  await loadHooks();
}

async function loadHooks() {
  const response = await api("/api/v1/webhooks");
  if (!response.ok) {
    $("hook-form").hidden = response.status === 404 || response.status === 405;
    $("hook-list").innerHTML = `<li class="muted">${response.status === 404 || response.status === 405 ? "This server does not deliver webhooks." : esc(await detail(response))}</li>`;
    return;
  }
  const hooks = await response.json();
  $("hook-list").innerHTML = hooks.length ? hooks.map((h) => `<li data-hook="${esc(h.id)}"><b>${esc(h.url)}</b>
    <span>levels ${esc(h.levels.join(", "))}</span>${h.is_active ? "" : `<span class="muted">paused</span>`}
    <button data-ping="${esc(h.id)}">Test</button><button data-attempts="${esc(h.id)}">Deliveries</button><button data-remove="${esc(h.id)}">Remove</button>
    <span class="msg" data-detail></span></li>`).join("") : `<li class="muted">No webhooks yet.</li>`;
}

async function hookAction(event) {
  const button = event.target.closest("button");
  if (!button) return;
  const item = button.closest("[data-hook]");
  const out = item?.querySelector("[data-detail]");
  if (button.dataset.remove) {
    const response = await api(`/api/v1/webhooks/${encodeURIComponent(button.dataset.remove)}`, { method: "DELETE" });
    if (!response.ok) $("hook-error").textContent = await detail(response);
    await loadHooks();
  } else if (button.dataset.ping) {
    const response = await api(`/api/v1/webhooks/${encodeURIComponent(button.dataset.ping)}/ping`, { method: "POST" });
    out.textContent = response.ok ? "Test message queued: see its delivery below in a moment." : await detail(response);
  } else if (button.dataset.attempts) {
    const response = await api(`/api/v1/webhooks/${encodeURIComponent(button.dataset.attempts)}/deliveries?limit=20`);
    if (!response.ok) { out.textContent = await detail(response); return; }
    const deliveries = await response.json();
    out.innerHTML = deliveries.length ? deliveries.map((d) => `<div>${esc(d.type)} ${esc(d.event_id)}: <b>${esc(d.status)}</b>, ${plural(d.attempts.length, "attempt", "attempts")}${d.attempts.map((a) => ` · #${a.attempt} ${when(a.started_at)} ${a.status_code ?? ""} ${esc(a.error ?? "")}`).join("")}</div>`).join("") : "No deliveries yet.";
  }
}

async function addHook(event) {
  event.preventDefault();
  const form = new FormData($("hook-form"));
  const body = { url: String(form.get("url")).trim(), levels: String(form.get("levels")).split(",").map(Number) };
  const response = await api("/api/v1/webhooks", { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) { $("hook-error").textContent = await detail(response); return; }
  const created = await response.json();
  $("hook-error").textContent = "";
  $("hook-secret").innerHTML = `Signing secret (shown only now): <code>${esc(created.secret)}</code>`;
  $("hook-form").reset();
  await loadHooks();
}

async function enrol() {
  const response = await api("/api/v1/auth/totp/enrol", { method: "POST" });
  if (!response.ok) { $("twofa-error").textContent = await detail(response); return; }
  const setup = await response.json();
  // The QR code is an SVG drawn by our own server (no script in it); shown as an image.
  $("twofa-qr").innerHTML = `<img alt="QR code for the authenticator app" width="180" height="180" src="data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(setup.qr_svg)))}">`;
  $("twofa-secret").textContent = setup.secret;
  $("twofa-setup").hidden = false; $("twofa-form").hidden = false; $("twofa-enrol").hidden = true;
  $("twofa-form").dataset.mode = "confirm"; $("twofa-submit").textContent = "Confirm";
}

async function twofaSubmit(event) {
  event.preventDefault();
  const code = String(new FormData($("twofa-form")).get("code")).replace(/\s+/g, "");
  const mode = $("twofa-form").dataset.mode;
  const response = await api(`/api/v1/auth/totp/${mode}`, { method: "POST", body: JSON.stringify({ code }) });
  if (!response.ok) { $("twofa-error").textContent = await detail(response); return; }
  $("twofa-form").reset();
  if (mode === "confirm") {
    const { recovery_codes: codes } = await response.json();
    $("twofa-list").innerHTML = codes.map((c) => `<li>${esc(c)}</li>`).join("");
    $("twofa-codes").hidden = false;
  } else $("twofa-codes").hidden = true;
  await loadSettings();
}

// ---- navigation and wiring ------------------------------------------------------------
function show(view) {
  store.view = view;
  for (const button of document.querySelectorAll("#nav button")) button.classList.toggle("on", button.dataset.view === view);
  for (const name of ["overview", "alerts", "analytics", "journal", "imports", "settings"]) $(`view-${name}`).hidden = name !== view;
  if (view === "alerts") { renderHistory(); loadAlerts(false); }
  if (view === "analytics") loadAnalytics();
  if (view === "journal") loadJournal();
  if (view === "settings") loadSettings();
  if (view === "imports") loadConnections();
}

function wire() {
  $("login").addEventListener("submit", signIn);
  $("register").addEventListener("click", register);
  $("account-form").addEventListener("submit", addAccount);
  $("logout").addEventListener("click", logout);
  $("sound").addEventListener("click", () => {
    store.sound = !store.sound;
    $("sound").textContent = store.sound ? "Sound on" : "Sound off";
    $("sound").setAttribute("aria-pressed", String(store.sound));
  });
  $("nav").addEventListener("click", (event) => { const view = event.target.closest("button")?.dataset.view; if (view) show(view); });
  $("overlay-dismiss").addEventListener("click", async () => {
    if ($("overlay").dataset.busy) return;
    $("overlay").dataset.busy = "1";
    const b = store.overlayQueue.shift();
    try { if (b) await dismiss(b.breach_id); } finally { delete $("overlay").dataset.busy; }
    showOverlay();
    if (store.view === "alerts") renderHistory();
  });
  $("banners").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const ids = button.dataset.ack ? [button.dataset.ack]
      : [...store.alerts.values()].filter((a) => !a.dismissed && a.breach.level === 2).map((a) => a.breach.breach_id);
    await Promise.all(ids.map(dismiss));
    renderBanners();
  });
  $("history").addEventListener("click", async (event) => {
    const id = event.target.closest("button")?.dataset.dismiss;
    if (!id) return;
    await dismiss(id);
    renderHistory(); renderBanners(); showOverlay();
  });
  $("alert-filters").addEventListener("change", () => { renderHistory(); loadAlerts(false); });
  $("analytics-filters").addEventListener("change", loadAnalytics);
  $("journal-filters").addEventListener("change", (event) => { if (event.target.name === "side") renderTrades(); else loadJournal(); });
  $("more-trades").addEventListener("click", () => loadTrades(true));
  $("trades").addEventListener("click", (event) => {
    const chip = event.target.closest("button[data-emotion]");
    if (!chip) return;
    const id = chip.closest("[data-trade]").dataset.trade;
    const trade = journal.trades.get(id);
    const on = new Set(trade.emotions);
    if (on.has(chip.dataset.emotion)) on.delete(chip.dataset.emotion); else on.add(chip.dataset.emotion);
    annotate(id, { emotions: [...on] });
  });
  $("trades").addEventListener("change", (event) => {
    const id = event.target.closest("[data-trade]")?.dataset.trade;
    if (!id) return;
    if (event.target.matches("input.tags")) annotate(id, { tags: event.target.value.split(",").map((t) => t.trim()).filter(Boolean) });
    if (event.target.matches("textarea")) annotate(id, { notes: event.target.value });
  });
  document.querySelector("#journal-filters [name=emotion]").innerHTML += Object.entries(EMOTIONS).map(([id, name]) => `<option value="${id}">${esc(name)}</option>`).join("");
  $("import-form").addEventListener("submit", uploadStatement);
  $("twofa-enrol").addEventListener("click", enrol);
  $("twofa-form").addEventListener("submit", twofaSubmit);
  $("hook-form").addEventListener("submit", addHook);
  $("hook-list").addEventListener("click", hookAction);
  $("email-level3").addEventListener("change", async (event) => {
    const response = await api("/api/v1/auth/me/alerts", { method: "PUT", body: JSON.stringify({ email_level3: event.target.checked }) });
    $("email-state").textContent = response.ok ? "Saved." : await detail(response);
  });
  const rules = document.querySelector("#alert-filters [name=rule]");
  rules.innerHTML += Object.entries(RULES).map(([id, name]) => `<option value="${id}">${esc(name)}</option>`).join("");
}

wire();
