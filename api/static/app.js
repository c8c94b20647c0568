// gaitline control room: where was this person seen? Talks only to /api/v1 with the token the
// operator pasted (kept in this tab's sessionStorage, never in a cookie or the URL).
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function utc(t) { return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19); }
function fmt(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d); }
function setStatus(text, isError) {
  const s = $("#status"); s.textContent = text; s.className = isError ? "error" : "";
  document.body.dataset.state = isError ? "error" : "ready";
}
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
  tbody.appendChild(tr);
  return tr;
}

async function api(path, params) {
  const token = sessionStorage.getItem("gaitline.token") || "";
  const reason = $("#reason").value.trim();
  const q = new URLSearchParams(Object.assign({reason: reason}, params || {}));
  const t0 = performance.now();
  const res = await fetch(`/api/v1/${path}?${q}`, {headers: {Authorization: `Bearer ${token}`}});
  const body = await res.json().catch(() => ({error: `HTTP ${res.status}`}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  body._ms = Math.round(performance.now() - t0);
  return body;
}

async function signIn() {
  const t = $("#token").value.trim();
  if (t) sessionStorage.setItem("gaitline.token", t);
  const me = await api("me");
  $("#who").textContent = `${me.user} (${me.role})`;
  return me;
}

async function loadIdentities() {
  try {
    await signIn();
    const data = await api("identities");
    const tbody = $("#identities tbody"); tbody.replaceChildren();
    for (const p of data.identities) {
      const tr = row(tbody, [p.identity, p.sightings, p.cameras, utc(p.first_seen).slice(5), utc(p.last_seen).slice(5)]);
      tr.dataset.identity = p.identity;
      tr.addEventListener("click", () => showPerson(p.identity));
    }
    setStatus(`${data.identities.length} identities (answered in ${data._ms} ms)`);
  } catch (e) { setStatus(e.message, true); }
}

function colours(cameras) {
  const c = {}; cameras.forEach((cam, i) => { c[cam] = PALETTE[i % PALETTE.length]; }); return c;
}

function drawMap(svg, sightings, colour) {
  svg.replaceChildren();
  const pts = sightings.filter((s) => s.ground_plane);
  if (pts.length === 0) {
    el("text", {x: 20, y: 30}, svg).textContent = "no ground-plane positions (camera without calibration)";
    return;
  }
  const W = 480, H = 360, pad = 30;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const k = Math.min((W - 2 * pad) / Math.max(x1 - x0, 1), (H - 2 * pad) / Math.max(y1 - y0, 1));
  const ox = (W - 2 * pad - (x1 - x0) * k) / 2, oy = (H - 2 * pad - (y1 - y0) * k) / 2;  // centred
  const X = (x) => pad + ox + (x - x0) * k, Y = (y) => H - pad - oy - (y - y0) * k;  // north up
  el("polyline", {points: pts.map((p) => `${X(p.x)},${Y(p.y)}`).join(" "), fill: "none",
    stroke: "#888", "stroke-width": 1.5, "stroke-dasharray": "4 3"}, svg);
  pts.forEach((p, i) => {
    const c = el("circle", {cx: X(p.x), cy: Y(p.y), r: i === 0 || i === pts.length - 1 ? 6 : 4,
      fill: colour[p.camera], "data-camera": p.camera}, svg);
    el("title", {}, c).textContent = `${p.camera} ${utc(p.t_start)}`;
  });
  el("text", {x: X(pts[0].x) + 8, y: Y(pts[0].y) - 6}, svg).textContent = "first";
  el("text", {x: X(pts[pts.length - 1].x) + 8, y: Y(pts[pts.length - 1].y) - 6}, svg).textContent = "last";
  const bar = 10 * k;  // a 10 m scale bar
  el("line", {x1: pad, y1: H - 10, x2: pad + bar, y2: H - 10, stroke: "#333", "stroke-width": 2}, svg);
  el("text", {x: pad + bar + 4, y: H - 6}, svg).textContent = "10 m";
}

function drawTimeline(svg, visits, cameras, colour) {
  svg.replaceChildren();
  const W = 480, left = 70, right = 10, top = 10, rowH = Math.min(30, 150 / cameras.length);
  svg.setAttribute("viewBox", `0 0 ${W} ${top + cameras.length * rowH + 24}`);
  const t0 = Math.min(...visits.map((v) => v.t_start)), t1 = Math.max(...visits.map((v) => v.t_end));
  const T = (t) => left + (t - t0) / Math.max(t1 - t0, 1) * (W - left - right);
  cameras.forEach((cam, i) => {
    el("text", {x: 4, y: top + i * rowH + rowH * 0.65}, svg).textContent = cam;
  });
  for (const v of visits) {
    const i = cameras.indexOf(v.camera);
    el("rect", {x: T(v.t_start), y: top + i * rowH + 3, width: Math.max(T(v.t_end) - T(v.t_start), 2),
      height: rowH - 6, fill: colour[v.camera], "data-camera": v.camera}, svg);
  }
  const yAxis = top + cameras.length * rowH + 14;
  el("text", {x: left, y: yAxis}, svg).textContent = utc(t0).slice(11);
  el("text", {x: W - right - 50, y: yAxis}, svg).textContent = utc(t1).slice(11);
}

async function showPerson(id) {
  try {
    const d = await api(`identities/${encodeURIComponent(id)}/sightings`);
    const order = [...new Set(d.visits.map((v) => v.camera))];  // cameras in the order first visited
    const colour = colours(order);
    $("#person").hidden = false;
    $("#pid").textContent = id;
    const span = d.last_seen - d.first_seen;
    $("#summary").textContent = `${d.sightings.length} sightings on ${d.cameras.length} camera(s) in ` +
      `${d.visits.length} visit(s) over ${Math.round(span)} s` +
      (d.path_m !== null ? `, ${d.path_m} m on the ground` : "") + ` (answered in ${d._ms} ms)`;
    drawMap($("#map"), d.sightings, colour);
    drawTimeline($("#timeline"), d.visits, order, colour);
    const tbody = $("#visits tbody"); tbody.replaceChildren();
    d.visits.forEach((v, i) => {
      const mine = d.sightings.filter((s) => s.camera === v.camera && s.t_start >= v.t_start && s.t_end <= v.t_end);
      const med = (key) => { const a = mine.map((s) => s[key]).filter((x) => x !== null).sort((p, q) => p - q);
        return a.length ? a[Math.floor(a.length / 2)] : null; };
      const tr = row(tbody, [i + 1, v.camera, utc(v.t_start), utc(v.t_end), v.sightings,
        fmt(med("cadence_spm"), 0), fmt(med("speed_mps"), 2)]);
      tr.dataset.camera = v.camera;
    });
    setStatus(`${id}: ${d.visits.length} visit(s) (answered in ${d._ms} ms)`);
    document.body.dataset.person = id;  // done drawing (tests and screenshots wait for it)
  } catch (e) { setStatus(e.message, true); }
}

async function searchCamera(ev) {
  ev.preventDefault();
  try {
    const params = {camera: $("#camera").value.trim()};
    for (const k of ["since", "until"]) {
      const v = $(`#${k}`).value;
      if (v) params[k] = Date.parse(v + "Z") / 1000;
    }
    const d = await api("sightings", params);
    const tbody = $("#camresult tbody"); tbody.replaceChildren();
    for (const s of d.sightings) row(tbody, [s.identity, utc(s.t_start), utc(s.t_end), s.track, fmt(s.score, 2)]);
    setStatus(`${d.camera}: ${d.sightings.length} sightings of ${d.identities.length} identities (answered in ${d._ms} ms)`);
  } catch (e) { setStatus(e.message, true); }
}

async function searchClip(ev) {
  ev.preventDefault();
  const file = $("#clip").files[0];
  if (!file) { setStatus("choose a video clip first", true); return; }
  try {
    setStatus(`searching ${file.name} (${Math.round(file.size / 1024)} kB): the clip is analysed on the server…`);
    const token = sessionStorage.getItem("gaitline.token") || "";
    const q = new URLSearchParams({reason: $("#reason").value.trim()});
    const res = await fetch(`/api/v1/search?${q}`, {method: "POST", body: file,
      headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream"}});
    const d = await res.json().catch(() => ({error: `HTTP ${res.status}`}));
    if (!res.ok) throw new Error(d.error || `HTTP ${res.status}`);
    const tbody = $("#clipresult tbody"); tbody.replaceChildren();
    for (const t of d.tracks) {
      const best = t.candidates[0] || {};
      const tr = row(tbody, [t.track, t.windows, t.match || "no match",
        t.match ? `${Math.round(100 * best.share)} %` : "–", fmt(best.best_similarity, 2)]);
      if (t.match) { tr.dataset.identity = t.match; tr.addEventListener("click", () => showPerson(t.match)); }
    }
    setStatus(`${d.tracks.length} walker(s) in the clip, ${d.tracks.filter((t) => t.match).length} seen before ` +
      `(gallery of ${d.gallery_size}, threshold ${d.threshold})`);
  } catch (e) { setStatus(e.message, true); }
}

async function start() {
  // a link may carry #token=…&reason=…&identity=… (the fragment never reaches the server or its logs)
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get("token")) sessionStorage.setItem("gaitline.token", h.get("token"));
  if (h.get("reason")) $("#reason").value = h.get("reason");
  history.replaceState(null, "", location.pathname);
  $("#load").addEventListener("click", loadIdentities);
  $("#camform").addEventListener("submit", searchCamera);
  $("#clipform").addEventListener("submit", searchClip);
  if (sessionStorage.getItem("gaitline.token") && $("#reason").value) {
    await loadIdentities();
    if (h.get("identity")) await showPerson(h.get("identity"));
  } else {
    setStatus("paste your token and a reason, then load the identities");
  }
}
start();
