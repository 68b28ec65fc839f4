// circuitsim teaching page: form -> /api, and a small canvas plotting library of its own
// (no external scripts: the page must work without internet).
"use strict";

const state = {
  options: null, defaults: null, current: null, previous: null,
  watching: null, pollTimer: null, commandTimer: null, anim: null, playing: false,
};
const $ = (id) => document.getElementById(id);
const REGION_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
const PREV = "#9aa3ae";

// ------------------------------------------------------------------ HTTP
// the server writes a token into the page at each start; every POST sends it back (so other web
// pages, which cannot read this page, cannot post to the server)
const TOKEN = (document.querySelector("meta[name='circuitsim-token']") || {}).content || "";

async function api(path, body) {
  const init = body === undefined ? {} : {method: "POST",
    headers: {"Content-Type": "application/json", "X-Circuitsim-Token": TOKEN}, body: JSON.stringify(body)};
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (e) { data = {error: {kind: "http", message: response.statusText}}; }
  return {ok: response.ok, status: response.status, data};
}

// ------------------------------------------------------------------ form
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function slider(id, label, min, max, step, value, title) {
  const range = el("input", {type: "range", id, min, max, step, value});
  const num = el("input", {type: "text", id: id + "-num", value: String(value), inputmode: "decimal"});
  const row = el("div", {class: "slider", id: id + "-row", title: title || label},
    el("span", {class: "name", text: label}), range, num);
  range.addEventListener("input", () => { num.value = range.value; formChanged(); });
  num.addEventListener("input", () => { if (num.value.trim() !== "" && isFinite(Number(num.value))) range.value = num.value; formChanged(); });
  return row;
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a !== 0 && (a < 0.01 || a >= 1e4)) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

function buildForm(options) {
  const cond = $("condition");
  for (const c of options.conditions) cond.append(el("option", {value: c.name, text: c.name}));
  const task = $("task");
  for (const t of options.tasks) task.append(el("option", {value: t.name, text: t.name}));
  const dur = $("duration");
  for (const d of options.durations_s) dur.append(el("option", {value: String(d), text: d + " s"}));
  dur.append(el("option", {value: "preset", text: "preset's own"}));
  dur.value = String(options.default_duration_s);
  const mods = $("modulators");
  for (const m of options.modulators) {
    mods.append(slider("mod-" + m.name, m.name + " level", 0, 2, 0.05, m.level, `circuit.modulators.${m.name}.level`));
  }
  const dbs = $("dbs-preset");
  for (const p of options.stim.dbs) {
    const what = (p.target ? `${p.target} ` : "") + (p.closed_loop ? "closed loop" : "");
    dbs.append(el("option", {value: p.name, text: `${p.name}${what.trim() ? " (" + what.trim() + ")" : ""}`}));
  }
  const tms = $("tms-preset");
  for (const p of options.stim.tms) {
    const long = p.duration_s && p.duration_s > options.max_duration_s ? ", longer than this page runs" : "";
    tms.append(el("option", {value: p.name, text: p.name + (p.duration_s ? ` (${p.duration_s} s${long})` : "")}));
  }
  if (options.stim.other.length) {
    $("other-label").hidden = false;
    for (const p of options.stim.other) $("other-preset").append(el("option", {value: p.name, text: p.name}));
  }
  const groups = {};
  for (const p of options.pathways) (groups[p.group] = groups[p.group] || []).push(p);
  const box = $("pathways");
  let first = true;
  for (const [group, list] of Object.entries(groups)) {
    const det = el("details", first ? {open: ""} : {}, el("summary", {text: `${group} (${list.length})`}));
    first = false;
    for (const p of list) {
      det.append(slider("pw-" + p.name, `${p.source} → ${p.target}`, 0, 3, 0.05, p.weight_scale,
        `circuit.pathways.${p.name}.weight_scale (${p.receptor}, ${p.weight}; ${p.ref})`));
    }
    box.append(det);
  }
  $("out-dir").textContent = options.out_dir;
  for (const id of ["condition", "task", "duration", "seed", "dbs-preset", "tms-preset", "other-preset", "extra"]) {
    $(id).addEventListener("input", formChanged);
  }
  for (const id of ["dbs-frequency", "dbs-amplitude"]) {
    $(id).addEventListener("input", () => { $(id + "-num").value = $(id).value; formChanged(); });
    $(id + "-num").addEventListener("input", () => { if (isFinite(Number($(id + "-num").value))) $(id).value = $(id + "-num").value; formChanged(); });
  }
  cond.addEventListener("change", () => loadDefaults(cond.value));
  dbs.addEventListener("change", dbsChosen);
  tms.addEventListener("change", tmsChosen);
  $("reset-pathways").addEventListener("click", () => applyDefaults(state.defaults, true));
  $("run-button").addEventListener("click", run);
  $("cancel-button").addEventListener("click", cancelRun);
  $("copy-command").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("command").textContent));
  $("compare").addEventListener("change", redraw);
  $("sync-pop").addEventListener("change", redraw);
  $("play").addEventListener("click", () => (state.playing ? stopHead() : playHead()));
  window.addEventListener("resize", () => { clearTimeout(state.resizeTimer); state.resizeTimer = setTimeout(redraw, 150); });
  describe();
  dbsChosen();
}

function describe() {
  const o = state.options;
  const c = o.conditions.find((x) => x.name === $("condition").value);
  $("condition-description").textContent = c ? c.description : "";
  const t = o.tasks.find((x) => x.name === $("task").value);
  $("task-description").textContent = t ? t.description : "";
}

function dbsChosen() {
  const p = state.options.stim.dbs.find((x) => x.name === $("dbs-preset").value);
  $("dbs-params").hidden = !p;
  $("dbs-description").textContent = p ? p.description : "";
  if (p) {
    for (const [key, value, flag] of [["frequency", p.frequency_hz, p.key_frequency], ["amplitude", p.amplitude_ma, p.key_amplitude]]) {
      const has = flag && value !== null;
      $("dbs-" + key).disabled = !has; $("dbs-" + key + "-num").disabled = !has;
      if (has) { $("dbs-" + key).value = value; $("dbs-" + key + "-num").value = String(fmt(value, 4)); }
    }
  }
  formChanged();
}

function tmsChosen() {
  const p = state.options.stim.tms.find((x) => x.name === $("tms-preset").value);
  $("tms-description").textContent = p ? p.description : "";
  if (p) $("duration").value = "preset";   // a TMS protocol needs its own (longer) duration
  formChanged();
}

async function loadDefaults(condition) {
  const r = await api("/api/defaults?condition=" + encodeURIComponent(condition));
  if (!r.ok) { showError(r.data.error); return; }
  state.defaults = r.data;
  applyDefaults(r.data, true);
}

function applyDefaults(d, reset) {
  if (!d) return;
  if (reset) {
    for (const [name, v] of Object.entries(d.pathways)) { if ($("pw-" + name)) { $("pw-" + name).value = v; $("pw-" + name + "-num").value = String(v); } }
    for (const [name, v] of Object.entries(d.modulators)) { if ($("mod-" + name)) { $("mod-" + name).value = v; $("mod-" + name + "-num").value = String(v); } }
  }
  describe();
  formChanged();
}

function readForm() {
  const form = {
    condition: $("condition").value, task: $("task").value, duration: $("duration").value,
    seed: $("seed").value, pathways: {}, modulators: {}, extra: $("extra").value,
    dbs: {preset: $("dbs-preset").value}, tms: {preset: $("tms-preset").value}, other: {preset: $("other-preset").value},
  };
  for (const p of state.options.pathways) form.pathways[p.name] = $("pw-" + p.name + "-num").value;
  for (const m of state.options.modulators) form.modulators[m.name] = $("mod-" + m.name + "-num").value;
  if (form.dbs.preset) {
    if (!$("dbs-frequency-num").disabled) form.dbs.frequency = $("dbs-frequency-num").value;
    if (!$("dbs-amplitude-num").disabled) form.dbs.amplitude = $("dbs-amplitude-num").value;
  }
  return form;
}

function writeForm(form) {
  if (!form) return Promise.resolve();
  const set = (id, v) => { if ($(id) && v !== undefined && v !== null) $(id).value = v; };
  set("condition", form.condition); set("task", form.task); set("duration", form.duration); set("seed", form.seed);
  set("extra", form.extra || "");
  set("dbs-preset", (form.dbs || {}).preset || ""); set("tms-preset", (form.tms || {}).preset || "");
  set("other-preset", (form.other || {}).preset || "");
  return loadDefaults(form.condition).then(() => {
    for (const [name, v] of Object.entries(form.pathways || {})) { set("pw-" + name + "-num", v); if (isFinite(Number(v))) set("pw-" + name, v); }
    for (const [name, v] of Object.entries(form.modulators || {})) { set("mod-" + name + "-num", v); if (isFinite(Number(v))) set("mod-" + name, v); }
    dbsChosen();
    if (form.dbs && form.dbs.frequency !== undefined) { set("dbs-frequency-num", form.dbs.frequency); set("dbs-frequency", form.dbs.frequency); }
    if (form.dbs && form.dbs.amplitude !== undefined) { set("dbs-amplitude-num", form.dbs.amplitude); set("dbs-amplitude", form.dbs.amplitude); }
    const p = state.options.stim.tms.find((x) => x.name === $("tms-preset").value);
    $("tms-description").textContent = p ? p.description : "";
    formChanged();
  });
}

function markChanged() {
  const d = state.defaults;
  if (!d) return;
  const differs = (a, b) => !(a.trim() !== "" && isFinite(Number(a)) && Math.abs(Number(a) - b) < 1e-9);
  for (const [name, v] of Object.entries(d.pathways)) {
    const row = $("pw-" + name + "-row");
    if (row) row.classList.toggle("changed", differs($("pw-" + name + "-num").value, v));
  }
  for (const [name, v] of Object.entries(d.modulators)) {
    const row = $("mod-" + name + "-row");
    if (row) row.classList.toggle("changed", differs($("mod-" + name + "-num").value, v));
  }
}

function formChanged() {
  describe();
  markChanged();
  clearTimeout(state.commandTimer);
  state.commandTimer = setTimeout(async () => {
    const r = await api("/api/command", readForm());
    if (r.ok) { $("command").textContent = r.data.command; }
    else { showError(r.data.error); }
  }, 150);
}

function showError(error) {
  const box = $("error");
  if (!error) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = "";
  const kind = {config: "Invalid value", override: "Hydra override error", form: "Invalid input", busy: "Busy",
    request: "Refused", timeout: "Time limit"}[error.kind] || "Error";
  box.append(el("strong", {text: kind + ": "}));
  if (error.path) box.append(el("span", {class: "path", text: error.path}), ": ");
  box.append(error.message || "");
  box.dataset.path = error.path || "";
}

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text; s.className = "status " + kind; s.title = text;
}

// ------------------------------------------------------------------ runs
async function run() {
  showError(null);
  const button = $("run-button");
  button.disabled = true;
  setStatus("checking the settings...", "running");
  const r = await api("/api/run", readForm());
  button.disabled = false;
  if (r.data && r.data.command) $("command").textContent = r.data.command;
  if (!r.ok) {
    showError(r.data.error);
    setStatus("not started: " + (r.data.error && r.data.error.path ? r.data.error.path : "see the error"), "failed");
    return;
  }
  state.watching = r.data.job.id;
  $("command").textContent = r.data.job.command;
  $("cancel-button").hidden = false;
  poll();
}

async function cancelRun() {
  if (!state.watching) return;
  const r = await api(`/api/jobs/${encodeURIComponent(state.watching)}/cancel`, {});
  if (!r.ok && r.data && r.data.error) showError(r.data.error);
  poll();
}

async function poll() {
  clearTimeout(state.pollTimer);
  const r = await api("/api/status");
  if (!r.ok) { state.pollTimer = setTimeout(poll, 2000); return; }
  const jobs = r.data.jobs;
  const job = jobs.find((j) => j.id === state.watching);
  if (job) {
    const el_s = job.elapsed_s ? ` (${job.elapsed_s.toFixed(0)} s)` : "";
    const pct = job.progress !== null && job.progress !== undefined ? ` ${Math.round(job.progress * 100)}%` : "";
    const queued = r.data.queued ? ` · ${r.data.queued} waiting` : "";
    if (job.state !== "queued" && job.state !== "running") $("cancel-button").hidden = true;
    if (job.state === "done") {
      setStatus(`run ${job.id}: ${job.message}`, "done");
      state.watching = null;
      await openRun(job.id, true);
      refreshRuns();
      return;
    }
    if (job.state === "failed") {
      setStatus(`run ${job.id} failed`, "failed");
      showError(job.error || {kind: "error", message: job.message});
      state.watching = null;
      refreshRuns();
      return;
    }
    if (job.state === "cancelled") {
      setStatus(`run ${job.id}: ${job.message}`, "idle");
      state.watching = null;
      refreshRuns();
      return;
    }
    setStatus(`${job.state}: ${job.message}${pct}${el_s}${queued}`, "running");
  }
  state.pollTimer = setTimeout(poll, state.watching ? 600 : 3000);
}

async function openRun(id, asNew) {
  const r = await api(`/api/runs/${encodeURIComponent(id)}/view`);
  if (!r.ok) { showError(r.data.error); return; }
  if (state.current && state.current.id !== id) state.previous = state.current;
  state.current = {id, view: r.data};
  $("current-run").textContent = "run " + id;
  const dl = $("downloads");
  dl.textContent = "";
  dl.append(el("a", {href: `/api/runs/${encodeURIComponent(id)}/metrics.json`, download: "", text: "metrics.json"}),
    el("a", {href: `/api/runs/${encodeURIComponent(id)}/export.zip`, download: "", text: "run folder (.zip)"}));
  const info = r.data.info || {};
  $("run-command").textContent = info.command ? "this run: " + info.command : "";
  redraw();
  if (asNew) playHead();
  markRuns();
}

async function refreshRuns() {
  const r = await api("/api/runs");
  if (!r.ok) return [];
  const table = $("runs-list");
  table.textContent = "";
  table.append(el("tr", {}, ...["run", "condition", "task", "GPi Hz", "severity", ""].map((h) => el("th", {text: h}))));
  for (const run of r.data.runs) {
    const form = run.form || {};
    const tr = el("tr", {"data-run": run.id});
    tr.append(el("td", {class: "mono", text: run.id, title: run.command || ""}),
      el("td", {text: run.condition || form.condition || "?"}), el("td", {text: run.task || form.task || "rest"}),
      el("td", {text: fmt(run.gpi_rate_hz)}), el("td", {text: fmt(run.severity, 2)}));
    const cell = el("td");
    if (run.complete) {
      const open = el("button", {type: "button", class: "small", text: "open"});
      open.addEventListener("click", () => openRun(run.id, false));
      const prev = el("button", {type: "button", class: "small", text: "as previous", title: "compare the shown run with this one"});
      prev.addEventListener("click", () => setPrevious(run.id));
      cell.append(open, " ", prev);
      if (run.form) {
        const load = el("button", {type: "button", class: "small", text: "settings", title: "load this run's settings into the form"});
        load.addEventListener("click", () => writeForm(run.form));
        cell.append(" ", load);
      }
    } else {
      cell.append(el("span", {class: run.state === "failed" ? "failed" : "", text: run.state,
        title: run.error ? (run.error.path ? run.error.path + ": " : "") + run.error.message : ""}));
    }
    tr.append(cell);
    table.append(tr);
  }
  markRuns();
  return r.data.runs;
}

function markRuns() {
  for (const tr of $("runs-list").querySelectorAll("tr[data-run]")) {
    tr.classList.toggle("current", !!state.current && tr.dataset.run === state.current.id);
  }
}

async function setPrevious(id) {
  const r = await api(`/api/runs/${encodeURIComponent(id)}/view`);
  if (!r.ok) { showError(r.data.error); return; }
  state.previous = {id, view: r.data};
  $("compare").checked = true;
  redraw();
}

// ------------------------------------------------------------------ plotting
function canvas(id) {
  const cv = $(id);
  const dpr = window.devicePixelRatio || 1;
  const w = cv.clientWidth, h = cv.clientHeight;
  cv.width = Math.max(1, Math.round(w * dpr)); cv.height = Math.max(1, Math.round(h * dpr));
  const ctx = cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  return {cv, ctx, w, h};
}

function ticks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return out;
}

// a plot box: data ranges -> pixels, with axes drawn
function frame(ctx, box, xr, yr, opts = {}) {
  const X = (x) => box.x + (x - xr[0]) / (xr[1] - xr[0]) * box.w;
  const Y = (y) => box.y + box.h - (y - yr[0]) / (yr[1] - yr[0]) * box.h;
  ctx.strokeStyle = "#c5ccd6"; ctx.fillStyle = "#4a5566"; ctx.lineWidth = 1;
  ctx.strokeRect(box.x, box.y, box.w, box.h);
  if (opts.xticks !== false) {
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const t of ticks(xr[0], xr[1], opts.nx || 6)) {
      ctx.beginPath(); ctx.moveTo(X(t), box.y + box.h); ctx.lineTo(X(t), box.y + box.h + 3); ctx.stroke();
      ctx.fillText(fmt(t), X(t), box.y + box.h + 4);
    }
  }
  if (opts.yticks !== false) {
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of ticks(yr[0], yr[1], opts.ny || 4)) {
      ctx.beginPath(); ctx.moveTo(box.x - 3, Y(t)); ctx.lineTo(box.x, Y(t)); ctx.stroke();
      ctx.fillText(opts.ylabelFn ? opts.ylabelFn(t) : fmt(t), box.x - 5, Y(t));
    }
  }
  if (opts.xlabel) { ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.fillText(opts.xlabel, box.x + box.w / 2, box.y + box.h + 30); }
  if (opts.ylabel) {
    ctx.save(); ctx.translate(box.x - (opts.ylabelOffset || 36), box.y + box.h / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.textBaseline = "top"; ctx.fillText(opts.ylabel, 0, 0); ctx.restore();
  }
  return {X, Y};
}

function line(ctx, xs, ys, X, Y, colour, width = 1, dash = null) {
  ctx.save(); ctx.strokeStyle = colour; ctx.lineWidth = width; if (dash) ctx.setLineDash(dash);
  ctx.beginPath();
  let pen = false;
  for (let k = 0; k < ys.length; k++) {
    const y = ys[k];
    if (y === null || !isFinite(y)) { pen = false; continue; }
    const px = X(xs(k)), py = Y(y);
    if (pen) ctx.lineTo(px, py); else { ctx.moveTo(px, py); pen = true; }
  }
  ctx.stroke(); ctx.restore();
}

function regionColours(view) {
  const colours = {};
  Object.keys(view.regions || {}).forEach((r, k) => { colours[r] = REGION_COLOURS[k % REGION_COLOURS.length]; });
  return colours;
}

// the task command and the stimulation on a time axis
function shadeStimuli(ctx, view, X, box) {
  for (const s of view.stimuli || []) {
    if (s.kind === "cortical_command" && s.start !== null && s.stop !== null) {
      ctx.fillStyle = "rgba(47,133,90,0.10)"; ctx.fillRect(X(s.start), box.y, X(s.stop) - X(s.start), box.h);
      ctx.fillStyle = "#2f855a"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
      ctx.fillText(s.name === "task" ? "command" : s.name, X(s.start) + 2, box.y + box.h - 2);
    } else if (s.kind === "dbs" && s.start !== null) {
      ctx.fillStyle = "rgba(214,39,40,0.07)"; ctx.fillRect(X(s.start), box.y, box.x + box.w - X(s.start), box.h);
      ctx.fillStyle = "#d62728"; ctx.textAlign = "right"; ctx.textBaseline = "bottom";
      ctx.fillText(`DBS ${s.target || ""} ${s.frequency ? fmt(s.frequency) + " Hz" : ""}`, box.x + box.w - 3, box.y + box.h - 2);
    } else if (s.kind === "tms") {
      ctx.strokeStyle = "#9467bd";
      for (const p of s.pulses || []) { ctx.beginPath(); ctx.moveTo(X(p), box.y); ctx.lineTo(X(p), box.y + 6); ctx.stroke(); }
    }
  }
}

function drawRaster() {
  const {cv, ctx, w, h} = canvas("raster");
  const v = state.current.view;
  const colours = regionColours(v);
  const dur = v.run.duration_s || 1;
  const gap = 3;
  const rows = v.raster.reduce((a, p) => a + p.rows + gap, 0);
  const box = {x: 110, y: 6, w: w - 120, h: h - 36};
  const {X} = frame(ctx, box, [0, dur], [0, 1], {yticks: false, xlabel: "time (s)"});
  shadeStimuli(ctx, v, X, box);
  const rh = box.h / Math.max(rows, 1);
  let row = 0;
  for (const p of v.raster) {
    ctx.fillStyle = colours[p.region] || "#333";
    for (let k = 0; k < p.t.length; k++) ctx.fillRect(X(p.t[k]), box.y + (row + p.row[k]) * rh, 1, Math.max(rh, 1));
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.fillText(`${p.pop} (${p.region})`, box.x - 6, box.y + (row + p.rows / 2) * rh);
    row += p.rows + gap;
  }
  cv.dataset.run = state.current.id;
}

function drawRates() {
  const {cv, ctx, w, h} = canvas("rates");
  const v = state.current.view, pv = comparing();
  const colours = regionColours(v);
  const pops = v.raster.map((p) => ({pop: p.pop, region: p.region}));
  const cols = 5, nrow = Math.ceil(pops.length / cols);
  const cw = w / cols, ch = h / nrow;
  pops.forEach(({pop, region}, k) => {
    const col = k % cols, r = Math.floor(k / cols);
    const box = {x: col * cw + 34, y: r * ch + 14, w: cw - 42, h: ch - 30};
    const s = v.rates.series[pop] || [];
    const ps = pv && pv.rates.series[pop] ? pv.rates.series[pop] : null;
    const target = v.target_rates[pop];
    let ymax = Math.max(1, ...s.filter((x) => x !== null), ...(ps || []).filter((x) => x !== null), target ? target[1] : 0);
    ymax = Math.min(ymax, 1000);
    const dur = s.length * v.rates.dt;
    const {X, Y} = frame(ctx, box, [0, dur || 1], [0, ymax * 1.05], {nx: 3, ny: 2});
    if (target) { ctx.fillStyle = "rgba(47,133,90,0.12)"; ctx.fillRect(box.x, Y(Math.min(target[1], ymax * 1.05)), box.w, Y(target[0]) - Y(Math.min(target[1], ymax * 1.05))); }
    if (ps) line(ctx, (i) => (i + 0.5) * pv.rates.dt, ps, X, Y, PREV, 1);
    line(ctx, (i) => (i + 0.5) * v.rates.dt, s, X, Y, colours[region] || "#333", 1.2);
    ctx.fillStyle = "#1d2430"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    const mean = v.mean_rates[pop], pmean = pv ? pv.mean_rates[pop] : null;
    ctx.fillText(`${pop}: ${fmt(mean)} Hz` + (pv ? `  (prev ${fmt(pmean)})` : ""), box.x, box.y - 1);
  });
  cv.dataset.run = state.current.id;
}

function comparing() {
  return $("compare").checked && state.previous && state.previous.id !== state.current.id ? state.previous.view : null;
}

function syncValue(view, pop) {
  return pop === "mean" ? view.synchrony.mean : view.synchrony.populations[pop];
}

function drawGauge() {
  const {cv, ctx, w, h} = canvas("gauge");
  const v = state.current.view, pv = comparing();
  const sel = $("sync-pop");
  if (!sel.options.length) {
    sel.append(el("option", {value: "gpi", text: "GPi"}), el("option", {value: "mean", text: "mean of populations"}));
    for (const p of Object.keys(v.synchrony.populations)) if (p !== "gpi") sel.append(el("option", {value: p, text: p}));
  }
  const pop = sel.value || "gpi";
  const value = syncValue(v, pop), prev = pv ? syncValue(pv, pop) : null;
  const cx = w / 2, cy = h - 40, R = Math.min(w / 2 - 20, h - 60);
  const arc = (a0, a1, colour) => { ctx.beginPath(); ctx.arc(cx, cy, R, Math.PI + a0 * Math.PI, Math.PI + a1 * Math.PI); ctx.strokeStyle = colour; ctx.lineWidth = 16; ctx.stroke(); };
  arc(0, 0.25, "#c6e9d3"); arc(0.25, 0.5, "#f7e7b5"); arc(0.5, 1, "#f6c2bd");
  ctx.lineWidth = 1; ctx.fillStyle = "#4a5566"; ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const a = Math.PI + t * Math.PI;
    ctx.fillText(String(t), cx + (R + 14) * Math.cos(a), cy + (R + 14) * Math.sin(a) - 6);
  }
  const needle = (x, colour, width) => {
    if (x === null || x === undefined || !isFinite(x)) return;
    const a = Math.PI + Math.max(0, Math.min(1, x)) * Math.PI;
    ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(cx + (R - 4) * Math.cos(a), cy + (R - 4) * Math.sin(a));
    ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.stroke();
  };
  needle(prev, PREV, 3);
  needle(value, "#1d2430", 3);
  ctx.beginPath(); ctx.arc(cx, cy, 5, 0, 2 * Math.PI); ctx.fillStyle = "#1d2430"; ctx.fill();
  ctx.font = "bold 16px system-ui, sans-serif"; ctx.textBaseline = "top";
  ctx.fillText(`χ = ${fmt(value)}`, cx, cy + 8);
  ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#5b6676";
  ctx.fillText("Golomb's synchrony: 0 asynchronous, 1 identical trains" + (pv ? ` · prev ${fmt(prev)}` : ""), cx, cy + 26);
  cv.dataset.run = state.current.id;
  cv.dataset.value = value === null || value === undefined ? "" : String(value);
  // coherence between regions' LFPs
  const table = $("coherence");
  table.textContent = "";
  const pairs = Object.keys(v.coherence || {});
  if (!pairs.length) return;
  const bands = Object.keys(v.coherence[pairs[0]]);
  table.append(el("tr", {}, el("th", {text: "LFP coherence"}), ...bands.map((b) => el("th", {text: b}))));
  for (const pair of pairs) {
    const tr = el("tr", {}, el("td", {text: pair.replace("__", " – ")}));
    for (const b of bands) {
      const x = v.coherence[pair][b];
      const px = pv && pv.coherence[pair] ? pv.coherence[pair][b] : null;
      const td = el("td", {text: fmt(x, 2) + (pv ? ` (${fmt(px, 2)})` : "")});
      if (x !== null && isFinite(x)) td.style.background = `rgba(214,39,40,${0.08 + 0.5 * Math.max(0, Math.min(1, x))})`;
      tr.append(td);
    }
    table.append(tr);
  }
}

function drawSpectra() {
  const {cv, ctx, w, h} = canvas("spectra");
  const v = state.current.view, pv = comparing();
  const colours = regionColours(v);
  const box = {x: 48, y: 8, w: w - 60, h: h - 44};
  const checks = $("spectra-regions");
  const regions = Object.keys(v.spectra);
  if (!checks.childElementCount || checks.dataset.regions !== regions.join(",")) {
    checks.textContent = ""; checks.dataset.regions = regions.join(",");
    for (const r of regions) {
      const cb = el("input", {type: "checkbox", value: r});
      cb.checked = ["gpi", "stn", "ctx", "dcn"].includes(r);
      cb.addEventListener("change", drawSpectra);
      const lab = el("label", {}, cb, " " + r); lab.style.color = colours[r];
      checks.append(lab);
    }
  }
  const shown = [...checks.querySelectorAll("input:checked")].map((c) => c.value);
  let lo = Infinity, hi = -Infinity;
  for (const src of [v, pv]) {
    if (!src) continue;
    for (const r of shown) for (const y of (src.spectra[r] || {}).log10_psd || []) if (y !== null) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
  }
  if (!isFinite(lo)) { lo = -4; hi = 0; }
  const {X, Y} = frame(ctx, box, [0, 100], [Math.floor(lo), Math.ceil(hi)], {xlabel: "frequency (Hz)", ylabel: "relative power",
    ylabelFn: (t) => "1e" + t, ylabelOffset: 46});
  ctx.fillStyle = "rgba(255,127,14,0.10)"; ctx.fillRect(X(4), box.y, X(10) - X(4), box.h);
  ctx.fillStyle = "rgba(31,119,180,0.07)"; ctx.fillRect(X(13), box.y, X(30) - X(13), box.h);
  ctx.fillStyle = "#8a5a1a"; ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillText("4–10", X(4) + 1, box.y + 2);
  ctx.fillStyle = "#2d5f8a"; ctx.fillText("beta", X(13) + 1, box.y + 2);
  for (const r of shown) {
    if (pv && pv.spectra[r]) line(ctx, (k) => pv.spectra[r].f[k], pv.spectra[r].log10_psd, X, Y, colours[r], 1, [4, 3]);
    if (v.spectra[r]) line(ctx, (k) => v.spectra[r].f[k], v.spectra[r].log10_psd, X, Y, colours[r], 1.5);
  }
  cv.dataset.run = state.current.id;
}

function drawEmg() {
  const {cv, ctx, w, h} = canvas("emg");
  const v = state.current.view, pv = comparing();
  cv.dataset.run = state.current.id;
  if (!v.muscle) { ctx.fillStyle = "#5b6676"; ctx.fillText("no muscle readout in this run", 20, 20); return; }
  const m = v.muscle, names = m.muscles;
  const colours = ["#1f77b4", "#d62728"];
  const dur = v.run.duration_s || 1;
  names.forEach((name, k) => {
    const box = {x: 52, y: 8 + k * (h - 30) / names.length, w: w - 62, h: (h - 30) / names.length - 16};
    const s = m.series[name];
    // robust scale: a single large motor-unit potential should not flatten the envelope
    const mags = s.emg_max_uv.concat(s.emg_min_uv).filter((x) => x !== null).map(Math.abs).sort((a, b) => a - b);
    const robust = mags.length ? mags[Math.floor(0.995 * (mags.length - 1))] : 1;
    const amp = Math.max(1, robust, ...s.envelope_uv.filter((x) => x !== null).map((x) => 1.2 * x));
    const {X, Y} = frame(ctx, box, [0, dur], [-amp, amp], {ny: 2, xticks: k === names.length - 1, ylabel: "µV", ylabelOffset: 44});
    shadeStimuli(ctx, v, X, box);
    ctx.save(); ctx.beginPath(); ctx.rect(box.x, box.y, box.w, box.h); ctx.clip();
    ctx.fillStyle = colours[k] + "66";
    for (let i = 0; i < s.emg_min_uv.length; i++) {
      const x = X(m.t0 + (i + 0.5) * m.emg_dt);
      const y0 = Y(Math.min(s.emg_max_uv[i], amp)), y1 = Y(Math.max(s.emg_min_uv[i], -amp));
      ctx.fillRect(x, y0, Math.max(1, box.w / s.emg_min_uv.length), Math.max(1, y1 - y0));
    }
    if (pv && pv.muscle && pv.muscle.series[name]) {
      line(ctx, (i) => pv.muscle.t0 + i * pv.muscle.dt, pv.muscle.series[name].envelope_uv, X, Y, PREV, 1.5, [4, 3]);
    }
    line(ctx, (i) => m.t0 + i * m.dt, s.envelope_uv, X, Y, colours[k], 1.8);
    ctx.restore();
    ctx.fillStyle = "#1d2430"; ctx.textAlign = "left"; ctx.textBaseline = "top";
    const mm = (v.muscle_metrics || {})[name] || {};
    ctx.fillText(`${name}: force ${fmt(mm.mean_force)} N, EMG rms ${fmt((mm.emg_rms || 0) * 1e6)} µV`, box.x + 4, box.y + 2);
  });
}

// ------------------------------------------------------------------ head animation
function headAt(view, t) {
  const m = view && view.muscle;
  if (!m) return null;
  const k = Math.round((t - m.t0) / m.dt);
  const a = m.head_angle_deg;
  if (!a.length) return null;
  return a[Math.max(0, Math.min(a.length - 1, k))];
}

function drawHeadFrame(t) {
  const {cv, ctx, w, h} = canvas("head");
  const v = state.current.view, pv = comparing();
  const cx = w / 2, cy = h / 2 + 8, R = Math.min(w, h) / 2 - 30;
  ctx.strokeStyle = "#d5dae1"; ctx.setLineDash([3, 3]);
  ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(cx, cy - R - 18); ctx.stroke(); ctx.setLineDash([]);
  ctx.fillStyle = "#5b6676"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText("straight ahead", cx, cy - R - 18);
  ctx.textAlign = "left"; ctx.fillText("← left", 8, cy - R - 2); ctx.textAlign = "right"; ctx.fillText("right →", w - 8, cy - R - 2);
  const head = (deg, colour, fill) => {
    if (deg === null || deg === undefined) return;
    ctx.save(); ctx.translate(cx, cy); ctx.rotate(-deg * Math.PI / 180);   // positive = to the left
    ctx.beginPath(); ctx.ellipse(0, 0, R * 0.8, R, 0, 0, 2 * Math.PI);
    if (fill) { ctx.fillStyle = fill; ctx.fill(); }
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke();
    ctx.beginPath(); ctx.moveTo(-R * 0.18, -R * 0.95); ctx.lineTo(0, -R * 1.22); ctx.lineTo(R * 0.18, -R * 0.95);   // nose
    ctx.stroke();
    for (const s of [-1, 1]) { ctx.beginPath(); ctx.ellipse(s * R * 0.82, 0, R * 0.1, R * 0.22, 0, 0, 2 * Math.PI); ctx.stroke(); }
    ctx.restore();
  };
  if (pv) head(headAt(pv, t), PREV, null);
  const deg = headAt(v, t);
  head(deg, "#1f3a5f", "#f3d9c4");
  ctx.fillStyle = "#1d2430"; ctx.textAlign = "center"; ctx.textBaseline = "top";
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.fillText(deg === null ? "no head angle" : `t = ${t.toFixed(2)} s   yaw ${deg.toFixed(1)}°`, cx, h - 18);
  cv.dataset.run = state.current.id;
  drawAngle(t);
}

function drawAngle(t) {
  const {cv, ctx, w, h} = canvas("angle");
  const v = state.current.view, pv = comparing();
  cv.dataset.run = state.current.id;
  if (!v.muscle) return;
  const dur = v.run.duration_s || 1;
  const all = v.muscle.head_angle_deg.concat(pv && pv.muscle ? pv.muscle.head_angle_deg : []).filter((x) => x !== null);
  const amp = Math.max(5, ...all.map(Math.abs));
  const box = {x: 48, y: 6, w: w - 58, h: h - 28};
  const {X, Y} = frame(ctx, box, [0, dur], [-amp, amp], {ny: 2, ylabel: "yaw (°)", ylabelOffset: 40});
  shadeStimuli(ctx, v, X, box);
  ctx.strokeStyle = "#d5dae1"; ctx.beginPath(); ctx.moveTo(box.x, Y(0)); ctx.lineTo(box.x + box.w, Y(0)); ctx.stroke();
  if (pv && pv.muscle) line(ctx, (i) => pv.muscle.t0 + i * pv.muscle.dt, pv.muscle.head_angle_deg, X, Y, PREV, 1.2, [4, 3]);
  line(ctx, (i) => v.muscle.t0 + i * v.muscle.dt, v.muscle.head_angle_deg, X, Y, "#1f3a5f", 1.5);
  if (t !== undefined) { ctx.strokeStyle = "#d62728"; ctx.beginPath(); ctx.moveTo(X(t), box.y); ctx.lineTo(X(t), box.y + box.h); ctx.stroke(); }
}

function playHead() {
  stopHead();
  const v = state.current && state.current.view;
  if (!v || !v.muscle) { drawHeadFrame(0); return; }
  const t0 = v.muscle.t0, dur = v.run.duration_s;
  const speed = Number($("speed").value) || 1;
  const start = performance.now();
  state.playing = true; $("play").textContent = "pause";
  const step = (now) => {
    if (!state.playing) return;
    const t = t0 + (now - start) / 1000 * speed;
    if (t >= dur) { drawHeadFrame(dur); stopHead(); return; }
    drawHeadFrame(t);
    state.anim = requestAnimationFrame(step);
  };
  state.anim = requestAnimationFrame(step);
}

function stopHead() {
  state.playing = false; $("play").textContent = "play";
  if (state.anim) cancelAnimationFrame(state.anim);
  state.anim = null;
}

function drawSummary() {
  const v = state.current.view, pv = comparing();
  const table = $("summary");
  table.textContent = "";
  table.append(el("tr", {}, ...["measure", "this run", pv ? "previous" : "", pv ? "change" : ""].map((x) => el("th", {text: x}))));
  const prevByKey = {};
  for (const row of (pv ? pv.summary : [])) prevByKey[row.key] = row.value;
  v.summary.forEach((row) => {
    const prev = pv && row.key in prevByKey ? prevByKey[row.key] : null;
    const d = pv && row.value !== null && prev !== null ? row.value - prev : null;
    const tr = el("tr", {title: row.key}, el("td", {text: row.label + (row.unit ? ` (${row.unit})` : "")}),
      el("td", {text: fmt(row.value)}), el("td", {text: pv ? fmt(prev) : ""}),
      el("td", {class: "delta" + (d > 0 ? " up" : d < 0 ? " down" : ""), text: d === null ? "" : (d > 0 ? "+" : "") + fmt(d)}));
    table.append(tr);
  });
  const r = v.run;
  table.append(el("tr", {}, el("td", {text: "run"}), el("td", {colspan: "3",
    text: `${r.condition || "?"}, ${r.task || "rest"}, ${fmt(r.duration_s)} s, seed ${r.seed}, ${r.device}, wall ${fmt(r.wall_s)} s`})));
}

function redraw() {
  if (!state.current) return;
  drawRaster(); drawRates(); drawGauge(); drawSpectra(); drawEmg(); drawSummary();
  if (!state.playing) drawHeadFrame(state.current.view.run.duration_s || 0);
  document.body.dataset.run = state.current.id;
}

// ------------------------------------------------------------------ start
async function start() {
  const r = await api("/api/options");
  if (!r.ok) { setStatus("cannot load the options", "failed"); return; }
  state.options = r.data;
  buildForm(r.data);
  await loadDefaults($("condition").value);
  setStatus("ready", "idle");
  const runs = await refreshRuns();
  const active = await api("/api/status");
  if (active.ok) {
    const job = active.data.jobs.find((j) => j.state === "running" || j.state === "queued");
    if (job) { state.watching = job.id; poll(); }
  }
  const done = runs.find((x) => x.complete);
  if (done) {
    if (done.form) await writeForm(done.form);   // carry on where the class left off
    await openRun(done.id, false);
  }
  document.body.dataset.ready = "1";
}

start();
