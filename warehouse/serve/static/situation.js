// The situation page (态势感知): fetches /api/situation/* and draws tiles, map, charts, lists.
// Everything is local: Plotly from /vendor, the map drawn here as SVG from GeoJSON (Plotly's
// geo traces would fetch world topojson from a CDN). Data is inserted as text, never HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

const ALERT_TYPES = {
  dishonest_with_valid_licence: "失信主体仍持有效证照",
  inactive_entity_with_valid_licence: "吊销/注销主体仍持有效证照",
  licence_holder_unknown: "持证主体不在法人库与人口库",
  deceased_holds_licence: "已故人员仍持有效证照",
  deceased_legal_rep: "已故人员仍任法定代表人",
  penalty_subject_unknown: "处罚对象不在法人库",
};
const SEVERITY = { high: "高", medium: "中", low: "低" };
const FEEDS = {
  population: "人口",
  legal_entity: "法人",
  geospatial: "地理空间",
  credit: "信用",
  licence: "电子证照",
};
// Sequential blues, light to dark: the choropleth's classes.
const RAMP = ["#deebf7", "#b3d1ea", "#7fb0d8", "#4a89c0", "#1f5f99", "#0b3c6b"];
const PLOT_CONFIG = { displayModeBar: false, responsive: true, locale: "zh-CN" };
const PLOT_FONT = {
  family: '"PingFang SC", "Noto Sans CJK SC", "WenQuanYi Zen Hei", system-ui, sans-serif',
  size: 12,
  color: "#1f2933",
};

const state = { district: "", from: "", to: "", months: null, names: {} };

// --- small helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fmt(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString("zh-CN", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function month(iso) {
  return iso ? iso.slice(0, 7) : "";
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) : "—";
}

async function getJSON(path, params) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  const response = await fetch(path + query, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    throw new Error(`${path}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return body;
}

function showError(error) {
  const box = document.getElementById("error");
  box.hidden = false;
  box.textContent = "数据加载失败 · could not load: " + error.message;
}

function filterParams() {
  const params = { from: state.from, to: state.to };
  if (state.district) params.district = state.district;
  return params;
}

// --- the map ---------------------------------------------------------------------------------

function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

function colourScale(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return (value) => {
    if (!Number.isFinite(value)) return "#eceff3";
    const share = hi > lo ? (value - lo) / (hi - lo) : 1;
    return RAMP[Math.min(RAMP.length - 1, Math.floor(share * RAMP.length))];
  };
}

function drawMap(collection) {
  const svg = document.getElementById("map");
  svg.replaceChildren();
  const features = collection.features.filter((f) => f.geometry);
  if (!features.length) return;
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const feature of features) {
    for (const ring of rings(feature.geometry)) {
      for (const [x, y] of ring) {
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
    }
  }
  // Equirectangular with the mid-latitude's scale: true enough shapes for one city.
  const kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const width = 600, height = 480, pad = 12;
  const scale = Math.min((width - 2 * pad) / ((maxX - minX) * kx || 1),
                         (height - 2 * pad) / ((maxY - minY) || 1));
  const offX = (width - (maxX - minX) * kx * scale) / 2;
  const offY = (height - (maxY - minY) * scale) / 2;
  const project = ([x, y]) => [offX + (x - minX) * kx * scale, offY + (maxY - y) * scale];

  const colour = colourScale(features.map((f) => f.properties.total));
  const labels = [];
  for (const feature of features) {
    const p = feature.properties;
    const d = rings(feature.geometry)
      .map((ring) => "M" + ring.map((pt) => project(pt).map((v) => v.toFixed(1)).join(",")).join("L") + "Z")
      .join("");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    path.setAttribute("class", "district");
    path.setAttribute("fill-rule", "evenodd");
    path.setAttribute("fill", colour(p.total));
    path.dataset.code = p.district_code;
    path.dataset.value = p.total ?? "";
    const title = document.createElementNS(SVG_NS, "title");
    title.textContent = `${p.area_name}：常住人口 ${fmt(p.total)}（户籍 ${fmt(p.registered)}，流动 ${fmt(p.floating)}）`;
    path.appendChild(title);
    path.addEventListener("click", () => selectDistrict(state.district === p.district_code ? "" : p.district_code));
    svg.appendChild(path);
    // Label at the centre of the largest ring's box.
    const outer = rings(feature.geometry).reduce((a, b) => (b.length > a.length ? b : a), []);
    const xs = outer.map((pt) => project(pt)[0]);
    const ys = outer.map((pt) => project(pt)[1]);
    // Names only where they fit; the tooltip names every district.
    const boxWidth = Math.max(...xs) - Math.min(...xs);
    const boxHeight = Math.max(...ys) - Math.min(...ys);
    if (boxWidth >= 12 * String(p.area_name).length && boxHeight >= 16) {
      const label = document.createElementNS(SVG_NS, "text");
      label.setAttribute("x", ((Math.min(...xs) + Math.max(...xs)) / 2).toFixed(1));
      label.setAttribute("y", ((Math.min(...ys) + Math.max(...ys)) / 2 + 4).toFixed(1));
      label.textContent = p.area_name;
      labels.push(label);
    }
  }
  labels.forEach((label) => svg.appendChild(label));
  drawLegend(features.map((f) => f.properties.total));
  markSelected();
}

function drawLegend(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  if (!finite.length) return;
  const ramp = el("span", { class: "ramp" });
  RAMP.forEach((c) => ramp.appendChild(el("span", { style: `background:${c}` })));
  legend.append(el("span", {}, fmt(Math.min(...finite))), ramp, el("span", {}, fmt(Math.max(...finite)) + " 人"));
}

function markSelected() {
  for (const path of document.querySelectorAll("#map path.district")) {
    path.classList.toggle("selected", path.dataset.code === state.district);
  }
}

// --- tiles -------------------------------------------------------------------------------------

function drawTiles(body) {
  const tiles = body.tiles;
  for (const tile of document.querySelectorAll("#tiles .tile")) {
    const key = tile.dataset.tile;
    const value = tiles[key];
    const node = tile.querySelector(".value");
    node.textContent = key === "fines_month_yuan" ? fmt(value, 2) : fmt(value);
    tile.dataset.value = value ?? "";
  }
  const label = body.filter.to === state.months?.default_to?.slice(0, 7) ? "本月" : body.filter.to + " ";
  document.querySelectorAll(".month-label").forEach((n) => { n.textContent = label; });
  document.getElementById("scope-name").textContent = state.district ? state.names[state.district] || state.district : "全市";
  document.getElementById("scope-range").textContent = `${body.filter.from} 至 ${body.filter.to}`;
}

// --- charts ------------------------------------------------------------------------------------

function layout(extra = {}) {
  return {
    font: PLOT_FONT,
    margin: { l: 56, r: 16, t: 8, b: 36 },
    legend: { orientation: "h", y: -0.18 },
    xaxis: { type: "date", tickformat: "%Y-%m", gridcolor: "#eef2f6" },
    yaxis: { gridcolor: "#eef2f6", rangemode: "tozero", separatethousands: true },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    hovermode: "x unified",
    ...extra,
  };
}

function drawTrends(body) {
  const pop = body.population;
  const x = (rows) => rows.map((r) => r.month);
  Plotly.react("chart-population", [
    { name: "常住 total", x: x(pop), y: pop.map((r) => r.total), type: "scatter", mode: "lines+markers", line: { color: "#1f5f99" } },
    { name: "户籍 registered", x: x(pop), y: pop.map((r) => r.registered), type: "scatter", mode: "lines+markers", line: { color: "#4a89c0" } },
    { name: "流动 floating", x: x(pop), y: pop.map((r) => r.floating), type: "scatter", mode: "lines+markers", line: { color: "#b7791f" } },
  ], layout(), PLOT_CONFIG);

  const reg = body.registrations;
  Plotly.react("chart-registrations", [
    { name: "新登记 registrations", x: x(reg), y: reg.map((r) => r.registrations), type: "bar", marker: { color: "#1f5f99" } },
    { name: "注销 deregistrations", x: x(reg), y: reg.map((r) => r.deregistrations), type: "bar", marker: { color: "#b83232" } },
  ], layout({ barmode: "group" }), PLOT_CONFIG);

  const pen = body.penalties;
  Plotly.react("chart-penalties", [
    { name: "处罚 penalties", x: x(pen), y: pen.map((r) => r.penalties), type: "bar", marker: { color: "#4a89c0" } },
    { name: "罚款（元）fines", x: x(pen), y: pen.map((r) => r.fines_yuan), type: "scatter", mode: "lines+markers", yaxis: "y2", line: { color: "#b7791f" } },
  ], layout({
    yaxis2: { overlaying: "y", side: "right", rangemode: "tozero", showgrid: false, separatethousands: true },
    margin: { l: 48, r: 64, t: 8, b: 36 },
  }), PLOT_CONFIG);
}

// --- alerts ------------------------------------------------------------------------------------

function drawAlerts(body) {
  document.getElementById("alerts-total").textContent = `共 ${fmt(body.total)} 条 · showing ${fmt(body.items.length)}`;
  const counts = document.getElementById("alert-counts");
  counts.replaceChildren();
  const perType = {};
  for (const c of body.counts) perType[c.alert_type] = (perType[c.alert_type] || 0) + c.alerts;
  for (const [type, n] of Object.entries(perType)) {
    const chip = el("span", { class: "chip", "data-type": type }, ALERT_TYPES[type] || type);
    chip.appendChild(el("b", {}, fmt(n)));
    counts.appendChild(chip);
  }
  const tbody = document.querySelector("#alerts tbody");
  tbody.replaceChildren();
  for (const a of body.items) {
    const tr = el("tr", { "data-district": a.district_code ?? "" });
    const level = el("td");
    level.appendChild(el("span", { class: `badge ${a.severity}` }, SEVERITY[a.severity] || a.severity));
    tr.append(
      level,
      el("td", {}, ALERT_TYPES[a.alert_type] || a.alert_type),
      el("td", { class: "subject" }, a.subject_name ?? "—"),
      el("td", { class: "code" }, a.subject_code ?? "—"),
      el("td", {}, state.names[a.district_code] || a.district_code || "—"),
      el("td", {}, a.detail ?? ""),
      el("td", {}, when(a.detected_at)),
    );
    tbody.appendChild(tr);
  }
  if (!body.items.length) {
    tbody.appendChild(el("tr")).appendChild(el("td", { colspan: 7 }, "所选范围内无预警 · no alerts in this selection"));
  }
}

// --- freshness and quality --------------------------------------------------------------------

function drawFreshness(body) {
  const tbody = document.querySelector("#freshness tbody");
  tbody.replaceChildren();
  for (const f of body.feeds) {
    const status = el("td");
    status.appendChild(el("span", { class: `badge ${f.is_stale ? "stale" : "fresh"}` }, f.is_stale ? "滞后 stale" : "正常 fresh"));
    tbody.appendChild(el("tr", { "data-feed": f.feed })).append(
      el("td", {}, `${FEEDS[f.feed] || f.feed}（${f.feed}）`),
      el("td", {}, f.department),
      el("td", {}, when(f.last_loaded_at)),
      el("td", { class: "num" }, fmt(f.lag_hours, 1)),
      el("td", { class: "num" }, `≤ ${fmt(f.freshness_sla_hours)} h`),
      status,
    );
  }
}

function drawQuality(body) {
  const box = document.getElementById("quality");
  box.replaceChildren();
  for (const dept of body.latest) {
    const card = el("div", { class: "dept", "data-department": dept.department });
    card.appendChild(el("div", { class: "name" }, dept.department));
    const score = el("div", { class: "score" }, fmt(dept.overall, 1));
    const grades = [...new Set(dept.feeds.map((f) => f.grade))].join("/");
    score.appendChild(el("span", { class: "grade" }, grades));
    card.appendChild(score);
    card.appendChild(el("div", { class: "feeds" }, dept.feeds.map((f) => FEEDS[f.feed] || f.feed).join("、")));
    box.appendChild(card);
  }
  // Per department, its batches in the order they were scored: batches scored in one run
  // share a time, so the x axis is the batch's sequence number (the time is in the hover).
  const byDept = {};
  for (const row of body.trend) (byDept[row.department] ||= []).push(row);
  const traces = Object.entries(byDept).map(([dept, rows]) => ({
    name: dept,
    x: rows.map((_, i) => i + 1),
    y: rows.map((r) => r.overall),
    text: rows.map((r) => `${FEEDS[r.feed] || r.feed} · ${when(r.scored_at)}`),
    hovertemplate: "%{text}<br>第 %{x} 批：%{y:.1f}<extra>%{fullData.name}</extra>",
    type: "scatter",
    mode: "lines+markers",
  }));
  Plotly.react("chart-quality", traces, layout({
    xaxis: { tickprefix: "第", ticksuffix: "批", dtick: 1, gridcolor: "#eef2f6" },
    yaxis: { range: [0, 100.5], gridcolor: "#eef2f6", title: { text: "综合得分" } },
    legend: { orientation: "h", y: -0.35 },
    hovermode: "closest",
  }), PLOT_CONFIG);
}

// --- filters and loading ------------------------------------------------------------------------

function selectDistrict(code) {
  state.district = code;
  document.getElementById("district").value = code;
  markSelected();
  refresh();
}

async function refresh() {
  document.body.dataset.state = "loading";
  const params = filterParams();
  try {
    const [tiles, trends, alerts] = await Promise.all([
      getJSON("/api/situation/tiles", params),
      getJSON("/api/situation/trends", params),
      getJSON("/api/situation/alerts", params),
    ]);
    drawTiles(tiles);
    drawTrends(trends);
    drawAlerts(alerts);
    document.getElementById("error").hidden = true;
    document.body.dataset.state = "ready";
    document.body.dataset.filter = JSON.stringify(params);
  } catch (error) {
    document.body.dataset.state = "error";
    showError(error);
  }
}

function readMonths() {
  const from = document.getElementById("month-from").value;
  const to = document.getElementById("month-to").value;
  if (!from || !to || from > to) return false;
  state.from = from;
  state.to = to;
  return true;
}

function resetFilters() {
  state.district = "";
  document.getElementById("district").value = "";
  document.getElementById("month-from").value = month(state.months.default_from);
  document.getElementById("month-to").value = month(state.months.default_to);
  readMonths();
  markSelected();
  refresh();
}

async function start() {
  try {
    const [months, map] = await Promise.all([
      getJSON("/api/situation/months"),
      getJSON("/api/situation/map"),
    ]);
    state.months = months;
    const select = document.getElementById("district");
    for (const f of map.features) {
      state.names[f.properties.district_code] = f.properties.area_name;
      select.appendChild(el("option", { value: f.properties.district_code }, f.properties.area_name));
    }
    for (const id of ["month-from", "month-to"]) {
      const input = document.getElementById(id);
      input.min = month(months.first_month);
      input.max = month(months.last_month);
    }
    drawMap(map);
    select.addEventListener("change", () => selectDistrict(select.value));
    document.getElementById("filters").addEventListener("change", (event) => {
      if (event.target.type === "month" && readMonths()) refresh();
    });
    document.getElementById("reset").addEventListener("click", resetFilters);
    resetFilters();
  } catch (error) {
    document.body.dataset.state = "error";
    showError(error);
  }
  Promise.all([getJSON("/api/situation/freshness"), getJSON("/api/situation/quality")])
    .then(([freshness, quality]) => {
      drawFreshness(freshness);
      drawQuality(quality);
      document.body.dataset.health = "ready";
    })
    .catch(showError);
}

document.addEventListener("DOMContentLoaded", start);
