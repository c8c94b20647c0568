// Drawing by hand in SVG: the site map (cameras, fields of view, links, a person's path) and the
// timelines. No map library: the site is a ground plane in metres, which SVG draws directly.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function utc(t) { return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19); }
export function clock(t) { return utc(t).slice(11); }

export function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, s, attrs) {
  const t = el("text", Object.assign({x, y}, attrs || {}), parent);
  t.textContent = s;
  return t;
}

// A stable colour per person: the same identity keeps its colour across redraws.
export function identityColour(id) {
  let h = 0x811c9dc5;  // FNV-1a, then golden-ratio steps round the hue circle: near ids get far colours
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const hue = Math.round(((h % 1000) * 0.618034 * 360)) % 360;
  return `hsl(${hue} 70% ${38 + (h >>> 10) % 3 * 8}%)`;
}

// One stop per visit: where the person was during the visit (the mean of its ground-plane
// sightings), else the camera's own position; visits with neither are left out.
export function visitStops(visits, sightings, cameraById) {
  const stops = [];
  visits.forEach((v, i) => {
    const mine = sightings.filter((s) => s.camera === v.camera && s.t_start >= v.t_start && s.t_end <= v.t_end);
    const pts = mine.filter((s) => s.ground_plane);
    let x = null, y = null;
    if (pts.length) {
      x = pts.reduce((a, s) => a + s.x, 0) / pts.length;
      y = pts.reduce((a, s) => a + s.y, 0) / pts.length;
    } else if (cameraById[v.camera] && cameraById[v.camera].position) {
      [x, y] = cameraById[v.camera].position;
    }
    if (x !== null) stops.push({n: i + 1, camera: v.camera, t_start: v.t_start, t_end: v.t_end, x, y});
  });
  return stops;
}

function extent(site, cameras, stops, sightings) {
  if (site && site.bounds) return site.bounds;
  const xs = [], ys = [];
  for (const c of cameras) {
    if (!c.position) continue;
    const r = c.range_m || 0;
    xs.push(c.position[0] - r, c.position[0] + r); ys.push(c.position[1] - r, c.position[1] + r);
  }
  for (const p of stops.concat(sightings.filter((s) => s.ground_plane))) { xs.push(p.x); ys.push(p.y); }
  if (!xs.length) return [0, 0, 10, 10];
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const padx = Math.max((x1 - x0) * 0.06, 1), pady = Math.max((y1 - y0) * 0.06, 1);
  return [x0 - padx, y0 - pady, x1 + padx, y1 + pady];
}

function niceStep(span) {
  const raw = span / 6, p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

// The site map. opts: {site, mapUrl (a data: URL or null), cameras, links, colour, person
// ({visits, sightings} or null), alerting (camera ids to flash), onCamera(id)}.
export function drawSite(svg, opts) {
  const {site, mapUrl, cameras, links, colour, person} = opts;
  svg.replaceChildren();
  const byId = Object.fromEntries(cameras.map((c) => [c.id, c]));
  const sightings = person ? person.sightings : [];
  const stops = person ? visitStops(person.visits, sightings, byId) : [];
  const [x0, y0, x1, y1] = extent(site, cameras, stops, sightings);
  const W = 640, pad = 14;
  const k0 = (W - 2 * pad) / Math.max(x1 - x0, 1e-6);
  const H = Math.round(Math.min(Math.max((y1 - y0) * k0 + 2 * pad, 260), 640));
  const k = Math.min(k0, (H - 2 * pad) / Math.max(y1 - y0, 1e-6));
  const ox = pad + (W - 2 * pad - (x1 - x0) * k) / 2, oy = pad + (H - 2 * pad - (y1 - y0) * k) / 2;
  const X = (x) => ox + (x - x0) * k, Y = (y) => oy + (y1 - y) * k;  // +y is north: up on the page
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);

  // the site: its floor plan (when one is set) under a metre grid
  el("rect", {class: "site-bounds", x: X(x0), y: Y(y1), width: (x1 - x0) * k, height: (y1 - y0) * k}, svg);
  if (mapUrl) {
    el("image", {class: "floorplan", href: mapUrl, x: X(x0), y: Y(y1), width: (x1 - x0) * k,
      height: (y1 - y0) * k, preserveAspectRatio: "none"}, svg);
  }
  const grid = el("g", {class: "grid"}, svg), step = niceStep(Math.max(x1 - x0, y1 - y0));
  for (let gx = Math.ceil(x0 / step) * step; gx <= x1; gx += step) el("line", {x1: X(gx), x2: X(gx), y1: Y(y0), y2: Y(y1)}, grid);
  for (let gy = Math.ceil(y0 / step) * step; gy <= y1; gy += step) el("line", {x1: X(x0), x2: X(x1), y1: Y(gy), y2: Y(gy)}, grid);

  // fields of view: a wedge from the camera along its heading (degrees anticlockwise from +x)
  const placed = cameras.filter((c) => c.position);
  const fovs = el("g", {class: "fovs"}, svg);
  for (const c of placed) {
    if (c.heading_deg === null || c.heading_deg === undefined) continue;
    const [cx, cy] = c.position, r = c.range_m || 20, half = (c.fov_deg || 60) / 2;
    const pts = [`${X(cx)},${Y(cy)}`];
    for (let i = 0; i <= 24; i++) {
      const a = (c.heading_deg - half + (2 * half * i) / 24) * Math.PI / 180;
      pts.push(`${X(cx + r * Math.cos(a))},${Y(cy + r * Math.sin(a))}`);
    }
    const w = el("polygon", {class: "fov", points: pts.join(" "), fill: colour[c.id] || "#888",
      "data-fov": c.id}, fovs);
    el("title", {}, w).textContent = `${c.id}: field of view ${c.fov_deg}°, ${r} m`;
  }

  // the topology: one line per pair of linked cameras, labelled with the typical transit time
  const seen = new Set(), linkG = el("g", {class: "links"}, svg);
  for (const l of links) {
    const a = byId[l.from], b = byId[l.to];
    const key = [l.from, l.to].sort().join("\u0000");
    if (!a || !b || !a.position || !b.position || seen.has(key)) continue;
    seen.add(key);
    const back = links.some((m) => m.from === l.to && m.to === l.from);
    const ln = el("line", {class: "link", x1: X(a.position[0]), y1: Y(a.position[1]), x2: X(b.position[0]),
      y2: Y(b.position[1]), "data-link": `${l.from}-${l.to}`}, linkG);
    el("title", {}, ln).textContent = `${l.from} ${back ? "↔" : "→"} ${l.to}: typically ${l.typical_transit_s} s ` +
      `(at least ${l.min_transit_s} s)`;
    if (l.typical_transit_s !== null && l.typical_transit_s !== undefined) {
      text(linkG, (X(a.position[0]) + X(b.position[0])) / 2 + 4, (Y(a.position[1]) + Y(b.position[1])) / 2 - 4,
        `${Math.round(l.typical_transit_s)} s`, {class: "link-label"});
    }
  }

  // the person: their sightings faintly, then one numbered stop per visit joined in time order
  if (person) {
    const dots = el("g", {class: "sightings"}, svg);
    for (const s of sightings.filter((p) => p.ground_plane)) {
      el("circle", {class: "sighting-dot", cx: X(s.x), cy: Y(s.y), r: 2.5, fill: colour[s.camera] || "#555"}, dots);
    }
    if (stops.length) {
      el("polyline", {class: "path", points: stops.map((p) => `${X(p.x)},${Y(p.y)}`).join(" "),
        "data-stops": stops.length}, svg);
      const g = el("g", {class: "stops"}, svg), placedLabels = [];
      for (const p of stops) {
        const s = el("g", {class: "stop", "data-visit": p.n, "data-camera": p.camera}, g);
        el("circle", {cx: X(p.x), cy: Y(p.y), r: 9, fill: colour[p.camera] || "#555"}, s);
        text(s, X(p.x), Y(p.y) + 3.5, String(p.n), {class: "stop-n"});
        // the time beside the stop, moved down past any label already there (stops of one camera crowd)
        const lx = X(p.x) + 12;
        let ly = Y(p.y) + 4;
        while (placedLabels.some(([x, y]) => Math.abs(x - lx) < 48 && Math.abs(y - ly) < 12)) ly += 12;
        placedLabels.push([lx, ly]);
        text(s, lx, ly, `${clock(p.t_start)}`, {class: "stop-t"});
        el("title", {}, s).textContent = `visit ${p.n}: ${p.camera} ${utc(p.t_start)} – ${clock(p.t_end)} UTC`;
      }
    }
  }

  // cameras on top: a marker that selects the camera (keyboard too)
  const camG = el("g", {class: "cameras"}, svg);
  for (const c of placed) {
    const [cx, cy] = c.position;
    const g = el("g", {class: "camera" + ((opts.alerting || []).includes(c.id) ? " alerting" : "") +
      ((opts.picked || []).includes(c.id) ? " picked" : ""),
      "data-camera-marker": c.id, tabindex: 0, role: "button",
      "aria-pressed": (opts.picked || []).includes(c.id) ? "true" : "false", "aria-label": `camera ${c.id}` +
      (c.region ? ` in ${c.region}` : "") + (c.seen ? "" : " (no sightings stored)")}, camG);
    el("rect", {x: X(cx) - 6, y: Y(cy) - 6, width: 12, height: 12, rx: 2, fill: colour[c.id] || "#555",
      class: c.seen ? "seen" : "unseen"}, g);
    text(g, X(cx) + 9, Y(cy) + 16, c.id, {class: "camera-label"});
    el("title", {}, g).textContent = `${c.id}${c.region ? " (" + c.region + ")" : ""}: heading ${c.heading_deg ?? "?"}°` +
      `${c.lat !== null && c.lat !== undefined ? `, ${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}` : ""}`;
    if (opts.onCamera) {
      g.addEventListener("click", () => opts.onCamera(c.id));
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); opts.onCamera(c.id); } });
    }
  }

  // a scale bar and north
  const bar = niceStep((x1 - x0) / 1.5);
  el("line", {class: "scale", x1: pad + 6, y1: H - 10, x2: pad + 6 + bar * k, y2: H - 10}, svg);
  text(svg, pad + 10 + bar * k, H - 6, `${bar} m`);
  text(svg, W - pad - 10, pad + 14, "N ↑", {class: "north"});
  return {stops: stops.length, cameras: placed.length, links: seen.size};
}

// A timeline with one row per camera. items: [{camera, t_start, t_end, fill, label, data}]; rows:
// the cameras in display order. Each bar carries data-* attributes from item.data.
export function drawTimeline(svg, rows, items, range) {
  svg.replaceChildren();
  const W = 560, left = 74, right = 12, top = 8, rowH = rows.length > 6 ? 18 : 26;
  const H = top + rows.length * rowH + 26;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  if (!items.length) { text(svg, left, top + 14, "nothing in this time window"); return; }
  const t0 = range ? range[0] : Math.min(...items.map((v) => v.t_start));
  const t1 = range ? range[1] : Math.max(...items.map((v) => v.t_end));
  const T = (t) => left + (t - t0) / Math.max(t1 - t0, 1) * (W - left - right);
  rows.forEach((cam, i) => {
    el("rect", {class: "lane", x: left, y: top + i * rowH + 1, width: W - left - right, height: rowH - 2}, svg);
    text(svg, 4, top + i * rowH + rowH * 0.65, cam);
  });
  for (const v of items) {
    const i = rows.indexOf(v.camera);
    if (i < 0) continue;
    const attrs = {class: "bar", x: T(v.t_start), y: top + i * rowH + 4, width: Math.max(T(v.t_end) - T(v.t_start), 3),
      height: rowH - 8, fill: v.fill};
    for (const [key, val] of Object.entries(v.data || {})) attrs[`data-${key}`] = val;
    el("title", {}, el("rect", attrs, svg)).textContent = v.label;
  }
  const yAxis = top + rows.length * rowH + 16;
  text(svg, left, yAxis, utc(t0).slice(5));
  text(svg, W - right, yAxis, utc(t1).slice(5), {"text-anchor": "end"});
}
