// Portcullis audit page. Vanilla JS, no dependencies, served with script-src 'self'.
// Every value from the audit log is attacker-influenced (paths, hosts, principals): it is only
// ever written with textContent / setAttribute, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "portcullis.adminToken";
  const SVG = "http://www.w3.org/2000/svg";
  const FILTERS = ["since", "until", "decision", "reason", "segment", "principal", "client",
    "source_ip", "path_prefix"];

  const $ = (id) => document.getElementById(id);

  // Paging: cursors[i] is the cursor of page i ("" for the first page).
  let cursors = [""];
  let page = 0;
  let nextCursor = "";
  let generation = 0; // ignores answers to superseded requests

  class Unauthorized extends Error {}

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function setState(state) {
    document.body.dataset.state = state;
  }

  async function api(path, params) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== "" && v !== null && v !== undefined) {
        query.set(k, v);
      }
    }
    const response = await fetch(path + (query.toString() ? "?" + query : ""), {
      headers: { "Authorization": "Bearer " + token() },
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 401) {
      throw new Unauthorized("the admin token was not accepted");
    }
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const problem = await response.json();
        detail = problem.detail || problem.title || detail;
      } catch (e) {
        // not problem+json
      }
      throw new Error(detail);
    }
    return response;
  }

  function filters() {
    const form = $("filters");
    const out = {};
    for (const name of FILTERS) {
      out[name] = form.elements[name].value.trim();
    }
    if ($("f-dry-run").checked) {
      out.dry_run = "true";
    }
    return out;
  }

  function showLocked(message) {
    setState("locked");
    $("app").hidden = true;
    $("token-panel").hidden = false;
    $("forget-token").hidden = true;
    $("verify").hidden = true;
    const err = $("token-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("token").focus();
  }

  function showApp() {
    $("token-panel").hidden = true;
    $("app").hidden = false;
    $("forget-token").hidden = false;
    $("verify").hidden = false;
  }

  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  // ---- loading -----------------------------------------------------------------------------

  async function loadAll() {
    cursors = [""];
    page = 0;
    const gen = ++generation;
    setState("loading");
    status("Loading…");
    try {
      await Promise.all([loadPage(gen), loadChart(gen), loadTops(gen), loadDryRun(gen)]);
      if (gen === generation) {
        status("");
        setState("ready");
      }
    } catch (e) {
      failed(e, gen);
    }
  }

  async function loadPageOnly() {
    const gen = ++generation;
    setState("loading");
    try {
      await loadPage(gen);
      if (gen === generation) {
        setState("ready");
      }
    } catch (e) {
      failed(e, gen);
    }
  }

  function failed(e, gen) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLocked("The admin token was not accepted. Enter it again.");
      return;
    }
    if (gen === generation) {
      status("Error: " + e.message, true);
      setState("error");
    }
  }

  async function loadPage(gen) {
    const params = Object.assign(filters(), {
      limit: $("f-limit").value,
      cursor: cursors[page],
    });
    const response = await api("/admin/audit", params);
    const text = await response.text();
    if (gen !== generation) {
      return;
    }
    nextCursor = response.headers.get("X-Next-Cursor") || "";
    const records = text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
    renderRows(records);
    $("prev").disabled = page === 0;
    $("next").disabled = nextCursor === "";
    $("page-label").textContent = "Page " + (page + 1);
  }

  async function loadChart(gen) {
    const width = $("chart").clientWidth || 800;
    const buckets = Math.max(12, Math.min(120, Math.floor(width / 12)));
    const response = await api("/admin/audit/timeline", Object.assign(filters(), { buckets }));
    const timeline = await response.json();
    if (gen === generation) {
      renderChart(timeline);
    }
  }

  async function loadTops(gen) {
    const f = filters();
    const [reasons, segments] = await Promise.all([
      api("/admin/audit/summary",
        Object.assign({}, f, { decision: "deny", group_by: "reason", limit: 8 })),
      api("/admin/audit/summary", Object.assign({}, f, { group_by: "segment", limit: 8 })),
    ]);
    const r = await reasons.json();
    const s = await segments.json();
    if (gen !== generation) {
      return;
    }
    renderBars($("top-reasons"), r.rows, "reason", "(none)");
    renderBars($("top-segments"), s.rows, "segment", "(no segment)");
    fillDatalist($("reasons"), r.rows, "reason");
    fillDatalist($("segments"), s.rows, "segment");
  }

  async function loadDryRun(gen) {
    const f = Object.assign(filters(), {
      dry_run: "true",
      group_by: "dry_run_reason,segment,dry_run_rule",
      limit: 20,
    });
    const response = await api("/admin/audit/summary", f);
    const report = await response.json();
    if (gen !== generation) {
      return;
    }
    const body = $("dry-run-report").tBodies[0];
    body.replaceChildren();
    for (const row of report.rows) {
      const tr = document.createElement("tr");
      cell(tr, row.group.dry_run_reason);
      cell(tr, row.group.segment || "–");
      cell(tr, row.group.dry_run_rule || "–");
      cell(tr, String(row.count), "num");
      body.appendChild(tr);
    }
    $("dry-run-empty").hidden = report.rows.length > 0;
    $("dry-run-report").hidden = report.rows.length === 0;
  }

  // ---- rendering ---------------------------------------------------------------------------

  function cell(tr, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    tr.appendChild(td);
    return td;
  }

  function formatTime(iso) {
    // 2026-11-22T10:00:00.123456Z -> 2026-11-22 10:00:00.123
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(iso || "");
    return m ? m[1] + " " + m[2] + (m[3] || ".000").padEnd(4, "0") : iso || "";
  }

  function renderRows(records) {
    const body = $("results").tBodies[0];
    body.replaceChildren();
    for (const r of records) {
      if (r.unreadable) {
        body.appendChild(unreadableRow(r));
        continue;
      }
      const tr = document.createElement("tr");
      tr.className = r.decision === "deny" ? "deny" : "allow";
      tr.dataset.decisionId = r.decision_id || "";
      cell(tr, formatTime(r.time), "time");
      const decision = cell(tr, r.decision || "", "decision");
      if (r.dry_run_reason) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "dry-run";
        badge.title = "would deny: " + r.dry_run_reason +
          (r.dry_run_rule ? " (" + r.dry_run_rule + ")" : "");
        decision.appendChild(badge);
      }
      cell(tr, String(r.status || ""), "status num");
      cell(tr, r.reason || r.dry_run_reason || "", "reason");
      cell(tr, r.segment || "", "segment");
      cell(tr, r.rule || "", "rule");
      cell(tr, r.principal || "", "principal");
      cell(tr, r.client || "", "client");
      cell(tr, r.method || "", "method");
      const path = cell(tr, r.path || "", "path");
      path.title = (r.host ? r.host : "") + (r.path || "");
      cell(tr, r.source_ip || "", "source-ip");
      cell(tr, r.decision_id || "", "decision-id");
      if (r.detail) {
        tr.title = r.detail;
      }
      body.appendChild(tr);
    }
    $("results-empty").hidden = records.length > 0;
  }

  // A stored record whose bytes cannot be read: the API sends only its time, decision id,
  // instance, seq and hashes, with "unreadable": true. Every other field is unknown, not empty.
  function unreadableRow(r) {
    const tr = document.createElement("tr");
    tr.className = "unreadable";
    tr.dataset.decisionId = r.decision_id || "";
    tr.title = "The stored record (instance " + (r.instance || "?") + ", seq " + (r.seq || "?") +
      ") cannot be read: damaged or edited. Run portcullis audit verify.";
    cell(tr, formatTime(r.time), "time");
    cell(tr, "UNREADABLE", "decision");
    for (const name of ["status num", "reason", "segment", "rule", "principal", "client",
      "method"]) {
      cell(tr, "?", name);
    }
    cell(tr, "instance " + (r.instance || "?") + ", seq " + (r.seq || "?"), "path");
    cell(tr, "?", "source-ip");
    cell(tr, r.decision_id || "", "decision-id");
    return tr;
  }

  function renderBars(list, rows, key, emptyLabel) {
    list.replaceChildren();
    const max = rows.reduce((m, r) => Math.max(m, Number(r.count)), 0);
    for (const row of rows) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = row.group[key] || emptyLabel;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = String(row.count);
      const meter = document.createElement("span");
      meter.className = "meter";
      const fill = document.createElement("span");
      fill.style.width = (max > 0 ? (100 * Number(row.count)) / max : 0) + "%";
      meter.appendChild(fill);
      li.append(name, count, meter);
      list.appendChild(li);
    }
    if (rows.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "nothing in this range";
      list.appendChild(li);
    }
  }

  function fillDatalist(list, rows, key) {
    list.replaceChildren();
    for (const row of rows) {
      if (row.group[key]) {
        const option = document.createElement("option");
        option.value = row.group[key];
        list.appendChild(option);
      }
    }
  }

  function svg(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) {
      el.setAttribute(k, String(v));
    }
    if (parent) {
      parent.appendChild(el);
    }
    return el;
  }

  function niceMax(n) {
    if (n <= 5) {
      return 5;
    }
    const p = Math.pow(10, Math.floor(Math.log10(n)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * p >= n) {
        return m * p;
      }
    }
    return 10 * p;
  }

  function tickLabel(iso, widthSeconds) {
    const d = new Date(iso);
    const hm = d.toISOString().slice(11, 16);
    return widthSeconds >= 3600 ? d.toISOString().slice(5, 10) + " " + hm : hm;
  }

  function renderChart(t) {
    const chart = $("chart");
    chart.replaceChildren();
    $("chart-range").textContent = formatTime(t.since).slice(0, 16) + " – "
      + formatTime(t.until).slice(0, 16) + " UTC, "
      + humanWidth(t.width_seconds) + " per bar";
    const W = 800;
    const H = 200;
    const left = 36;
    const bottom = 18;
    const top = 8;
    const plotW = W - left - 4;
    const plotH = H - bottom - top;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
      role: "img", "aria-label": "allowed and denied decisions over time" }, chart);
    const buckets = t.buckets;
    const max = niceMax(buckets.reduce((m, b) => Math.max(m, b.allow + b.deny), 0));
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH - f * plotH;
      svg("line", { x1: left, x2: W - 4, y1: y, y2: y, class: "axis" }, root);
      const label = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, root);
      label.textContent = String(Math.round(f * max));
    }
    const step = plotW / Math.max(1, buckets.length);
    const barW = Math.max(1, step * 0.8);
    const every = Math.max(1, Math.ceil(buckets.length / 6));
    buckets.forEach((b, i) => {
      const x = left + i * step + (step - barW) / 2;
      const g = svg("g", { class: "bucket" }, root);
      const title = svg("title", {}, g);
      title.textContent = formatTime(b.start) + ": " + b.allow + " allow"
        + (b.dry_run ? " (" + b.dry_run + " dry-run)" : "") + ", " + b.deny + " deny";
      let y = top + plotH;
      const bar = (count, cls) => {
        if (count <= 0) {
          return;
        }
        const h = Math.max(1, (count / max) * plotH);
        y -= h;
        svg("rect", { x, y, width: barW, height: h, class: cls }, g);
      };
      bar(b.deny, "bar-deny");
      bar(b.allow - b.dry_run, "bar-allow");
      bar(b.dry_run, "bar-dry-run");
      if (i % every === 0) {
        const label = svg("text", { x: x + barW / 2, y: H - 4, "text-anchor": "middle" }, root);
        label.textContent = tickLabel(b.start, t.width_seconds);
      }
    });
  }

  function humanWidth(seconds) {
    if (seconds % 86400 === 0) return seconds / 86400 + " d";
    if (seconds % 3600 === 0) return seconds / 3600 + " h";
    if (seconds % 60 === 0) return seconds / 60 + " min";
    return seconds + " s";
  }

  async function verifyChain() {
    status("Verifying the hash chain…");
    try {
      const v = await (await api("/admin/audit/verify", {})).json();
      if (v.ok) {
        status("Hash chain intact: " + v.checked + " records verified.");
        $("status").classList.add("verify-ok");
      } else {
        status("Hash chain BROKEN at decision " + v.first_broken + ": " + v.detail, true);
      }
    } catch (e) {
      failed(e, generation);
    }
  }

  // ---- wiring ------------------------------------------------------------------------------

  function init() {
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = $("token").value.trim();
      if (!value) {
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      showApp();
      loadAll();
    });
    $("forget-token").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLocked("");
    });
    $("filters").addEventListener("submit", (e) => {
      e.preventDefault();
      $("status").classList.remove("verify-ok");
      loadAll();
    });
    $("filters").addEventListener("reset", () => {
      setTimeout(loadAll, 0);
    });
    $("next").addEventListener("click", () => {
      if (nextCursor) {
        cursors = cursors.slice(0, page + 1);
        cursors.push(nextCursor);
        page += 1;
        loadPageOnly();
      }
    });
    $("prev").addEventListener("click", () => {
      if (page > 0) {
        page -= 1;
        loadPageOnly();
      }
    });
    $("verify").addEventListener("click", verifyChain);
    if (token()) {
      showApp();
      loadAll();
    } else {
      showLocked("");
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
