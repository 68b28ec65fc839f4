// The cohort view (circuitsim/app/cohort_view.py): a patient's connectivity matrix next to the
// mean of the cohort's healthy patients. Read only: GET requests, text set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const response = await fetch(path, {headers: {Accept: "application/json"}});
  const data = await response.json();
  if (!response.ok) {
    throw new Error((data.error && data.error.message) || response.statusText);
  }
  return data;
}

function fill(select, values, labels) {
  const current = select.value;
  select.replaceChildren();
  values.forEach((value, k) => {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = labels ? labels[k] : String(value);
    select.appendChild(option);
  });
  if (values.map(String).includes(current)) select.value = current;
}

function colour(v, max) {
  if (v === null) return "#ddd";
  const x = Math.max(0, Math.min(1, v / max));
  const r = Math.round(255 - 200 * x), g = Math.round(255 - 150 * x), b = 255;
  return `rgb(${r},${g},${b})`;
}

function draw(canvas, matrix, regions, max) {
  const ctx = canvas.getContext("2d");
  const n = regions.length, pad = 48, cell = (canvas.width - pad) / Math.max(n, 1);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px sans-serif";
  ctx.fillStyle = "#000";
  regions.forEach((r, i) => {
    ctx.fillText(r, 2, pad + cell * (i + 0.6));
    ctx.save();
    ctx.translate(pad + cell * (i + 0.4), pad - 4);
    ctx.rotate(-Math.PI / 4);
    ctx.fillText(r, 0, 0);
    ctx.restore();
  });
  (matrix || []).forEach((line, i) => line.forEach((v, j) => {
    ctx.fillStyle = colour(v, max);
    ctx.fillRect(pad + cell * j, pad + cell * i, cell - 1, cell - 1);
  }));
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind || "idle"}`;
}

async function loadCohorts() {
  const data = await getJSON("/api/cohorts");
  if (!data.cohorts.length) {
    status("no cohort yet: run experiments/virtual_patients/run.py", "idle");
    return;
  }
  fill($("cohort"), data.cohorts.map((c) => c.name),
       data.cohorts.map((c) => `${c.name} (${c.patients} patients)`));
  await loadCohort();
}

async function loadCohort() {
  const data = await getJSON(`/api/cohorts/${encodeURIComponent($("cohort").value)}`);
  const sick = data.patients.filter((p) => p.class !== "healthy");
  const shown = sick.length ? sick : data.patients;
  fill($("patient"), shown.map((p) => p.patient),
       shown.map((p) => `${p.patient}: ${p.class}, dose ${p.dose === null ? "?" : p.dose.toFixed(2)}`));
  fill($("measurement"), data.measurements);
  if (data.measurements.includes("baseline") && !$("measurement").value) $("measurement").value = "baseline";
  fill($("measure"), data.measures);
  fill($("band"), data.bands);
  if (data.bands.includes("beta") && !$("band").dataset.touched) $("band").value = "beta";
  await loadMatrix();
}

async function loadMatrix() {
  const q = new URLSearchParams({patient: $("patient").value, measure: $("measure").value,
                                 band: $("band").value, measurement: $("measurement").value});
  try {
    const data = await getJSON(`/api/cohorts/${encodeURIComponent($("cohort").value)}?${q}`);
    const values = data.matrix.flat().concat(data.healthy.matrix.flat()).filter((v) => v !== null);
    const max = values.length ? Math.max(...values) : 1;
    draw($("patient-matrix"), data.matrix, data.regions, max);
    draw($("healthy-matrix"), data.healthy.matrix, data.regions, max);
    const p = data.patient;
    $("patient-caption").textContent =
      `patient ${p.patient} (${p.class}, ${data.measurement}), severity ${p.severity === null ? "?" : p.severity.toFixed(3)}`;
    $("healthy-caption").textContent = `mean of ${data.healthy.n} healthy patients (baseline)`;
    $("legend").textContent = `${data.measure}, ${data.band} band; darker = larger (0 to ${max.toFixed(3)}); ` +
      (data.measure === "granger" ? "row i, column j: region i -> region j." : "symmetric.");
    status("ready", "idle");
  } catch (err) {
    status(err.message, "error");
  }
}

for (const id of ["patient", "measurement", "measure", "band"]) {
  $(id).addEventListener("change", () => { $(id).dataset.touched = "1"; loadMatrix(); });
}
$("cohort").addEventListener("change", () => loadCohort().catch((err) => status(err.message, "error")));
loadCohorts().catch((err) => status(err.message, "error"));
