// labstream dashboard: polls the read-only JSON routes and renders them; no framework, no build step.
// The token comes from the login form or the URL fragment (#token=..., never sent to the server), lives
// in sessionStorage and travels only as an Authorization header to this origin.
"use strict";

const API = "/api/v1/dashboard";
const KEY = "labstream.token";
const SVG = "http://www.w3.org/2000/svg";
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const state = { refreshMs: 5000, timer: null, plates: [], plateKey: "", metric: "focus_score", grid: "" };

const $ = (sel) => document.querySelector(sel);

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number" && digits !== undefined) return v.toFixed(digits);
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(3);
  return String(v);
}

function readFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.get("token")) sessionStorage.setItem(KEY, params.get("token"));
  const refresh = Number(params.get("refresh"));
  if (refresh > 0) state.refreshMs = refresh * 1000;
  if (params.has("token")) {  // keep the token out of history and bookmarks
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "#" + rest : ""));
  }
}

async function get(path) {
  const token = sessionStorage.getItem(KEY);
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  if (r.status === 401) throw Object.assign(new Error("token not accepted"), { auth: true });
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()).slice(0, 200));
  return r.json();
}

function fillTable(id, rows, cells, keyAttr) {
  const body = $(id + " tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = el("tr");
    tr.append(el("td", "nothing yet", { colspan: String(cells.length), class: "muted" }));
    body.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = el("tr", null, keyAttr ? { [keyAttr[0]]: keyAttr[1](row) } : {});
    for (const [col, kind, bad, digits] of cells) {
      const v = typeof col === "function" ? col(row) : row[col];
      const td = el("td", kind === "num" ? fmt(v, digits) : v ?? "", { "data-col": typeof col === "string" ? col : "" });
      if (kind === "num") td.classList.add("num");
      if (bad && v) td.classList.add("bad");
      tr.append(td);
    }
    body.append(tr);
  }
}

function scope() {
  const p = $("#project").value;
  return p ? "?project=" + encodeURIComponent(p) : "";
}

function renderStatus(s) {
  const sel = $("#project");
  if (sel.options.length === 1) for (const p of s.projects) sel.append(el("option", p, { value: p }));
  for (const [k, v] of Object.entries(s.catalog)) {
    const n = document.querySelector(`[data-count="${k}"]`);
    if (n) n.textContent = String(v);
  }
  // science panels shown are those the registered pipelines' contracts declare (Faces.dashboard)
  for (const sec of document.querySelectorAll("[data-panel]")) sec.hidden = !s.panels.includes(sec.dataset.panel);
  fillTable("#stages", s.stages, [
    ["stage"], ["pipeline"], ["processed", "num"], ["failed", "num", true], ["quarantined", "num", true],
    ["dlq", "num", true], ["lag", "num"],
  ], ["data-stage", (r) => r.stage]);
  fillTable("#dead", s.dead_letters || [], [["stage"], ["project"], ["error"], ["source"], ["state"]],
    ["data-dead", (r) => r.source]);
  fillTable("#tables", s.tables, [["table"], ["version", "num"], ["rows", "num"]], ["data-table", (r) => r.table]);
  fillTable("#runs", s.runs, [
    ["id"], ["project"], ["pipeline"], ["user"], ["state"],
    [(r) => new Date(r.created_at * 1000).toLocaleString()],
  ], ["data-run", (r) => r.id]);
}

function renderPlates(plates) {
  state.plates = plates;
  document.querySelector('[data-count="plates"]').textContent = String(plates.length);
  const sel = $("#plate");
  const keys = plates.map((p) => p.project + "/" + p.plate);
  const have = Array.from(sel.options).map((o) => o.value);
  if (keys.join("|") !== have.join("|")) {
    sel.replaceChildren(...plates.map((p) => el("option", `${p.plate} (${p.project}, ${p.cells} cells)`, { value: p.project + "/" + p.plate })));
    if (keys.includes(state.plateKey)) sel.value = state.plateKey;
  }
  state.plateKey = sel.value;
}

function colour(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = VIRIDIS[i], b = VIRIDIS[i + 1], f = x - i;
  const ch = (h, k) => parseInt(h.slice(k, k + 2), 16);
  const mix = (k) => Math.round(ch(a, k) + (ch(b, k) - ch(a, k)) * f);
  return `rgb(${mix(1)},${mix(3)},${mix(5)})`;
}

function rowName(i) {
  return i < 26 ? String.fromCharCode(65 + i) : String.fromCharCode(64 + Math.floor(i / 26)) + String.fromCharCode(65 + (i % 26));
}

function renderHeatmap(g) {
  const box = $("#heatmap");
  const metricSel = $("#metric");
  if (metricSel.options.length === 0) {
    for (const m of g.metrics) metricSel.append(el("option", m.replaceAll("_", " "), { value: m }));
    metricSel.value = state.metric;
  }
  const key = JSON.stringify(g);
  if (key === state.grid) return;  // unchanged: keep the DOM (and any hover) as is
  state.grid = key;
  if (!g.found) {
    box.replaceChildren(el("p", "no QC rows for this plate", { class: "muted" }));
    return;
  }
  const cell = g.cols > 24 ? 12 : g.cols > 12 ? 22 : 34;
  const left = 24, top = 18, legend = 44;
  const w = left + g.cols * cell + 8, h = top + g.rows * cell + legend;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${g.metric} per well of plate ${g.plate}`);
  svg.dataset.plate = g.plate;
  svg.dataset.project = g.project;
  svg.dataset.metric = g.metric;
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (let c = 0; c < g.cols; c++) add("text", { x: left + c * cell + cell / 2, y: top - 5, "text-anchor": "middle" }, String(c + 1));
  for (let r = 0; r < g.rows; r++) {
    add("text", { x: left - 6, y: top + r * cell + cell / 2 + 3, "text-anchor": "end" }, rowName(r));
    for (let c = 0; c < g.cols; c++) add("rect", { x: left + c * cell, y: top + r * cell, width: cell, height: cell, class: "empty" });
  }
  const span = g.max !== null && g.min !== null && g.max > g.min ? g.max - g.min : 1;
  for (const wv of g.wells) {
    const fill = wv.value === null ? "#c9ccd3" : colour((wv.value - (g.min ?? 0)) / span);
    const rect = add("rect", {
      x: left + wv.col * cell, y: top + wv.row * cell, width: cell, height: cell, fill, class: "well",
      "data-well": wv.well, "data-value": wv.value === null ? "" : wv.value,
    });
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${wv.well}: ${fmt(wv.value)} (${wv.sites} site${wv.sites === 1 ? "" : "s"})`;
    rect.append(tip);
  }
  const grad = add("defs", {});
  const lg = document.createElementNS(SVG, "linearGradient");
  lg.setAttribute("id", "scale");
  VIRIDIS.forEach((c, i) => {
    const stop = document.createElementNS(SVG, "stop");
    stop.setAttribute("offset", `${(100 * i) / (VIRIDIS.length - 1)}%`);
    stop.setAttribute("stop-color", c);
    lg.append(stop);
  });
  grad.append(lg);
  const ly = top + g.rows * cell + 12, lw = Math.min(240, g.cols * cell);
  add("rect", { x: left, y: ly, width: lw, height: 10, fill: "url(#scale)" });
  add("text", { x: left, y: ly + 24, class: "legend-min" }, fmt(g.min));
  add("text", { x: left + lw, y: ly + 24, "text-anchor": "end", class: "legend-max" }, fmt(g.max));
  add("text", { x: left + lw / 2, y: ly + 24, "text-anchor": "middle" }, g.metric.replaceAll("_", " "));
  box.replaceChildren(svg);
}

async function refreshHeatmap() {
  if (!state.plateKey) return;
  const [project, plate] = [state.plateKey.split("/")[0], state.plateKey.split("/").slice(1).join("/")];
  const q = `?project=${encodeURIComponent(project)}&metric=${encodeURIComponent(state.metric)}`;
  renderHeatmap(await get(`${API}/plates/${encodeURIComponent(plate)}/qc${q}`));
}

function renderOps(ops) {
  fillTable("#costs", ops.costs, [
    ["project"], ["tasks", "num"], ["cost_usd", "num", false, 4], ["cpu_hours", "num", false, 3],
    ["gpu_hours", "num", false, 3],
  ], ["data-project", (r) => r.project]);
  const top = Math.max(0, ...(ops.cost_by_day || []).map((r) => r.cost_usd));
  fillTable("#cost_days", ops.cost_by_day || [], [
    ["day"], ["project"], ["tasks", "num"], ["cost_usd", "num", false, 4],
  ], ["data-day", (r) => r.day + "/" + r.project]);
  document.querySelectorAll("#cost_days tbody tr[data-day]").forEach((tr, i) => {
    const share = top > 0 ? ops.cost_by_day[i].cost_usd / top : 0; // a bar: the day's share of the top day
    const cell = tr.querySelector("td[data-col='cost_usd']");
    cell.style.background = `linear-gradient(to left, #c7d7f5 ${Math.round(100 * share)}%, transparent 0)`;
  });
  fillTable("#storage", ops.storage || [], [
    ["project"], ["tier"], ["objects", "num"], [(r) => r.bytes / 2 ** 30, "num", false, 3],
    ["usd_per_month", "num", false, 4],
  ], ["data-tier", (r) => r.project + "/" + r.tier]);
  const h = (s) => (s === null || s === undefined ? null : s / 3600);
  fillTable("#turnaround", ops.turnaround, [
    ["pipeline"], ["milestone"], ["entities", "num"], [(r) => h(r.total_p50_s), "num", false, 2],
    [(r) => h(r.total_p95_s), "num", false, 2],
    [(r) => (r.slo ? (r.slo_met ? "met: " : "MISSED: ") + r.slo : "")],
  ], ["data-milestone", (r) => r.pipeline + "/" + r.milestone]);
  fillTable("#alerts", ops.alerts, [["name"], ["severity"], ["message"]]);
}

async function refresh() {
  try {
    const [status, plates, hits, samples, ops] = await Promise.all([
      get(API + "/status" + scope()), get(API + "/plates" + scope()),
      get(API + "/hits" + scope()), get(API + "/samples" + scope()), get(API + "/ops" + scope()),
    ]);
    renderOps(ops);
    renderStatus(status);
    renderPlates(plates);
    fillTable("#hits", hits, [
      ["project"], ["rank", "num"], ["perturbation"], ["map", "num", false, 3], ["corrected_p", "num", false, 4],
      ["neighbours"],
    ], ["data-hit", (r) => r.project + "/" + r.perturbation]);
    fillTable("#samples", samples, [
      ["project"], ["sample"], ["variants", "num"], ["pass", "num"], ["snp", "num"], ["indel", "num"],
      ["mean_depth", "num", false, 1], ["fraction_10x", "num", false, 3],
    ], ["data-sample", (r) => r.project + "/" + r.sample]);
    await refreshHeatmap();
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (err) {
    if (err.auth) return signOut("That token was not accepted.");
    $("#updated").textContent = "refresh failed: " + err.message;
  }
}

function start() {
  $("#login").hidden = true;
  $("#main").hidden = false;
  $("#signout").hidden = false;
  refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, state.refreshMs);
}

function signOut(message) {
  clearInterval(state.timer);
  sessionStorage.removeItem(KEY);
  $("#main").hidden = true;
  $("#signout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
}

document.addEventListener("DOMContentLoaded", () => {
  readFragment();
  $("#login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("#token").value.trim());
    $("#token").value = "";
    start();
  });
  $("#signout").addEventListener("click", () => signOut(""));
  $("#project").addEventListener("change", () => { state.grid = ""; $("#plate").replaceChildren(); refresh(); });
  $("#plate").addEventListener("change", (e) => { state.plateKey = e.target.value; refreshHeatmap(); });
  $("#metric").addEventListener("change", (e) => { state.metric = e.target.value; refreshHeatmap(); });
  if (sessionStorage.getItem(KEY)) start(); else signOut("");
});
