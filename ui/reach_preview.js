// Live reach preview: the catchment slider, the headline counts and a map of the targets.
//
// Everything a slider move shows is looked up in data the server computed for every step
// (geo/reach_preview.py) and serves as static files, fetched once per selection: the counts at
// `data.counts_url` (per step, also per store), the map's targets at `data.map_url` (each
// entry tagged with the first step at which it is a target). So a move
// redraws in the browser at once; the chosen value goes to the server (state "limit") only
// once the slider rests, and the details below the preview (waterfall, table, forecast,
// target list) follow then. No customer name, e-mail or id is in the data.

const SETTLE_MS = 250;           // send the value to the server after this long at rest
const HEIGHT_PX = 500;
const TILE = 256;                // Web-Mercator world size at zoom 0, pixels
const POINT_M = 6;               // radius of a target point, metres (1.5 to 4 pixels)
const STATS = [
  ["in_catchment", "In catchment", "Customers assigned to a chosen store within the limit."],
  ["targets", "Targets", "Opted in, after every filter, one per e-mail address."],
  ["treatment", "Treatment", "Targets who get the e-mail and a coupon code."],
  ["holdout", "Holdout", "Targets held out at random within each store and band; never sent."],
  ["in_two_catchments", "In two catchments",
   "Within the limit of two or more stores: each is counted once, at its nearest store."],
];

// waterfall steps: [stage before, stage after, what the rule removes]
const RULES = [
  ["in_catchment", "opted_in", "without consent"],
  ["opted_in", "not_suppressed", "suppressed"],
  ["not_suppressed", "not_recently_contacted", "contacted recently"],
  ["not_recently_contacted", "in_segment", "outside the segment and filters"],
  ["in_segment", "targets", "second records of an address"],
];

const fmt = (n) => Number(n).toLocaleString("en-US");
const mercX = (lon) => ((lon + 180) / 360) * TILE;
const mercY = (lat) => {
  const s = Math.sin((lat * Math.PI) / 180);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE;
};

function build(parent) {
  const root = document.createElement("div");
  root.className = "rp-root";
  root.dataset.testid = "stReachPreview";
  root.innerHTML = `
    <div class="rp-slider"><label class="rp-label"></label>
      <div class="rp-range"><input type="range"><output class="rp-value"></output></div></div>
    <div class="rp-stats" aria-live="polite"></div>
    <p class="rp-rules"></p>
    <div class="rp-mapwrap"><canvas class="rp-map"></canvas><div class="rp-tip" hidden></div>
      <div class="rp-loading">Loading the map…</div></div>
    <p class="rp-caption"></p>`;
  parent.appendChild(root);
  const stats = root.querySelector(".rp-stats");
  for (const [key, label, help] of STATS) {
    const el = document.createElement("div");
    el.className = "rp-stat";
    el.dataset.stat = key;
    el.title = help;
    el.innerHTML = `<div class="rp-stat-label">${label}</div><div class="rp-stat-value">–</div>`;
    stats.appendChild(el);
  }
  return {
    root,
    label: root.querySelector(".rp-label"),
    input: root.querySelector("input"),
    output: root.querySelector("output"),
    stats,
    canvas: root.querySelector("canvas"),
    tip: root.querySelector(".rp-tip"),
    loading: root.querySelector(".rp-loading"),
    caption: root.querySelector(".rp-caption"),
    rules: root.querySelector(".rp-rules"),
  };
}

// --- map state --------------------------------------------------------------------------

function projectStores(stores) {
  return stores.map((s, index) => ({ ...s, index, x: mercX(s.lon), y: mercY(s.lat) }));
}

function projectTargets(body) {
  const n = body.lon.length;
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) { x[i] = mercX(body.lon[i] / 1e5); y[i] = mercY(body.lat[i] / 1e5); }
  return { ...body, x, y };
}

function projectRoads(records) {
  return records.map((r) => {
    const p = new Float64Array(r.path.length * 2);
    r.path.forEach(([lon, lat], i) => { p[2 * i] = mercX(lon); p[2 * i + 1] = mercY(lat); });
    return p;
  });
}

function fitView(s) {
  const xs = s.stores.map((p) => p.x), ys = s.stores.map((p) => p.y);
  const t = s.targets;
  if (t) for (let i = 0; i < t.x.length; i++) { xs.push(t.x[i]); ys.push(t.y[i]); }
  if (!xs.length) { s.view = { cx: TILE / 2, cy: TILE / 2, scale: 2 }; return; }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    x0 = Math.min(x0, xs[i]); x1 = Math.max(x1, xs[i]);
    y0 = Math.min(y0, ys[i]); y1 = Math.max(y1, ys[i]);
  }
  const w = s.width - 40, h = HEIGHT_PX - 40;
  const scale = Math.min(w / Math.max(x1 - x0, 1e-6), h / Math.max(y1 - y0, 1e-6));
  s.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: Math.min(scale, 2 ** 22) };
}

const toScreen = (s, x, y) => [
  (x - s.view.cx) * s.view.scale + s.width / 2,
  (y - s.view.cy) * s.view.scale + HEIGHT_PX / 2,
];

// metres per world unit at a world y (Web Mercator)
function metresPerUnit(y) {
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / TILE))) * 180) / Math.PI;
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / TILE;
}

// the counts at step j, one value per column of the curve (null until they are loaded)
function rowAt(s, j) {
  if (!s.counts) return null;
  const row = {};
  for (const [key, values] of Object.entries(s.counts.curve)) row[key] = values[j];
  return row;
}

function stepIndex(s) {
  return Math.round((Number(s.el.input.value) - s.data.min) / s.data.step);
}

function cellColour(n, max) {
  const t = Math.sqrt(n / Math.max(max, 1));
  const c = [198 + (8 - 198) * t, 219 + (48 - 219) * t, 239 + (107 - 239) * t];
  return `rgba(${c.map(Math.round).join(",")},0.85)`;
}

// the roads change only with the view, so they are drawn once per view into a buffer
function drawRoads(ctx, s, dpr) {
  if (!s.roads) return;
  const key = [s.view.cx, s.view.cy, s.view.scale, s.width, dpr, s.roads.length].join("|");
  if (!s.roadBuffer || s.roadBuffer.key !== key) {
    const buf = s.roadBuffer?.canvas || document.createElement("canvas");
    buf.width = Math.round(s.width * dpr);
    buf.height = Math.round(HEIGHT_PX * dpr);
    const b = buf.getContext("2d");
    b.setTransform(dpr, 0, 0, dpr, 0, 0);
    b.strokeStyle = "rgba(150,150,150,0.55)";
    b.lineWidth = 1;
    b.beginPath();
    for (const p of s.roads) {
      for (let i = 0; i < p.length; i += 2) {
        const [x, y] = toScreen(s, p[i], p[i + 1]);
        if (i === 0) b.moveTo(x, y); else b.lineTo(x, y);
      }
    }
    b.stroke();
    s.roadBuffer = { key, canvas: buf };
  }
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(s.roadBuffer.canvas, 0, 0);
  ctx.restore();
}

function drawTargets(ctx, s, j) {
  const t = s.targets;
  s.cellsShown = null;
  if (!t) return 0;
  let total = 0;
  if (t.draw === "points") {
    const byStore = new Map();
    for (let i = 0; i < t.k.length && t.k[i] <= j; i++) {
      if (!byStore.has(t.s[i])) byStore.set(t.s[i], []);
      byStore.get(t.s[i]).push(i);
      total++;
    }
    const r = Math.max(1.5, Math.min(4, (POINT_M / metresPerUnit(s.view.cy)) * s.view.scale));
    for (const [store, rows] of byStore) {
      const c = (s.stores[store] || { colour: [31, 119, 180] }).colour;
      ctx.fillStyle = `rgba(${c[0]},${c[1]},${c[2]},0.8)`;
      ctx.beginPath();
      for (const i of rows) {
        const [x, y] = toScreen(s, t.x[i], t.y[i]);
        ctx.rect(x - r, y - r, 2 * r, 2 * r);
      }
      ctx.fill();
    }
    return total;
  }
  const counts = new Float64Array(t.x.length);
  for (let i = 0; i < t.k.length && t.k[i] <= j; i++) { counts[t.c[i]] += t.n[i]; total += t.n[i]; }
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]);
  const side = Math.max(2, (t.cell_m / metresPerUnit(s.view.cy)) * s.view.scale);
  for (let i = 0; i < counts.length; i++) {
    if (!counts[i]) continue;
    const [x, y] = toScreen(s, t.x[i], t.y[i]);
    if (x < -side || y < -side || x > s.width + side || y > HEIGHT_PX + side) continue;
    ctx.fillStyle = cellColour(counts[i], max);
    ctx.fillRect(x - side / 2, y - side / 2, side, side);
  }
  s.cellsShown = { counts, side };
  return total;
}

function drawStores(ctx, s) {
  ctx.font = "12px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  for (const p of s.stores) {
    const [x, y] = toScreen(s, p.x, p.y);
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.fillStyle = "rgb(214,39,40)";
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "white";
    ctx.stroke();
  }
  // labels where they do not overlap one already drawn (zoom in to read the others)
  const placed = [];
  for (const p of s.stores) {
    const [x, y] = toScreen(s, p.x, p.y);
    const w = ctx.measureText(p.name).width + 6, box = [x - w / 2, y - 24, x + w / 2, y - 8];
    if (placed.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) {
      continue;
    }
    placed.push(box);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.strokeText(p.name, x, y - 9);
    ctx.fillStyle = "rgb(30,30,30)";
    ctx.fillText(p.name, x, y - 9);
  }
}

function render(s) {
  const { canvas } = s.el;
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(200, s.el.root.clientWidth || 700);
  if (width !== s.width) {
    s.width = width;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${HEIGHT_PX}px`;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(HEIGHT_PX * dpr);
    if (!s.userMoved) fitView(s);
  }
  if (!s.view) fitView(s);
  const j = stepIndex(s);
  const row = rowAt(s, j);
  const value = s.data.steps[j];
  const unit = s.data.unit;
  s.el.output.textContent = `${value} ${unit}`;
  for (const el of s.el.stats.children) {
    el.querySelector(".rp-stat-value").textContent = row ? fmt(row[el.dataset.stat]) : "–";
  }
  s.el.rules.textContent = row ? "The rules remove, of those in the catchment: " + RULES.map(
    ([from, to, what]) => `${fmt(row[from] - row[to])} ${what}`).join(" · ") + "." : "";
  const ctx = canvas.getContext("2d", { willReadFrequently: true });   // a CPU canvas: fast without a GPU
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#f4f4f1";
  ctx.fillRect(0, 0, s.width, HEIGHT_PX);
  drawRoads(ctx, s, dpr);
  const drawn = drawTargets(ctx, s, j);
  drawStores(ctx, s);
  const how = !s.targets ? "loading" : s.targets.draw === "points"
    ? "coloured by their nearest store"
    : `per ${s.targets.cell_m} m square (darker: more targets)`;
  s.el.caption.textContent = `Map: ${fmt(row ? row.targets : 0)} targets within ${value} ${unit}, `
    + `${how}. Drag to pan, scroll to zoom, double-click to fit. `
    + "Map data © OpenStreetMap contributors (ODbL).";
  if (s.counts && s.targets) {   // the picture and the numbers are both those of this step
    canvas.dataset.drawn = String(value);
    canvas.dataset.drawnAt = String(performance.now());
    canvas.dataset.counts = s.countsUrl;
  }
  canvas.dataset.targetsDrawn = String(drawn);
}

function schedule(s) {
  if (s.frame) return;
  s.frame = requestAnimationFrame(() => { s.frame = 0; render(s); });
}

// --- interaction ------------------------------------------------------------------------

function tooltipAt(s, mx, my) {
  for (const p of s.stores) {
    const [x, y] = toScreen(s, p.x, p.y);
    if ((x - mx) ** 2 + (y - my) ** 2 <= 81) {
      const n = s.counts ? s.counts.stores[p.index][stepIndex(s)] : null;
      return n == null ? `${p.name} (${p.id})`
        : `${p.name} (${p.id}): ${fmt(n)} target${n === 1 ? "" : "s"} within `
          + `${s.data.steps[stepIndex(s)]} ${s.data.unit}`;
    }
  }
  const shown = s.cellsShown, t = s.targets;
  if (shown && t) {
    for (let i = 0; i < shown.counts.length; i++) {
      if (!shown.counts[i]) continue;
      const [x, y] = toScreen(s, t.x[i], t.y[i]);
      if (Math.abs(x - mx) <= shown.side / 2 && Math.abs(y - my) <= shown.side / 2) {
        const n = shown.counts[i];
        return `${fmt(n)} target${n === 1 ? "" : "s"} in this square`;
      }
    }
  }
  return null;
}

function wire(s, setStateValue) {
  const { input, canvas, tip } = s.el;
  // redraw at once, not on the next animation frame: without a GPU the compositor can hold
  // animation frames back for hundreds of milliseconds while the page is idle
  input.addEventListener("input", () => render(s));
  input.addEventListener("change", () => {
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      const v = Number(input.value);
      if (v !== s.sent) { s.sent = v; setStateValue("limit", v); }
    }, SETTLE_MS);
  });
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, cx: s.view.cx, cy: s.view.cy };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", (e) => {
    const r = canvas.getBoundingClientRect();
    if (drag) {
      s.view.cx = drag.cx - (e.clientX - drag.x) / s.view.scale;
      s.view.cy = drag.cy - (e.clientY - drag.y) / s.view.scale;
      s.userMoved = true;
      tip.hidden = true;
      schedule(s);
      return;
    }
    const text = tooltipAt(s, e.clientX - r.left, e.clientY - r.top);
    tip.hidden = !text;
    if (text) {
      tip.textContent = text;
      tip.style.left = `${e.clientX - r.left + 12}px`;
      tip.style.top = `${e.clientY - r.top + 12}px`;
    }
  });
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const mx = e.clientX - r.left - s.width / 2, my = e.clientY - r.top - HEIGHT_PX / 2;
    const f = Math.exp(-e.deltaY * 0.0015);
    const wx = s.view.cx + mx / s.view.scale, wy = s.view.cy + my / s.view.scale;
    s.view.scale *= f;
    s.view.cx = wx - mx / s.view.scale;
    s.view.cy = wy - my / s.view.scale;
    s.userMoved = true;
    schedule(s);
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { s.userMoved = false; fitView(s); schedule(s); });
  if (window.ResizeObserver) {
    s.resize = new ResizeObserver(() => schedule(s));
    s.resize.observe(s.el.root);
  }
}

async function load(s, url, parse, field) {
  s.loadingUrl = s.loadingUrl || {};
  if (s.loadingUrl[field] === url) return;
  s.loadingUrl[field] = url;
  if (!url) { s[field] = null; schedule(s); return; }
  try {
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
    const body = parse(await resp.json());
    if (s.loadingUrl[field] !== url) return;   // a newer request won
    s[field] = body;
    if (field === "counts") s.countsUrl = url;
    if (field === "targets" && !s.userMoved) fitView(s);
  } catch (err) {
    s.el.loading.textContent = `Could not load the map data (${err.message}).`;
    s.el.loading.hidden = false;
    return;
  }
  if (field === "targets") s.el.loading.hidden = true;
  schedule(s);
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  let s = parentElement.__reachPreview;
  if (!s) {
    s = parentElement.__reachPreview = { el: build(parentElement), stores: [], sent: null };
    wire(s, setStateValue);
  }
  const first = !s.data;
  const rangeChanged = first || s.data.kind !== data.kind;
  s.data = data;
  s.stores = projectStores(data.stores);
  const { input, label } = s.el;
  label.textContent = data.label;
  input.setAttribute("aria-label", data.label);
  input.min = data.min;
  input.max = data.max;
  input.step = data.step;
  // the server's value wins only when the server changed it (first render, new mode,
  // a remembered value); otherwise the user's newer position stays
  const echo = data.limit === s.sent;   // the server confirming the value this slider sent
  if (rangeChanged || (data.limit !== s.serverLimit && !echo)) {
    input.value = data.limit;
    s.sent = data.limit;
  }
  s.serverLimit = data.limit;
  load(s, data.counts_url, (body) => body, "counts");
  load(s, data.map_url, projectTargets, "targets");
  load(s, data.roads_url, projectRoads, "roads");
  render(s);
  return () => {
    clearTimeout(s.timer);
    if (s.resize) s.resize.disconnect();
    delete parentElement.__reachPreview;
  };
}
