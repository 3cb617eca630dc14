// The dashboard page: polls /api/section/<name> and /api/health, renders the blocks the server sends (every number
// arrives as text formatted by the CLI's renderers: this script does no arithmetic on money), shows when the
// section was last fresh and, while reads fail, what is stale and since when.  Text goes in with textContent only.
"use strict";

(function () {
  const body = document.body;
  const section = body.dataset.section;
  const pollMs = Number(body.dataset.pollMs) || 1000;
  const token = (document.querySelector('meta[name="dashboard-token"]') || {}).content || "";
  const SVG = "http://www.w3.org/2000/svg";
  let version = -1;
  let last = null; // the last snapshot rendered

  function headers(extra) {
    const h = Object.assign({"Accept": "application/json"}, extra || {});
    if (token) h["X-Dashboard-Token"] = token;
    return h;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function age(fromIso, nowIso) {
    const seconds = Math.max(0, Math.round((Date.parse(nowIso) - Date.parse(fromIso)) / 1000));
    if (seconds < 120) return seconds + " s ago";
    if (seconds < 7200) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function renderTable(b) {
    const wrap = el("section", {"class": "block table", "data-block": b.id});
    if (b.title) wrap.appendChild(el("h2", {}, b.title));
    if (!b.rows.length) {
      wrap.appendChild(el("p", {"class": "empty"}, b.empty));
      return wrap;
    }
    const table = el("table");
    const head = el("tr");
    b.headers.forEach((h, i) => head.appendChild(el("th", {"class": b.align[i] || "left"}, h)));
    table.appendChild(el("thead")).appendChild(head);
    const tbody = table.appendChild(el("tbody"));
    for (const row of b.rows) {
      const tr = el("tr");
      row.forEach((cell, i) => tr.appendChild(el("td", {"class": b.align[i] || "left"}, cell)));
      tbody.appendChild(tr);
    }
    wrap.appendChild(table);
    return wrap;
  }

  function renderFields(b) {
    const wrap = el("section", {"class": "block fields", "data-block": b.id});
    if (b.title) wrap.appendChild(el("h2", {}, b.title));
    const table = el("table");
    for (const [label, value] of b.rows) {
      const tr = el("tr");
      tr.appendChild(el("th", {"class": "left"}, label));
      tr.appendChild(el("td", {"class": "right", "data-field": label}, value));
      table.appendChild(tr);
    }
    wrap.appendChild(table);
    return wrap;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Pixel positions only: the values shown are the server's formatted labels.
  function renderChart(b) {
    const wrap = el("section", {"class": "block chart", "data-block": b.id});
    if (b.title) wrap.appendChild(el("h2", {}, b.title));
    if (b.note) wrap.appendChild(el("p", {"class": "note"}, b.note));
    if (b.points.length < 1) {
      wrap.appendChild(el("p", {"class": "empty"}, "(nothing to draw yet)"));
      return wrap;
    }
    const W = 720, H = 220, L = 90, R = 12, T = 12, B = 28;
    const xs = b.points.map(p => Date.parse(p[0]));
    const ys = b.points.map(p => Number(p[1]));
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(0, ...ys);
    const sx = x => L + (x1 === x0 ? (W - L - R) / 2 : (x - x0) / (x1 - x0) * (W - L - R));
    const sy = y => T + (y1 === y0 ? (H - T - B) / 2 : (y1 - y) / (y1 - y0) * (H - T - B));
    const chart = svg("svg", {"viewBox": `0 0 ${W} ${H}`, "width": W, "height": H, "role": "img",
                              "aria-label": b.title});
    chart.appendChild(svg("line", {x1: L, x2: W - R, y1: sy(0), y2: sy(0), "class": "zero"}));
    const path = b.points.map((p, i) => `${sx(xs[i]).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" ");
    chart.appendChild(svg("polyline", {points: path, "class": "curve"}));
    const n = b.points.length - 1;
    chart.appendChild(svg("circle", {cx: sx(xs[n]).toFixed(1), cy: sy(ys[n]).toFixed(1), r: 3, "class": "end"}));
    if (b.labels.max) chart.appendChild(svg("text", {x: 4, y: T + 10, "class": "label"}, b.labels.max));
    if (b.labels.min) chart.appendChild(svg("text", {x: 4, y: H - B, "class": "label"}, b.labels.min));
    chart.appendChild(svg("text", {x: L, y: H - 6, "class": "label"}, b.points[0][0]));
    chart.appendChild(svg("text", {x: W - R, y: H - 6, "class": "label end"}, b.points[b.points.length - 1][0]));
    wrap.appendChild(chart);
    if (b.labels.last) wrap.appendChild(el("p", {"class": "last", "data-field": "last"}, "last: " + b.labels.last));
    return wrap;
  }

  function renderNote(b) {
    return el("p", {"class": "block note tone-" + b.tone, "data-block": b.id}, b.text);
  }

  const RENDER = {table: renderTable, fields: renderFields, chart: renderChart, note: renderNote};

  function renderFreshness(s) {
    const line = document.getElementById("freshness");
    line.className = s.stale ? "stale" : (s.fresh_at ? "fresh" : "loading");
    if (s.failure) {
      const f = s.failure;
      const shown = s.fresh_at ? `showing the read of ${s.fresh_at} (${age(s.fresh_at, s.now)})`
                               : "nothing read yet: no figures are shown";
      line.textContent = `STALE: ${f.source} unavailable since ${f.since} (${age(f.since, s.now)}): ${f.error}; ` +
                         shown;
    } else if (s.fresh_at) {
      line.textContent = `fresh at ${s.fresh_at} (${age(s.fresh_at, s.now)}; read in ${s.read_ms} ms)`;
    } else {
      line.textContent = "loading…";
    }
    document.querySelector("main").classList.toggle("is-stale", !!s.stale);
  }

  function render(s) {
    document.getElementById("subtitle").textContent = s.subtitle || "";
    const blocks = document.getElementById("blocks");
    const fresh = document.createDocumentFragment();
    for (const b of s.blocks) fresh.appendChild((RENDER[b.kind] || renderNote)(b));
    blocks.replaceChildren(fresh);
    body.dataset.version = String(s.version);
  }

  function renderSources(h) {
    const bar = document.getElementById("sources");
    const items = document.createDocumentFragment();
    for (const src of h.sources) {
      const f = src.failure;
      const text = f ? `${src.source}: DOWN since ${f.since} (${age(f.since, h.now)}): ${f.error}`
                     : `${src.source}: ok` + (src.ok_at ? ` (${age(src.ok_at, h.now)})` : "");
      items.appendChild(el("span", {"class": f ? "source down" : "source ok", "data-source": src.source}, text));
    }
    bar.replaceChildren(items);
    for (const sec of h.sections || []) {  // every page's freshness, on its link
      const link = document.querySelector(`nav a[data-nav="${sec.section}"]`);
      if (!link) continue;
      link.classList.toggle("stale", sec.stale);
      link.title = sec.stale ? `stale since ${sec.since}` + (sec.fresh_at ? `; last fresh ${sec.fresh_at}` : "")
                             : (sec.fresh_at ? `fresh at ${sec.fresh_at}` : "not read yet");
      link.dataset.freshAt = sec.fresh_at || "";
    }
  }

  async function poll() {
    try {
      const r = await fetch(`/api/section/${encodeURIComponent(section)}?since=${version}`,
                            {headers: headers(), cache: "no-store"});
      if (r.ok) {
        const s = await r.json();
        if (!s.unchanged) {
          last = s;
          if (s.version !== version) render(s);
          version = s.version;
        } else if (last) {
          last.now = s.now;
        }
        if (last) renderFreshness(last);
      }
      const h = await fetch("/api/health", {headers: headers(), cache: "no-store"});
      if (h.ok) renderSources(await h.json());
      body.dataset.online = "1";
    } catch (err) {
      body.dataset.online = "0";
      const line = document.getElementById("freshness");
      line.className = "stale";
      line.textContent = "the dashboard itself does not answer (" + err + ")" +
        (last && last.fresh_at ? `; showing the read of ${last.fresh_at}` : "");
    } finally {
      setTimeout(poll, pollMs);
    }
  }

  function killSwitch() {
    const dialog = document.getElementById("kill-dialog");
    const input = document.getElementById("kill-token");
    const result = document.getElementById("kill-result");
    document.getElementById("kill-open").addEventListener("click", () => {
      result.textContent = "";
      input.value = token;
      dialog.showModal();
    });
    document.getElementById("kill-back").addEventListener("click", () => dialog.close());
    document.getElementById("kill-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const confirm = document.getElementById("kill-confirm");
      confirm.disabled = true;
      result.textContent = "cancelling every order and halting the bots…";
      try {
        const r = await fetch("/api/kill", {
          method: "POST", cache: "no-store",
          headers: {"Content-Type": "application/json", "X-Dashboard-Token": input.value},
          body: JSON.stringify({"confirm": true})});
        const doc = await r.json();
        if (!r.ok) {
          result.textContent = `refused (${r.status}): ${doc.error}`;
        } else {
          const bots = doc.bots.map(b => `${b.bot}: ${b.confirmed ? "halted" : "halt requested, not confirmed"}` +
                                         (b.running ? " (running)" : "")).join("; ") || "no bots";
          result.textContent = `done: ${doc.cancelled_count} order(s) cancelled; ${bots}` +
            (doc.problems.length ? "; PROBLEMS: " + doc.problems.join("; ") : "");
        }
        result.dataset.status = String(r.status);
      } catch (err) {
        result.textContent = "the dashboard did not answer: " + err;
        result.dataset.status = "error";
      } finally {
        confirm.disabled = false;
      }
    });
  }

  killSwitch();
  poll();
})();
