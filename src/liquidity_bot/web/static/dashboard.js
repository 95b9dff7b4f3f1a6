// liquidity-bot dashboard: renders /api/state, then every state pushed on /events (SSE).
// Data is written with textContent only (never innerHTML): nothing from the exchange runs here.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fmt(v, places) {
  if (v === null || v === undefined || v === "") return "-";
  const n = Number(v);  // display only: the exact value is the string
  if (!isFinite(n)) return String(v);
  return n.toLocaleString("en-US", {minimumFractionDigits: places, maximumFractionDigits: places});
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-";
}

function verdict(ok) { return el("span", {class: ok ? "ok" : "bad"}, ok ? "met" : "not met"); }

function bookTable(m) {
  const t = el("table", {class: "book", "data-testid": "book-" + m.symbol},
    el("thead", {}, el("tr", {}, el("th", {}, "side"), el("th", {}, "price"), el("th", {}, "qty"))));
  const body = el("tbody");
  const asks = m.asks.slice(0, 8).reverse();
  for (const [p, q, ours] of asks) {
    body.append(el("tr", {class: ours ? "ours ask" : "ask"}, el("td", {}, ours ? "ask (ours)" : "ask"),
      el("td", {class: "num"}, p), el("td", {class: "num"}, fmt(q, 2))));
  }
  for (const [p, q, ours] of m.bids.slice(0, 8)) {
    body.append(el("tr", {class: ours ? "ours bid" : "bid"}, el("td", {}, ours ? "bid (ours)" : "bid"),
      el("td", {class: "num"}, p), el("td", {class: "num"}, fmt(q, 2))));
  }
  t.append(body);
  return t;
}

function quotesTable(m) {
  const t = el("table", {"data-testid": "quotes-" + m.symbol},
    el("thead", {}, el("tr", {}, el("th", {}, "our order"), el("th", {}, "price"),
      el("th", {}, "qty"), el("th", {}, "resting since"))));
  const body = el("tbody");
  for (const q of m.quotes) {
    body.append(el("tr", {class: q.side === "BUY" ? "bid quote" : "ask quote"},
      el("td", {}, q.side), el("td", {class: "num"}, q.price), el("td", {class: "num"}, fmt(q.qty, 2)),
      el("td", {}, time(q.since_ms).slice(11))));
  }
  if (!m.quotes.length) body.append(el("tr", {}, el("td", {colspan: 4}, "no resting orders")));
  t.append(body);
  return t;
}

function kpiTable(m) {
  const k = m.kpi || {depth: []};
  const o = m.obligations || {};
  const d2 = k.depth.find(b => b.band_pct === "2") || {};
  const spreadOk = k.our_spread_bps !== null && k.our_spread_bps !== undefined && o.max_spread_pct &&
    Number(k.our_spread_bps) / 100 <= Number(o.max_spread_pct);
  const min = o.min_depth_2pct_quote;
  const rows = [
    ["uptime", m.uptime_pct === null ? "-" : fmt(m.uptime_pct, 2) + " %", "", null],
    ["our spread", k.our_spread_bps ? fmt(Number(k.our_spread_bps) / 100, 3) + " %" : "-",
      o.max_spread_pct ? "≤ " + o.max_spread_pct + " %" : "", spreadOk],
    ["market spread", k.spread_bps ? fmt(Number(k.spread_bps) / 100, 3) + " %" : "-", "", null],
    ["bid depth ±2 %", fmt(d2.bid, 2), min ? "≥ " + min : "", min ? Number(d2.bid) >= Number(min) : null],
    ["ask depth ±2 %", fmt(d2.ask, 2), min ? "≥ " + min : "", min ? Number(d2.ask) >= Number(min) : null],
  ];
  const t = el("table", {"data-testid": "kpi-" + m.symbol},
    el("thead", {}, el("tr", {}, el("th", {}, "KPI"), el("th", {}, "now"), el("th", {}, "obligation"), el("th", {}, ""))));
  const body = el("tbody");
  for (const [name, value, limit, ok] of rows) {
    body.append(el("tr", {}, el("td", {}, name), el("td", {class: "num"}, value), el("td", {}, limit),
      el("td", {}, ok === null ? "" : verdict(ok))));
  }
  t.append(body);
  const bands = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "depth band"), el("th", {}, "bid"), el("th", {}, "ask"))));
  const bb = el("tbody");
  for (const v of k.depth) {
    bb.append(el("tr", {}, el("td", {}, "±" + v.band_pct + " %"), el("td", {class: "num"}, fmt(v.bid, 2)),
      el("td", {class: "num"}, fmt(v.ask, 2))));
  }
  bands.append(bb);
  const md = k.market_depth;
  if (md) {
    bands.append(el("tbody", {}, el("tr", {"data-testid": "market-depth-" + m.symbol},
      el("td", {}, "whole book ±" + md.band_pct + " %"), el("td", {class: "num"}, fmt(md.bid, 2)),
      el("td", {class: "num"}, fmt(md.ask, 2)))));
  }
  return [t, el("h3", {}, "our depth by band (quote), and the whole book's"), bands];
}

function markoutTable(m) {
  const mk = m.markouts;
  const t = el("table", {"data-testid": "markouts-" + m.symbol});
  if (!mk) return t;
  const hs = mk.horizons_s;
  t.append(el("thead", {}, el("tr", {}, el("th", {}, "markout (bps)"), ...hs.map(h => el("th", {}, h + " s")))));
  const body = el("tbody");
  for (const [name, key] of [["our buys", "buy"], ["our sells", "sell"], ["all", "all"]]) {
    body.append(el("tr", {}, el("td", {}, name), ...hs.map(h => {
      const c = mk[key][String(h)];
      return el("td", {class: "num"}, c.bps === null ? "-" : fmt(c.bps, 2) + " (" + c.fills + ")");
    })));
  }
  t.append(body);
  return t;
}

function estimateTable(m) {
  const e = m.estimates;
  const t = el("table", {"data-testid": "estimates-" + m.symbol});
  if (!e) return t;
  const warm = ok => ok ? "" : " (default)";
  const rows = [["volatility", fmt(e.sigma_pct, 4) + " %/√s" + warm(e.sigma_warm)],
    ["bid: A, κ, trades", fmt(e.a_bid, 4) + "/s, " + fmt(e.kappa_bid, 2) + "/%, " + e.trades_bid],
    ["ask: A, κ, trades", fmt(e.a_ask, 4) + "/s, " + fmt(e.kappa_ask, 2) + "/%, " + e.trades_ask + warm(e.intensity_warm)]];
  const body = el("tbody");
  for (const [name, v] of rows) body.append(el("tr", {}, el("td", {}, name), el("td", {class: "num"}, v)));
  t.append(body);
  return t;
}

function pnlTable(m) {
  const p = m.pnl || {};
  const rows = [["inventory (base)", p.inventory_base], ["inventory (quote)", p.inventory_quote],
    ["inventory value", p.inventory_value], ["realized PnL", p.realized], ["unrealized PnL", p.unrealized],
    ["fees", p.fees_quote], ["total PnL", p.total], ["against holding", p.vs_hold]];
  const t = el("table", {"data-testid": "pnl-" + m.symbol});
  const body = el("tbody");
  for (const [name, v] of rows) body.append(el("tr", {}, el("td", {}, name), el("td", {class: "num"}, fmt(v, 4))));
  t.append(body);
  return t;
}

function renderMarket(m) {
  const met = m.kpi ? m.kpi.met : false;
  const head = el("h2", {}, m.symbol + " ", el("span", {class: "pill", "data-testid": "exchange-" + m.symbol}, m.exchange || "bitrue"), " ", el("span", {class: "pill"}, m.status), " ",
    el("span", {class: "big " + (met ? "ok" : "bad"), "data-testid": "met-" + m.symbol}, met ? "obligations met" : "obligations NOT met"));
  const mid = m.kpi ? m.kpi.mid : null;
  const left = el("div", {}, el("h3", {}, "book (mid " + (mid || "-") + ")"), bookTable(m));
  const centre = el("div", {}, el("h3", {}, "KPIs against obligations"), ...kpiTable(m));
  const right = el("div", {}, el("h3", {}, "our quotes"), quotesTable(m), el("h3", {}, "inventory and PnL"), pnlTable(m),
    el("h3", {}, "markouts of our fills"), markoutTable(m), el("h3", {}, "strategy estimates"), estimateTable(m));
  return el("section", {class: "card", "data-symbol": m.symbol}, head, el("div", {class: "market"}, left, centre, right));
}

function bar(name, used, cap) {
  const pct = cap ? Math.min(100, Math.round(100 * used / cap)) : 0;
  const inner = el("div", {class: pct > 80 ? "hot" : ""});
  inner.style.width = pct + "%";
  return [el("div", {}, name + ": " + used + " / " + cap + " (" + (cap - used) + " left)"), el("div", {class: "bar"}, inner)];
}

function render(s) {
  document.getElementById("title").textContent = s.title;
  document.getElementById("mode").textContent = s.mode || "live";
  document.getElementById("clock").textContent = "state v" + s.version + " · " + time(s.now_ms) + " UTC";
  const markets = document.getElementById("markets");
  markets.replaceChildren(...s.markets.map(renderMarket));
  const budgets = document.getElementById("budgets");
  budgets.replaceChildren(...Object.entries(s.budgets).flatMap(([k, b]) => bar("key " + k, b.used, b.capacity)));
  const rl = document.getElementById("ratelimits");
  rl.replaceChildren(...Object.entries(s.rate_limits).flatMap(([p, b]) => bar(p, b.used, b.limit)));
  const keys = document.querySelector("#keys tbody");
  keys.replaceChildren(...s.keys.map(k => el("tr", {},
    el("td", {}, k.label), el("td", {}, k.status), el("td", {}, k.last_verdict || "never verified"),
    el("td", {class: "num"}, k.age_days), el("td", {class: k.review_overdue ? "bad" : ""}, (k.review_due || "-") + (k.review_overdue ? " (overdue)" : "")))));
  const events = document.getElementById("events");
  events.replaceChildren(...s.events.map(e => el("li", {class: e.level}, time(e.ts_ms).slice(11) + "  " + e.kind + "  " + e.message)));
}

function connect() {
  const conn = document.getElementById("conn");
  const source = new EventSource("/events");
  source.addEventListener("state", ev => {
    conn.textContent = "live"; conn.className = "pill on";
    render(JSON.parse(ev.data));
  });
  source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "pill off"; };
}

document.addEventListener("DOMContentLoaded", () => {
  fetch("/api/state").then(r => r.json()).then(render).catch(() => {});
  connect();
});
