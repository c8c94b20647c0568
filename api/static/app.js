// gaitline control room: where was this person seen? Talks only to /api/v1 with the token the
// operator pasted (kept in this tab's sessionStorage, never in a cookie or a URL the server sees),
// and every question about a person carries the operator's reason, which the server audits.
"use strict";

import {LiveFeed} from "/live.js";
import {PALETTE, clock, drawSite, drawTimeline, identityColour, utc} from "/map.js";

const $ = (sel) => document.querySelector(sel);
const state = {
  me: null, may: new Set(), site: null, mapUrl: null, cameras: [], links: [], colour: {},
  person: null, personId: null, camView: null, search: {params: {}, offset: 0, limit: 20, total: 0},
  live: null, liveKey: null, watched: new Map(), alerting: [],
};

function fmt(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d); }
function unit(v, d, u) { return v === null || v === undefined ? "–" : `${Number(v).toFixed(d)} ${u}`; }
function idOf(p) { return p.identity_id ?? p.identity; }
function setStatus(text, isError) {
  const s = $("#status"); s.textContent = text; s.className = isError ? "error" : "";
  document.body.dataset.state = isError ? "error" : "ready";
}
function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  tr.appendChild(td);
  return td;
}
function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) cell(tr, c);
  tbody.appendChild(tr);
  return tr;
}
function button(label, onClick, cls) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}
function epoch(input) { return input.value ? Date.parse(input.value + "Z") / 1000 : null; }
function reason() { return $("#reason").value.trim(); }
function token() { return sessionStorage.getItem("gaitline.token") || ""; }
function headers() { return {Authorization: `Bearer ${token()}`}; }

// An evidence thumbnail: the gait energy image (and the key frame when the site keeps them).
function evidenceImg(src, alt, cls) {
  if (!src) { const s = document.createElement("span"); s.className = "muted"; s.textContent = "none"; return s; }
  const img = document.createElement("img");
  img.src = src; img.alt = alt; img.className = cls || "gei"; img.decoding = "async";
  return img;
}

async function api(path, {params = {}, method = "GET", body = null, withReason = true, raw = false} = {}) {
  const q = new URLSearchParams(Object.assign(withReason ? {reason: reason()} : {}, params));
  const init = {method, headers: headers(), cache: "no-store"};
  if (body !== null) {
    if (body instanceof Blob) { init.body = body; init.headers["Content-Type"] = body.type || "application/octet-stream"; }
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  const t0 = performance.now();
  const qs = q.toString();
  const res = await fetch(`/api/v1/${path}${qs ? "?" + qs : ""}`, init);
  if (!res.ok) {
    const err = await res.json().catch(() => ({}));
    const detail = Array.isArray(err.detail) ? err.detail.map((d) => d.msg).join("; ") : err.detail;
    const e = new Error(err.error || detail || `HTTP ${res.status}`);
    e.status = res.status;
    if (res.status === 401 && state.live) {  // expired or revoked: stop listening until signed in again
      state.live.stop(); state.live = null; state.liveKey = null;
      onLiveState("refused", "the token was refused");
    }
    throw e;
  }
  if (raw) return res;
  const out = res.status === 204 ? {} : await res.json();
  out._ms = Math.round(performance.now() - t0);
  return out;
}

// --- asking for a reason (watch, unwatch, export): a modal that keeps focus until answered ---

function askReason(title, explain) {
  const dlg = $("#reason-dialog"), input = $("#reason-input");
  $("#reason-title").textContent = title;
  $("#reason-text").textContent = explain;
  input.value = reason();
  dlg.returnValue = "";
  dlg.showModal();
  input.focus(); input.select();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok" && input.value.trim().length >= 3 ? input.value.trim() : null);
    }, {once: true});
  });
}

// --- signing in -------------------------------------------------------------------------------

async function signIn(ev) {
  if (ev) ev.preventDefault();
  const t = $("#token").value.trim();
  if (t) { sessionStorage.setItem("gaitline.token", t); $("#token").value = ""; }
  try {
    const me = await api("me", {withReason: false});
    state.me = me;
    state.may = new Set(me.permissions || (me.role === "admin" ? ["search", "audit"] : [me.role === "auditor" ? "audit" : "search"]));
    $("#who").textContent = `${me.user} (${me.role})`;
    document.body.dataset.role = me.role;
    $("#signout").hidden = false;
    const search = state.may.has("search"), audit = state.may.has("audit");
    for (const id of ["#find", "#bycamera", "#byclip", "#site"]) $(id).hidden = !search;
    $("#audit").hidden = !audit;
    $("#watchpanel").hidden = !(search || audit);
    if (search) {
      await loadSite();
      await searchIdentities();
      startLive();
    }
    if (search || audit) await loadWatchlist();
    if (audit) await loadAudit();
    if (!search) setStatus(`signed in as ${me.user}: the audit log and the watchlists`);
    return true;
  } catch (e) { setStatus(e.message, true); return false; }
}

function signOut() {
  sessionStorage.removeItem("gaitline.token");
  if (state.live) state.live.stop();
  location.reload();
}

// --- the site ---------------------------------------------------------------------------------

async function loadSite() {
  try {
    const d = await api("cameras", {withReason: false});
    state.site = d.site || null;
    state.cameras = d.cameras || [];
    state.links = d.links || [];
  } catch (e) {
    state.site = null; state.cameras = []; state.links = [];
    setStatus(`no camera list (${e.message}): the map stays empty`, true);
  }
  state.colour = {};
  state.cameras.forEach((c, i) => { state.colour[c.id] = PALETTE[i % PALETTE.length]; });
  $("#sitename").textContent = state.site && state.site.name ? `— ${state.site.name}` : "";
  state.mapUrl = null;
  if (state.site && state.site.map_image) {
    try {  // the floor plan needs the header too: fetched, then shown as a data: URL
      const res = await fetch(state.site.map_image, {headers: headers()});
      if (res.ok) {
        const blob = await res.blob();
        state.mapUrl = await new Promise((resolve) => {
          const r = new FileReader(); r.onload = () => resolve(r.result); r.readAsDataURL(blob);
        });
      }
    } catch (e) { state.mapUrl = null; }
  }
  fillCameraPickers();
  drawMap();
}

function fillCameraPickers() {
  const sel = $("#idcamera"), keep = sel.value;
  sel.replaceChildren(new Option("any camera", ""));
  const fs = $("#campicker");
  fs.replaceChildren(Object.assign(document.createElement("legend"), {textContent: "cameras (none ticked: every camera)"}));
  for (const c of state.cameras) {
    const label = c.region ? `${c.id} (${c.region})` : c.id;
    sel.appendChild(new Option(label + (c.seen ? "" : " – nothing stored"), c.id));
    const l = document.createElement("label"); l.className = "check";
    const box = Object.assign(document.createElement("input"), {type: "checkbox", name: "camera", value: c.id});
    l.append(box, ` ${label}`);
    fs.appendChild(l);
  }
  if (!state.cameras.length) fs.appendChild(Object.assign(document.createElement("p"), {className: "note", textContent: "no cameras in the network config"}));
  sel.value = keep;
}

function drawMap() {
  const r = drawSite($("#map"), {site: state.site, mapUrl: state.mapUrl, cameras: state.cameras, links: state.links,
    colour: state.colour, person: state.person, alerting: state.alerting, onCamera: pickCamera,
    picked: state.camView && !state.camView.all ? state.camView.cameras : []});
  const off = state.cameras.filter((c) => !c.position).map((c) => c.id);
  $("#offmap").textContent = off.length ? `not on the map (no position in the network config): ${off.join(", ")}` : "";
  document.body.dataset.map = `${r.cameras}/${r.links}/${r.stops}`;
}

function pickCamera(id) {
  for (const box of document.querySelectorAll("#campicker input")) box.checked = box.value === id;
  $("#camform").requestSubmit();
}

// --- finding identities -----------------------------------------------------------------------

async function searchIdentities(ev, offset) {
  if (ev) ev.preventDefault();
  const params = {};
  if ($("#prefix").value.trim()) params.prefix = $("#prefix").value.trim();
  if ($("#idcamera").value) params.camera = $("#idcamera").value;
  const since = epoch($("#idsince")), until = epoch($("#iduntil"));
  if (since !== null) params.since = since;
  if (until !== null) params.until = until;
  state.search.params = params;
  state.search.offset = offset || 0;
  try {
    const d = await api("identities", {params: Object.assign({limit: state.search.limit, offset: state.search.offset}, params)});
    const tbody = $("#identities tbody"); tbody.replaceChildren();
    for (const p of d.identities) {
      const id = idOf(p);
      const tr = document.createElement("tr");
      tr.dataset.identity = id;
      const b = button(id, () => showPerson(id), "link");
      b.setAttribute("aria-label", `open ${id}`);
      const c = cell(tr, b);
      if (p.watched) c.appendChild(Object.assign(document.createElement("span"), {className: "badge", textContent: "watched"}));
      cell(tr, p.sightings);
      cell(tr, Array.isArray(p.cameras) ? p.cameras.join(", ") : p.cameras);
      cell(tr, utc(p.first_seen).slice(5, 16)); cell(tr, utc(p.last_seen).slice(5, 16));
      tr.addEventListener("click", (e) => { if (e.target === tr || e.target.tagName === "TD") showPerson(id); });
      tbody.appendChild(tr);
    }
    const total = d.total ?? d.identities.length;
    state.search.total = total;
    const first = total ? state.search.offset + 1 : 0, last = state.search.offset + d.identities.length;
    $("#pageinfo").textContent = `${first}–${last} of ${total}`;
    $("#prev").disabled = state.search.offset === 0;
    $("#next").disabled = last >= total;
    setStatus(`${total} identities match (answered in ${d._ms} ms)`);
  } catch (e) { setStatus(e.message, true); }
}

// --- one person -------------------------------------------------------------------------------

function foldVisits(sightings) {  // the server's rule: consecutive sightings on one camera are a visit
  const out = [];
  for (const s of sightings) {
    const v = out[out.length - 1];
    if (v && v.camera === s.camera) { v.t_end = Math.max(v.t_end, s.t_end); v.sightings += 1; }
    else out.push({camera: s.camera, t_start: s.t_start, t_end: s.t_end, sightings: 1});
  }
  return out;
}

async function showPerson(id, keepWindow) {
  if (!keepWindow && id !== state.personId) { $("#psince").value = ""; $("#puntil").value = ""; }
  const params = {};
  const since = epoch($("#psince")), until = epoch($("#puntil"));
  if (since !== null) params.since = since;
  if (until !== null) params.until = until;
  try {
    const d = await api(`identities/${encodeURIComponent(id)}/sightings`, {params});
    state.person = d; state.personId = id;
    state.watched.set(id, d.watched || null);
    renderPerson();
    $("#person").hidden = false;
    setStatus(`${id}: ${d.visits.length} visit(s) (answered in ${d._ms} ms)`);
    document.body.dataset.person = id;  // done drawing (tests and screenshots wait for it)
    startLive();
  } catch (e) { setStatus(e.message, true); }
}

function renderPerson() {
  const d = state.person, id = state.personId;
  $("#pid").textContent = id;
  const watched = state.watched.get(id);
  $("#watchbadge").hidden = !watched;
  $("#watch").textContent = watched ? "Stop watching" : "Watch this person";
  $("#watch").setAttribute("aria-pressed", watched ? "true" : "false");
  const span = d.last_seen - d.first_seen;
  $("#summary").textContent = `${d.sightings.length} sightings on ${d.cameras.length} camera(s) in ` +
    `${d.visits.length} visit(s) over ${Math.round(span)} s` +
    (d.path_m !== null && d.path_m !== undefined ? `, ${d.path_m} m on the ground` : "") +
    (watched ? ` · watched since ${utc(watched.created_at)} by ${watched.actor}` : "") +
    (d._ms !== undefined ? ` (answered in ${d._ms} ms)` : "");
  drawMap();
  const rows = state.cameras.length ? state.cameras.map((c) => c.id).filter((c) => d.cameras.includes(c)) : [];
  for (const c of d.cameras) if (!rows.includes(c)) rows.push(c);
  drawTimeline($("#timeline"), rows, d.visits.map((v, i) => ({camera: v.camera, t_start: v.t_start, t_end: v.t_end,
    fill: state.colour[v.camera] || "#555", label: `visit ${i + 1}: ${v.camera} ${utc(v.t_start)} – ${clock(v.t_end)}`,
    data: {visit: i + 1, camera: v.camera}})));
  const tbody = $("#visits tbody"); tbody.replaceChildren();
  const gallery = $("#evidence"); gallery.replaceChildren();
  d.visits.forEach((v, i) => {
    const mine = d.sightings.filter((s) => s.camera === v.camera && s.t_start >= v.t_start && s.t_end <= v.t_end);
    const med = (key) => { const a = mine.map((s) => s[key]).filter((x) => x !== null && x !== undefined).sort((p, q) => p - q);
      return a.length ? a[Math.floor(a.length / 2)] : null; };
    const tr = row(tbody, [i + 1, v.camera, utc(v.t_start), utc(v.t_end), v.sightings,
      fmt(med("cadence_spm"), 0), fmt(med("speed_mps"), 2)]);
    tr.dataset.camera = v.camera;
    const group = document.createElement("section");
    group.className = "visit"; group.dataset.visit = i + 1;
    const h = document.createElement("h4");
    const sw = Object.assign(document.createElement("span"), {className: "swatch"});
    sw.style.background = state.colour[v.camera] || "#555";
    h.append(sw, `visit ${i + 1} · ${v.camera} · ${utc(v.t_start)} – ${clock(v.t_end)} UTC`);
    group.appendChild(h);
    const strip = document.createElement("div"); strip.className = "strip";
    for (const s of mine) strip.appendChild(sightingCard(s));
    group.appendChild(strip);
    gallery.appendChild(group);
  });
}

function sightingCard(s) {
  const f = document.createElement("figure");
  f.className = "card"; if (s.sighting_id) f.dataset.sighting = s.sighting_id;
  const pics = document.createElement("div"); pics.className = "pics";
  pics.appendChild(evidenceImg(s.evidence, `gait energy image, ${s.camera} ${utc(s.t_start)}`));
  if (s.keyframe) pics.appendChild(evidenceImg(s.keyframe, `key frame, ${s.camera} ${utc(s.t_start)}`, "keyframe"));
  f.appendChild(pics);
  const cap = document.createElement("figcaption");
  cap.textContent = `${clock(s.t_start)} · ${fmt(s.score, 2)}${s.enrolled ? " · enrolled" : ""}`;
  f.appendChild(cap);
  return f;
}

function addLiveSighting(s) {
  const d = state.person;
  if (!d || idOf(s) !== state.personId) return false;
  if (s.sighting_id && d.sightings.some((x) => x.sighting_id === s.sighting_id)) return false;
  d.sightings.push(s);
  d.sightings.sort((a, b) => a.t_start - b.t_start);
  d.visits = foldVisits(d.sightings);
  d.cameras = [...new Set(d.sightings.map((x) => x.camera))].sort();
  d.first_seen = d.sightings[0].t_start;
  d.last_seen = Math.max(...d.sightings.map((x) => x.t_end));
  d._ms = undefined;
  renderPerson();
  return true;
}

async function toggleWatch() {
  const id = state.personId, watched = state.watched.get(id);
  const r = await askReason(watched ? `Stop watching ${id}?` : `Watch ${id}?`,
    watched ? "Alerts for this person stop for everyone." :
      "Every operator gets an alert with the camera and time when this person is seen again.");
  if (r === null) { setStatus("not changed: a reason is required", true); return; }
  try {
    if (watched) {
      await api(`watchlist/${encodeURIComponent(id)}`, {method: "DELETE", params: {reason: r}, withReason: false});
      state.watched.set(id, null);
      setStatus(`${id} is no longer watched`);
    } else {
      const w = await api("watchlist", {method: "POST", body: {identity_id: id, reason: r}, withReason: false});
      state.watched.set(id, w);
      setStatus(`${id} is on the watchlist: you will be alerted when they are seen again`);
    }
    renderPerson();
    markWatched(id);
    await loadWatchlist();
  } catch (e) { setStatus(e.message, true); }
}

function markWatched(id) {  // the identities list shows the change without a new (audited) search
  for (const tr of document.querySelectorAll("#identities tbody tr")) {
    if (tr.dataset.identity !== id) continue;
    const c = tr.firstElementChild, badge = c.querySelector(".badge");
    if (state.watched.get(id) && !badge) c.appendChild(Object.assign(document.createElement("span"), {className: "badge", textContent: "watched"}));
    if (!state.watched.get(id) && badge) badge.remove();
  }
}

async function exportPerson(format) {
  const id = state.personId;
  const r = await askReason(`Export the sightings of ${id} as ${format.toUpperCase()}?`,
    "An export leaves the control room: it is audited as an export, with this reason.");
  if (r === null) { setStatus("not exported: a reason is required", true); return; }
  try {
    const res = await api(`identities/${encodeURIComponent(id)}/export`, {params: {reason: r, format}, withReason: false, raw: true});
    const blob = await res.blob();
    const cd = res.headers.get("Content-Disposition") || "";
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    const name = m ? decodeURIComponent(m[1]) : `${id}.${format}`;
    const a = Object.assign(document.createElement("a"), {href: URL.createObjectURL(blob), download: name});
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    setStatus(`exported ${name} (${Math.round(blob.size / 102.4) / 10} kB); the export is in the audit log`);
    document.body.dataset.exported = name;
  } catch (e) { setStatus(e.message, true); }
}

// --- a camera's view: who did these cameras see, a timeline across them -----------------------

async function searchCamera(ev) {
  ev.preventDefault();
  let picked = [...document.querySelectorAll("#campicker input:checked")].map((b) => b.value);
  const params = picked.length ? {camera: picked.join(",")} : {};  // none picked: every camera
  const since = epoch($("#since")), until = epoch($("#until"));
  if (since !== null) params.since = since;
  if (until !== null) params.until = until;
  try {
    const d = await api("sightings", {params});
    if (!picked.length) picked = [...new Set([...state.cameras.map((c) => c.id), ...(d.cameras || []), ...d.sightings.map((s) => s.camera)])];
    state.camView = {cameras: picked, sightings: d.sightings, since, until, all: !params.camera};
    renderCamera();
    drawMap();
    const n = new Set(d.sightings.map((s) => idOf(s))).size;
    setStatus(`${picked.join(", ")}: ${d.sightings.length} sightings of ${n} identities` +
      (d.truncated ? " (truncated: narrow the time range)" : "") + ` (answered in ${d._ms} ms)`);
    startLive();
  } catch (e) { setStatus(e.message, true); }
}

function renderCamera() {
  const v = state.camView;
  const sorted = [...v.sightings].sort((a, b) => b.t_start - a.t_start);  // newest first
  const tbody = $("#camresult tbody"); tbody.replaceChildren();
  for (const s of sorted) {
    const id = idOf(s);
    const tr = document.createElement("tr");
    tr.dataset.identity = id; if (s.sighting_id) tr.dataset.sighting = s.sighting_id;
    cell(tr, evidenceImg(s.evidence, `gait energy image of ${id}`, "gei small"));
    cell(tr, button(id, () => showPerson(id), "link"));
    cell(tr, s.camera); cell(tr, utc(s.t_start)); cell(tr, clock(s.t_end)); cell(tr, fmt(s.score, 2));
    tbody.appendChild(tr);
  }
  $("#camtimeline-fig").hidden = false;
  const range = v.since !== null && v.until !== null ? [v.since, v.until] : null;
  drawTimeline($("#camtimeline"), v.cameras, v.sightings.map((s) => ({camera: s.camera, t_start: s.t_start,
    t_end: s.t_end, fill: identityColour(idOf(s)), label: `${idOf(s)} on ${s.camera} ${utc(s.t_start)}`,
    data: {identity: idOf(s)}})), range);
}

function addLiveCameraSighting(s) {
  const v = state.camView;
  if (!v || !v.cameras.includes(s.camera)) return false;
  if (s.sighting_id && v.sightings.some((x) => x.sighting_id === s.sighting_id)) return false;
  if (v.until !== null && s.t_start > v.until) return false;
  v.sightings.push(s);
  renderCamera();
  return true;
}

// --- who is in this clip ----------------------------------------------------------------------

async function searchClip(ev) {
  ev.preventDefault();
  const file = $("#clip").files[0];
  if (!file) { setStatus("choose a video clip first", true); return; }
  try {
    setStatus(`searching ${file.name} (${Math.round(file.size / 1024)} kB): the clip is analysed on the server…`);
    document.body.dataset.clip = "searching";
    const d = await api("search", {method: "POST", body: file});
    const tbody = $("#clipresult tbody"); tbody.replaceChildren();
    for (const t of d.tracks) {
      const best = t.candidates[0] || {};
      const tr = document.createElement("tr");
      cell(tr, t.track);
      if (t.match) {
        tr.dataset.identity = t.match;
        cell(tr, button(t.match, () => showPerson(t.match), "link"));
        const seen = t.seen || {};
        cell(tr, evidenceImg(t.evidence ?? seen.evidence, `gait energy image of ${t.match}, last seen`, "gei small"));
        cell(tr, seen.last_seen ? `${utc(seen.last_seen).slice(5, 16)} ${(seen.cameras || []).join(", ")}` : "–");
      } else { cell(tr, "no match"); cell(tr, "–"); cell(tr, "–"); }
      cell(tr, t.match ? `${Math.round(100 * best.share)} % of ${t.windows}` : `${t.windows}`);
      cell(tr, fmt(best.best_similarity, 2));
      tbody.appendChild(tr);
    }
    setStatus(`${d.tracks.length} walker(s) in the clip, ${d.tracks.filter((t) => t.match).length} seen before ` +
      `(gallery of ${d.gallery_size}, threshold ${d.threshold})`);
    document.body.dataset.clip = "done";
  } catch (e) { setStatus(e.message, true); document.body.dataset.clip = "error"; }
}

// --- watchlist and audit ----------------------------------------------------------------------

async function loadWatchlist() {
  try {
    const d = await api("watchlist", {withReason: false});
    const tbody = $("#watchlist tbody"); tbody.replaceChildren();
    for (const w of d.watchlist) {
      state.watched.set(w.identity_id, w);
      const tr = document.createElement("tr"); tr.dataset.identity = w.identity_id;
      cell(tr, state.may.has("search") ? button(w.identity_id, () => showPerson(w.identity_id), "link") : w.identity_id);
      cell(tr, utc(w.created_at).slice(5)); cell(tr, w.actor); cell(tr, w.reason);
      tbody.appendChild(tr);
    }
    if (!d.watchlist.length) row(tbody, ["nobody is watched", "", "", ""]);
  } catch (e) {
    row($("#watchlist tbody"), [`watchlist unavailable: ${e.message}`, "", "", ""]);
  }
}

async function loadAudit(ev) {
  if (ev) ev.preventDefault();
  try {
    const params = {limit: 100};
    if ($("#auditsubject").value.trim()) params.subject = $("#auditsubject").value.trim();
    const d = await api("audit", {params, withReason: false});
    const tbody = $("#auditlog tbody"); tbody.replaceChildren();
    for (const e of d.entries) {
      const detail = Object.entries(e.detail || {}).filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
      const tr = row(tbody, [utc(e.at).slice(5), e.actor, e.action, e.subject || "–", e.reason, detail]);
      tr.dataset.action = e.action;
    }
  } catch (e) { setStatus(e.message, true); }
}

// --- live: new sightings of the open person or cameras, and watchlist alerts -------------------

function liveParams() {
  const p = {reason: reason()};
  if (state.personId) p.identity = state.personId;
  if (state.camView && !state.camView.all) p.camera = state.camView.cameras.join(",");
  return p;
}

function startLive() {
  if (!state.may.has("search") || reason().length < 3) return;
  const params = liveParams(), key = JSON.stringify(params);
  if (state.live && state.liveKey === key) return;
  if (state.live) state.live.stop();
  state.liveKey = key;
  const url = `/api/v1/live?${new URLSearchParams(params)}`;
  state.live = new LiveFeed(url, headers(), onLiveEvent, onLiveState).start();
}

function onLiveState(s, detail) {
  const badge = $("#live");
  const text = {connecting: "live: connecting…", open: "live: on", retrying: "live: reconnecting",
    refused: "live: unavailable", off: "live: off"}[s];
  badge.textContent = text + (detail && s !== "open" ? ` (${detail})` : "");
  badge.className = `live ${s}`;
  document.body.dataset.live = s;
}

function onLiveEvent(ev) {
  let data;
  try { data = JSON.parse(ev.data); } catch (e) { return; }
  if (ev.type === "sighting") {
    const a = addLiveSighting(data), b = addLiveCameraSighting(data);
    if (a || b) document.body.dataset.liveSightings = String(Number(document.body.dataset.liveSightings || 0) + 1);
  } else if (ev.type === "watchlist") {
    showAlert(data);
  } else if (ev.type === "error") {  // the token no longer holds (revoked, expired): the server ended the feed
    if (state.live) state.live.stop();
    state.live = null; state.liveKey = null;
    onLiveState("refused", data.error);
    setStatus(data.error, true);
  }
}

function showAlert(a) {
  if (document.querySelector(`#alerts [data-sighting="${CSS.escape(a.sighting_id)}"]`)) return;
  const cam = state.cameras.find((c) => c.id === a.camera_id);
  const box = document.createElement("div");
  box.className = "alert"; box.setAttribute("role", "alert"); box.dataset.sighting = a.sighting_id;
  box.dataset.identity = a.identity_id;
  if (a.evidence) box.appendChild(evidenceImg(a.evidence, `gait energy image of ${a.identity_id}`, "gei small"));
  const p = document.createElement("p");
  const strong = Object.assign(document.createElement("strong"), {textContent: `Watched person ${a.identity_id}`});
  p.append(strong, ` seen on camera ${a.camera_id}${cam && cam.region ? ` (${cam.region})` : ""} at ${utc(a.t)} UTC. ` +
    `Watched by ${a.watched_by}: “${a.watch_reason}”. `);
  const link = Object.assign(document.createElement("a"), {href: `#sighting=${encodeURIComponent(a.sighting_id)}`,
    textContent: "Open the evidence", className: "evidence-link"});
  link.addEventListener("click", (e) => { e.preventDefault(); openEvidence(a.sighting_id); });
  p.appendChild(link);
  box.appendChild(p);
  box.appendChild(button("Dismiss", () => { box.remove(); state.alerting = state.alerting.filter((c) => c !== a.camera_id); drawMap(); }, "dismiss"));
  $("#alerts").prepend(box);
  state.alerting = [...new Set([...state.alerting, a.camera_id])];
  drawMap();
  document.body.dataset.alerts = String($("#alerts").children.length);
}

async function openEvidence(sid) {
  try {
    const d = await api(`sightings/${encodeURIComponent(sid)}`);
    const s = d.sighting || d;
    const body = $("#evidence-body"); body.replaceChildren();
    const pics = document.createElement("div"); pics.className = "strip";
    pics.appendChild(evidenceImg(s.evidence, `gait energy image of ${idOf(s)}`, "gei large"));
    if (s.keyframe) pics.appendChild(evidenceImg(s.keyframe, `key frame of ${idOf(s)}`, "keyframe large"));
    body.appendChild(pics);
    const dl = document.createElement("dl");
    for (const [k, v] of [["identity", idOf(s)], ["camera", s.camera], ["from", `${utc(s.t_start)} UTC`],
      ["to", `${utc(s.t_end)} UTC`], ["match score", fmt(s.score, 2)], ["cadence", unit(s.cadence_spm, 0, "steps/min")],
      ["speed", unit(s.speed_mps, 2, "m/s")], ["sighting", s.sighting_id || sid]]) {
      dl.append(Object.assign(document.createElement("dt"), {textContent: k}), Object.assign(document.createElement("dd"), {textContent: v}));
    }
    body.appendChild(dl);
    const cam = state.cameras.find((c) => c.id === s.camera);
    $("#evidence-title").textContent = `Evidence: ${idOf(s)} on ${s.camera}${cam && cam.region ? ` (${cam.region})` : ""}`;
    $("#evidence-person").onclick = () => { $("#evidence-dialog").close(); showPerson(idOf(s)); };
    $("#evidence-dialog").showModal();
    document.body.dataset.evidence = sid;
  } catch (e) { setStatus(e.message, true); }
}

// --- start ------------------------------------------------------------------------------------

async function start() {
  // a link may carry #token=…&reason=…&identity=… (the fragment never reaches the server or its logs)
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get("token")) sessionStorage.setItem("gaitline.token", h.get("token"));
  if (h.get("reason")) $("#reason").value = h.get("reason");
  history.replaceState(null, "", location.pathname);
  $("#signin").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", signOut);
  $("#idform").addEventListener("submit", (e) => searchIdentities(e, 0));
  $("#prev").addEventListener("click", () => searchIdentities(null, Math.max(0, state.search.offset - state.search.limit)));
  $("#next").addEventListener("click", () => searchIdentities(null, state.search.offset + state.search.limit));
  $("#camform").addEventListener("submit", searchCamera);
  $("#clipform").addEventListener("submit", searchClip);
  $("#auditform").addEventListener("submit", loadAudit);
  $("#watch").addEventListener("click", toggleWatch);
  $("#exportcsv").addEventListener("click", () => exportPerson("csv"));
  $("#exportjson").addEventListener("click", () => exportPerson("json"));
  $("#personwindow").addEventListener("submit", (e) => { e.preventDefault(); showPerson(state.personId, true); });
  $("#pall").addEventListener("click", () => { $("#psince").value = ""; $("#puntil").value = ""; showPerson(state.personId, true); });
  $("#evidence-close").addEventListener("click", () => $("#evidence-dialog").close());
  $("#reason").addEventListener("change", () => { state.liveKey = null; startLive(); });
  if (token() && reason()) {
    if (await signIn()) {
      if (h.get("identity")) await showPerson(h.get("identity"));
      if (h.get("sighting")) await openEvidence(h.get("sighting"));
    }
  } else {
    setStatus("paste your token and a reason, then sign in");
    (token() ? $("#reason") : $("#token")).focus();
  }
}
start();
