// Inline SVG charts drawn here: no charting library, nothing from another origin.
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const EMERALD = "#0E765E", CRIMSON = "#AF2D2D", SLATE = "#B8C1CC", GOLD = "#C9A050", STEEL = "#2F6792";
const DAY = 86400000;

function dayIndex(iso) { return Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY); }

/** The daily P&L heatmap: one column per week (Monday first), emerald up, crimson down, slate flat. */
export function calendarSvg(rows, money) {
  if (!rows.length) return `<p class="muted">No closed trades in this range.</p>`;
  const days = rows.map((r) => ({ ...r, i: dayIndex(r.date) }));
  const first = Math.min(...days.map((d) => d.i)), last = Math.max(...days.map((d) => d.i));
  const weekday = (i) => (((i + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday: Monday = 0
  const start = first - weekday(first);
  const weeks = Math.floor((last - start) / 7) + 1;
  const top = Math.max(...days.map((d) => Math.abs(Number(d.net_pnl)))) || 1;
  const cell = 16, gap = 3, left = 30, head = 16;
  const width = left + weeks * (cell + gap), height = head + 7 * (cell + gap);
  // The month's short name above the week that holds its 1st, and above the first week
  // unless the second one starts a month (two names would overlap).
  const months = [];
  const startsMonth = (w) => new Date((start + w * 7 + 6) * DAY).getUTCDate() <= 7;
  for (let w = 0; w < weeks; w++) {
    const monday = new Date((start + w * 7) * DAY), sunday = new Date((start + w * 7 + 6) * DAY);
    const shown = startsMonth(w) ? sunday : w === 0 && !(weeks > 1 && startsMonth(1)) ? monday : null;
    if (shown) months.push(`<text class="month" x="${left + w * (cell + gap)}" y="11" font-size="10" fill="${SLATE}">${shown.toLocaleString(undefined, { month: "short", timeZone: "UTC" })}</text>`);
  }
  const names = ["Mon", "", "Wed", "", "Fri", "", "Sun"];
  const labels = names.map((n, k) => (n ? `<text x="0" y="${head + k * (cell + gap) + 12}" font-size="10" fill="${SLATE}">${n}</text>` : "")).join("");
  const cells = days.map((d) => {
    const pnl = Number(d.net_pnl);
    const colour = pnl > 0 ? EMERALD : pnl < 0 ? CRIMSON : SLATE;
    const opacity = pnl === 0 ? 0.5 : 0.35 + 0.65 * Math.min(1, Math.abs(pnl) / top);
    const x = left + Math.floor((d.i - start) / 7) * (cell + gap), y = head + weekday(d.i) * (cell + gap);
    return `<rect class="day" data-date="${esc(d.date)}" data-pnl="${pnl}" x="${x}" y="${y}" width="${cell}" height="${cell}" rx="3" fill="${colour}" fill-opacity="${opacity.toFixed(2)}"><title>${esc(d.date)}: ${esc(money(pnl))} · ${Number(d.trades ?? 0)} trades</title></rect>`;
  }).join("");
  return `<svg viewBox="0 0 ${Math.max(width, 200)} ${height}" style="max-width:${Math.round(Math.max(width, 200) * 1.5)}px" role="img" aria-label="daily P&amp;L calendar">${months.join("")}${labels}${cells}</svg>`;
}

/** The closed-trade equity curve with the rules' equity thresholds as dashed lines. */
export function equitySvg(curve, thresholds, money) {
  const points = curve.filter((p) => p.equity != null);
  if (!points.length) return `<p class="muted">No equity history in this range.</p>`;
  const w = 800, h = 260, padL = 90, padR = 12, padT = 12, padB = 28;
  const values = points.map((p) => Number(p.equity)).concat(thresholds.map((t) => Number(t.equity)));
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
  const x = (k) => padL + (points.length === 1 ? (w - padL - padR) / 2 : (k / (points.length - 1)) * (w - padL - padR));
  const y = (v) => padT + (1 - (v - lo) / (hi - lo)) * (h - padT - padB);
  const path = points.map((p, k) => `${k ? "L" : "M"}${x(k).toFixed(1)},${y(Number(p.equity)).toFixed(1)}`).join(" ");
  const grid = [hi - pad, (hi + lo) / 2, lo + pad].map((v) => `<line x1="${padL}" x2="${w - padR}" y1="${y(v)}" y2="${y(v)}" stroke="${STEEL}" stroke-opacity=".35"/><text x="${padL - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="${SLATE}">${esc(money(v))}</text>`).join("");
  const lines = thresholds.map((t) => `<g class="threshold"><line x1="${padL}" x2="${w - padR}" y1="${y(t.equity)}" y2="${y(t.equity)}" stroke="${CRIMSON}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="${w - padR - 4}" y="${y(t.equity) - 4}" text-anchor="end" font-size="11" fill="#FF8A8A">${esc(t.label)} ${esc(money(t.equity))}</text></g>`).join("");
  const dots = points.length <= 60 ? points.map((p, k) => `<circle cx="${x(k)}" cy="${y(Number(p.equity))}" r="3" fill="${GOLD}"><title>${esc(p.date)}: ${esc(money(p.equity))}</title></circle>`).join("") : "";
  const ends = `<text x="${padL}" y="${h - 8}" font-size="11" fill="${SLATE}">${esc(points[0].date)}</text><text x="${w - padR}" y="${h - 8}" text-anchor="end" font-size="11" fill="${SLATE}">${esc(points[points.length - 1].date)}</text>`;
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="equity curve">${grid}${lines}<path d="${path}" fill="none" stroke="${GOLD}" stroke-width="2"/>${dots}${ends}</svg>`;
}

/** One breakdown (rows with ``key``, ``trades``, ``net_pnl``) as horizontal bars around zero. */
export function breakdownSvg(rows, money) {
  if (!rows.length) return `<p class="muted">Nothing in this range.</p>`;
  const w = 420, row = 22, left = 110, right = 10, h = rows.length * row + 6;
  const top = Math.max(...rows.map((r) => Math.abs(Number(r.net_pnl)))) || 1;
  const mid = left + (w - left - right) / 2, half = (w - left - right) / 2;
  const bars = rows.map((r, k) => {
    const pnl = Number(r.net_pnl), len = (Math.abs(pnl) / top) * half, y = 3 + k * row;
    const x = pnl >= 0 ? mid : mid - len;
    return `<g class="bucket" data-key="${esc(r.key)}"><text x="${left - 6}" y="${y + 14}" text-anchor="end" font-size="11" fill="${SLATE}">${esc(r.key)}</text>
      <rect x="${x}" y="${y + 2}" width="${Math.max(len, 1)}" height="${row - 6}" rx="2" fill="${pnl > 0 ? EMERALD : pnl < 0 ? CRIMSON : SLATE}"><title>${esc(r.key)}: ${esc(money(pnl))} · ${Number(r.trades)} trades</title></rect></g>`;
  }).join("");
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="breakdown"><line x1="${mid}" x2="${mid}" y1="0" y2="${h}" stroke="${STEEL}"/>${bars}</svg>`;
}
