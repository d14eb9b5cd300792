// The new-load wizard: upload → preview → target → mapping → rehearse and run, all through /api/v1.
import { api, el, postForm, problemText, showError } from "./api.js";
import { formatBytes, formatList, formatPercent, N_, t } from "./i18n.js";
import { JobPanel } from "./jobview.js";

const $ = (selector) => document.querySelector(selector);
const wizard = $("#wizard");
const MAX_PREVIEW_COLUMNS = 200;
const SCROLL = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
const MAX_CELL_CHARS = 200;
const NUMBER_TYPES = new Set(["double", "currency", "percent", "int", "long"]);
const DATE_TYPES = new Set(["date", "datetime"]);
// Both styles are accepted: strftime (%d/%m/%Y) and the Java/Data Loader patterns (dd/MM/yyyy) the server translates.
const DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S",
  "dd/MM/yyyy", "MM/dd/yyyy", "yyyy-MM-dd'T'HH:mm:ss.SSSZ", "excel"];
const DATE_FORMAT_HINT = N_("A strftime format such as %d/%m/%Y, or a Java/Data Loader pattern such as dd/MM/yyyy or yyyy-MM-dd'T'HH:mm:ss.SSSZ");
const NUMBER_STYLES = [
  { label: "1234.56 / 1,234.56", decimal: ".", thousands: "," },
  { label: "1234,56 / 1.234,56", decimal: ",", thousands: "." },
  { label: "1234,56 / 1 234,56", decimal: ",", thousands: " " },
];
const FORMAT_NAMES = { csv: N_("CSV / text"), excel: "Excel", json: "JSON", ndjson: "NDJSON", parquet: "Parquet", pickle: "pickle" };
// The column kinds of a preview (dms/pipeline/prepare/infer.py KINDS).
const KIND_NAMES = { empty: N_("empty"), boolean: N_("boolean"), integer: N_("integer"), number: N_("number"), date: N_("date"),
  datetime: N_("date and time"), text: N_("text") };
const CLIENT_CODES = new Set(["REQUIRED_FIELD_NOT_MAPPED", "MISSING_EXTERNAL_ID", "MISSING_ID", "UNKNOWN_COLUMN"]);

const state = {
  upload: null, // the upload record
  preview: null, // GET /uploads/<id>/preview
  objects: [], // GET /objects
  describe: null, // GET /objects/<name>
  mapping: null, // the spec being edited
  serverProblems: [], // from /mappings/suggest, for the spec as suggested
};

// ---- steps ---------------------------------------------------------------------------------------------

const STEPS = ["upload", "preview", "target", "mapping", "run"];

/** Reveal the steps up to `name` and hide (reset) the ones after it. */
function showStep(name, { focus = true } = {}) {
  const index = STEPS.indexOf(name);
  STEPS.forEach((step, i) => {
    $(`#step-${step}`).hidden = i > index;
    const marker = document.querySelector(`[data-step-marker="${step}"]`);
    marker.classList.toggle("done", i < index);
    if (i === index) marker.setAttribute("aria-current", "step");
    else marker.removeAttribute("aria-current");
  });
  if (focus && index > 0) {
    const heading = $(`#step-${name} h2`);
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    heading.scrollIntoView({ behavior: SCROLL, block: "start" });
  }
}

async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// ---- 1. upload -----------------------------------------------------------------------------------------

const fileInput = $("#file-input");
const dropzone = $("#dropzone");

fileInput.addEventListener("change", () => uploadFile(fileInput.files[0]));
dropzone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropzone.classList.add("dragging");
});
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dragging"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("dragging");
  const files = event.dataTransfer ? event.dataTransfer.files : null;
  if (files && files.length > 1) {
    showError($("#upload-error"), new Error(t("Drop one file at a time.")));
    return;
  }
  if (files && files.length) uploadFile(files[0]);
});
// A file dropped beside the zone must not make the browser navigate away from the wizard.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

function setUploadProgress(loaded, total) {
  const percent = total ? Math.floor((100 * loaded) / total) : 0;
  $("#upload-progress").value = percent;
  $("#upload-percent").textContent = t("{percent} of {size}", { percent: formatPercent(percent), size: formatBytes(total) });
}

async function uploadFile(file) {
  showError($("#upload-error"), null);
  showStep("upload", { focus: false });
  state.upload = null;
  if (!file) return;
  if (file.size === 0) {
    showError($("#upload-error"), new Error(t("{name} is empty (0 bytes): there is nothing to load.", { name: file.name })));
    return;
  }
  $("#upload-progress-row").hidden = false;
  setUploadProgress(0, file.size);
  // Larger files go by presigned upload: API Gateway caps an inline request body at 10 MB.
  const presigned = file.size > (Number(wizard.dataset.inlineLimit) || 10 * 1024 * 1024);
  const uploading = presigned ? N_("Uploading {name} ({size}) straight to storage…") : N_("Uploading {name} ({size})…");
  $("#upload-status").textContent = t(uploading, { name: file.name, size: formatBytes(file.size) });
  fileInput.disabled = true;
  try {
    let record;
    if (presigned) {
      const grant = await api("POST", "/uploads/presign", { filename: file.name, size: file.size });
      const form = new FormData();
      for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
      form.append(grant.file_field || "file", file, file.name); // S3 wants the file as the last field
      await postForm(grant.url, form, setUploadProgress);
      record = await api("POST", grant.complete_url, { token: grant.token }); // the token is single-use
    } else {
      const form = new FormData();
      form.append("file", file, file.name);
      record = await postForm("/api/v1/uploads", form, setUploadProgress);
    }
    setUploadProgress(file.size, file.size);
    state.upload = record;
    $("#upload-status").textContent = t("Uploaded {name} ({size}).", { name: record.filename, size: formatBytes(record.size) });
    resetPreviewOptions();
    await loadPreview();
  } catch (error) {
    $("#upload-status").textContent = "";
    showError($("#upload-error"), error, t("The upload failed"));
  } finally {
    fileInput.disabled = false;
  }
}

// ---- 2. preview ----------------------------------------------------------------------------------------

const previewForm = $("#preview-options");

function resetPreviewOptions() {
  previewForm.reset();
  previewForm.elements.sheet.replaceChildren();
  $("#sheet-label").hidden = true;
}

function previewOverrides() {
  const options = {};
  for (const name of ["format", "encoding", "delimiter", "sheet"]) {
    const value = String(previewForm.elements[name].value || "").trim();
    if (value) options[name] = value;
  }
  return options;
}

previewForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(previewForm.querySelector("button"), loadPreview);
});

async function loadPreview() {
  showError($("#preview-error"), null);
  const query = new URLSearchParams(previewOverrides()).toString();
  try {
    state.preview = await api("GET", `/uploads/${encodeURIComponent(state.upload.id)}/preview?${query}`);
  } catch (error) {
    showStep("preview", { focus: false });
    state.preview = null;
    $("#preview-table").replaceChildren();
    $("#preview-table").closest(".table-scroll").hidden = true;
    $("#preview-detected").textContent = "";
    $("#preview-warnings").hidden = true;
    $("#preview-ambiguous").hidden = true;
    $("#to-target").disabled = true;
    showError($("#preview-error"), error, t("The file could not be read this way"));
    return;
  }
  $("#to-target").disabled = false;
  renderPreview(state.preview);
  showStep("preview");
}

/** The read options a job needs to read the file the way the preview did. */
function readOptions() {
  const preview = state.preview || {};
  const options = {};
  for (const name of ["format", "encoding", "delimiter", "sheet"]) {
    if (preview[name] !== null && preview[name] !== undefined && preview[name] !== "") options[name] = preview[name];
  }
  return options;
}

function describeDelimiter(delimiter) {
  if (delimiter === "\t") return t("tab");
  return delimiter ? `“${delimiter}”` : "";
}

function renderPreview(preview) {
  const format = FORMAT_NAMES[preview.format] ? t(FORMAT_NAMES[preview.format]) : preview.format;
  const facts = [t("read as {format}", { format })];
  if (preview.encoding) {
    const sure = typeof preview.encoding_confidence === "number";
    const percent = sure ? formatPercent(Math.round(preview.encoding_confidence * 100)) : "";
    const encoding = sure ? N_("encoding {encoding} ({percent} sure)") : N_("encoding {encoding}");
    facts.push(t(encoding, { encoding: preview.encoding, percent }));
  }
  if (preview.delimiter) facts.push(t("delimiter {delimiter}", { delimiter: describeDelimiter(preview.delimiter) }));
  if (preview.sheet !== null && preview.sheet !== undefined) facts.push(t("sheet {sheet}", { sheet: String(preview.sheet) }));
  facts.push(t("columns: {count}", { count: preview.columns.length }));
  $("#preview-detected").textContent = t("Detected: {facts}. Change any of these below if the table looks wrong.", { facts: formatList(facts) });

  const sheets = preview.sheet_names || [];
  const sheetSelect = previewForm.elements.sheet;
  $("#sheet-label").hidden = sheets.length < 2;
  if (sheets.length) {
    const chosen = String(preview.sheet ?? "");
    sheetSelect.replaceChildren(...sheets.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  }

  const warnings = $("#preview-warnings");
  warnings.hidden = !preview.warnings.length;
  warnings.replaceChildren(...preview.warnings.map((text) => el("li", {}, text)));

  const columns = preview.columns.slice(0, MAX_PREVIEW_COLUMNS);
  const head = el("thead", {},
    el("tr", {}, el("th", { scope: "col", class: "num" }, t("Row")), columns.map((column) => el("th", { scope: "col" }, column.name))),
    el("tr", { class: "kinds" }, el("td", {}), columns.map((column) => el("td", {}, columnKind(column)))),
  );
  const body = el("tbody", {}, preview.rows.map((row) =>
    el("tr", {}, el("th", { scope: "row", class: "num" }, row.__row__ ?? ""), columns.map((column) => cell(row[column.name]))),
  ));
  const shown = { rows: preview.rows.length, name: preview.upload.filename, columns: columns.length, all: preview.columns.length };
  const caption = el("caption", {}, preview.columns.length > columns.length
    ? t("The first {rows} rows of {name} (the first {columns} of {all} columns)", shown)
    : t("The first {rows} rows of {name}", shown));
  $("#preview-table").replaceChildren(caption, head, body);
  $("#preview-table").closest(".table-scroll").hidden = false;

  const ambiguous = preview.columns.filter((column) => column.ambiguous);
  const notes = $("#preview-ambiguous");
  notes.hidden = !ambiguous.length;
  notes.replaceChildren(...ambiguous.map((column) =>
    el("li", {}, el("strong", {}, column.name), " ", ambiguityNote(column)),
  ));
}

function ambiguityNote(column) {
  const params = { why: column.ambiguity || t("the values fit more than one reading"), formats: (column.alternatives || []).join(", ") };
  if (!params.formats) return t("{why}. Choose the format in the mapping step.", params);
  if (column.format) return t("{why} (also possible: {formats}). Choose the format in the mapping step.", params);
  return t("{why} (one of: {formats}). Choose the format in the mapping step.", params);
}

function columnKind(column) {
  const detail = column.format || (column.decimal && column.decimal !== "." ? t("decimal “{mark}”", { mark: column.decimal }) : "");
  return [
    el("span", { class: "kind" }, KIND_NAMES[column.kind] ? t(KIND_NAMES[column.kind]) : column.kind || "?"),
    detail ? el("span", { class: "kind-detail" }, ` ${detail}`) : null,
    column.ambiguous ? el("span", { class: "tag warn", title: column.ambiguity || "" }, t("ambiguous")) : null,
  ];
}

function cell(value) {
  if (value === null || value === undefined) return el("td", { class: "null" });
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (text.length <= MAX_CELL_CHARS) return el("td", {}, text);
  return el("td", { title: text.slice(0, 2000) }, `${text.slice(0, MAX_CELL_CHARS)}…`);
}

// ---- 3. target -----------------------------------------------------------------------------------------

const connectionSelect = $("#connection");
const objectSearch = $("#object-search");
const objectList = $("#object-list");
const operationSelect = $("#operation");
const externalIdSelect = $("#external-id");

$("#to-target").addEventListener("click", (event) => busy(event.currentTarget, openTarget));

async function openTarget() {
  showError($("#target-error"), null);
  showStep("target");
  if (!connectionSelect.options.length) {
    try {
      const { connections } = await api("GET", "/connections");
      connectionSelect.replaceChildren(...connections.map((c) =>
        el("option", { value: c.id }, c.username ? `${c.name} (${c.username})` : c.name)));
    } catch (error) {
      showError($("#target-error"), error, t("Could not list the connections"));
      return;
    }
    await loadObjects();
  }
}

connectionSelect.addEventListener("change", () => {
  state.describe = null;
  loadObjects();
});

async function loadObjects() {
  showError($("#target-error"), null);
  objectList.replaceChildren();
  $("#object-count").textContent = t("Loading objects…");
  try {
    const { objects } = await api("GET", `/objects?connection_id=${encodeURIComponent(connectionSelect.value)}`);
    state.objects = objects.slice().sort((a, b) => String(a.label).localeCompare(String(b.label)));
  } catch (error) {
    $("#object-count").textContent = "";
    showError($("#target-error"), error, t("Could not list the objects of this org"));
    return;
  }
  filterObjects();
}

function filterObjects() {
  const wanted = objectSearch.value.trim().toLowerCase();
  const current = objectList.value;
  const shown = state.objects.filter((o) => !wanted || `${o.label} ${o.name}`.toLowerCase().includes(wanted));
  objectList.replaceChildren(...shown.map((o) =>
    el("option", { value: o.name, selected: o.name === current }, o.label === o.name ? o.name : `${o.label} — ${o.name}`)));
  if (shown.length === 1 && objectList.value !== shown[0].name) {
    objectList.value = shown[0].name;
    loadDescribe();
  }
  $("#object-count").textContent = t("{shown} of {all} objects", { shown: shown.length, all: state.objects.length });
}

objectSearch.addEventListener("input", filterObjects);
objectSearch.addEventListener("keydown", (event) => {
  if (event.key === "ArrowDown" && objectList.options.length) {
    event.preventDefault();
    objectList.focus();
  }
});
objectList.addEventListener("change", loadDescribe);
operationSelect.addEventListener("change", renderExternalIds);
// A changed target makes the mapping below it stale: it is suggested again on "Next".
for (const control of [connectionSelect, objectList, operationSelect, externalIdSelect]) {
  control.addEventListener("change", () => showStep("target", { focus: false }));
}

async function loadDescribe() {
  state.describe = null;
  showError($("#target-error"), null);
  const name = objectList.value;
  if (!name) return;
  try {
    const describe = await api("GET", `/objects/${encodeURIComponent(name)}?connection_id=${encodeURIComponent(connectionSelect.value)}`);
    if (objectList.value === name) state.describe = describe;
  } catch (error) {
    showError($("#target-error"), error, t("Could not describe {object}", { object: name }));
  }
  renderExternalIds();
}

function renderExternalIds() {
  const upsert = operationSelect.value === "upsert";
  const fields = state.describe ? state.describe.fields.filter((f) => f.externalId) : [];
  $("#external-id-label").hidden = !upsert;
  const hint = $("#external-id-hint");
  hint.hidden = !upsert || !state.describe || fields.length > 0;
  hint.textContent = state.describe ? t("{object} has no External ID field, so it cannot be upserted; use insert or update.", { object: state.describe.name }) : "";
  const current = externalIdSelect.value;
  externalIdSelect.replaceChildren(...fields.map((f) =>
    el("option", { value: f.name, selected: f.name === current }, `${f.label} (${f.name})`)));
}

$("#target-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#to-mapping"), openMapping);
});

function target() {
  return {
    connection_id: connectionSelect.value || "default",
    object: objectList.value,
    operation: operationSelect.value,
    external_id: operationSelect.value === "upsert" ? externalIdSelect.value || null : null,
  };
}

async function openMapping() {
  showError($("#target-error"), null);
  const chosen = target();
  if (!chosen.object) {
    showError($("#target-error"), new Error(t("Choose the object to load into.")));
    objectSearch.focus();
    return;
  }
  if (chosen.operation === "upsert" && !chosen.external_id) {
    showError($("#target-error"), new Error(t("An upsert needs an External ID field to match records by.")));
    return;
  }
  try {
    if (!state.describe || state.describe.name !== chosen.object) await loadDescribe();
    if (!state.describe) return;
    const suggestion = await api("POST", "/mappings/suggest", { upload_id: state.upload.id, read_options: readOptions(), ...chosen });
    state.mapping = withProfiles(suggestion.mapping);
    state.serverProblems = suggestion.problems || [];
  } catch (error) {
    showError($("#target-error"), error, t("Could not suggest a mapping"));
    return;
  }
  $("#field-filter").value = "";
  renderMapping();
  loadTemplates();
  showStep("mapping");
}

// ---- 4. mapping ----------------------------------------------------------------------------------------

function writable(field, operation) {
  if (operation === "insert") return field.createable;
  if (operation === "update") return field.updateable || field.name === "Id";
  if (operation === "upsert") return field.createable || field.updateable || field.name === "Id";
  return field.name === "Id";
}

function isRequired(field, operation) {
  if (operation === "update" || operation === "delete" || operation === "hardDelete") return field.name === "Id";
  return Boolean(field.required);
}

function profileOf(column) {
  return (state.preview ? state.preview.columns : []).find((c) => c.name === column) || null;
}

function fieldOf(name) {
  return state.describe.fields.find((f) => f.name.toLowerCase() === String(name).toLowerCase()) || null;
}

/** Fill a date format or number style the preview inferred, unless the data cannot decide (a person must). */
function applyProfile(entry) {
  const field = fieldOf(entry.target);
  const profile = entry.source ? profileOf(entry.source) : null;
  if (!field || !profile || profile.ambiguous) return entry;
  if (DATE_TYPES.has(field.type) && profile.format && !entry.format) entry.format = profile.format;
  if (NUMBER_TYPES.has(field.type) && profile.decimal && profile.decimal !== "." && !entry.decimal) {
    entry.decimal = profile.decimal;
    if (profile.thousands) entry.thousands = profile.thousands;
  }
  return entry;
}

function withProfiles(spec) {
  return { ...spec, fields: (spec.fields || []).map((entry) => applyProfile({ ...entry })) };
}

function entryFor(targetName) {
  return state.mapping.fields.find((e) => String(e.target).toLowerCase() === targetName.toLowerCase()) || null;
}

function setSource(targetName, column) {
  const fields = state.mapping.fields;
  const index = fields.findIndex((e) => String(e.target).toLowerCase() === targetName.toLowerCase());
  if (!column) {
    if (index >= 0) fields.splice(index, 1);
  } else if (index >= 0) {
    const { concat, separator, constant, ...rest } = fields[index];
    fields[index] = applyProfile({ ...rest, source: column });
  } else {
    fields.push(applyProfile({ target: targetName, source: column }));
  }
}

/** The spec as it stands, for the operation chosen now. */
function currentSpec() {
  const chosen = target();
  const spec = {
    object: chosen.object,
    operation: chosen.operation,
    blank_means: state.mapping.blank_means || "ignore",
    fields: state.mapping.fields.map((entry) => ({ ...entry })),
  };
  if (state.mapping.timezone) spec.timezone = state.mapping.timezone;
  if (chosen.external_id) spec.external_id = chosen.external_id;
  return spec;
}

/** Problems by target ("" for the whole mapping): the checks a person can fix here, plus the server's others. */
function mappingProblems() {
  const { operation, external_id: externalId } = target();
  const columns = new Set((state.preview ? state.preview.columns : []).map((c) => c.name));
  const problems = [];
  const add = (severity, targetName, message, code) => problems.push({ severity, target: targetName, message, code });
  for (const field of state.describe.fields) {
    if (!writable(field, operation) || !isRequired(field, operation) || entryFor(field.name)) continue;
    if (operation === "upsert") add("warning", field.name, t("required to create records: rows that match no existing record will fail"), "REQUIRED_FIELD_NOT_MAPPED");
    else if (operation === "insert") add("error", field.name, t("required, and not mapped"), "REQUIRED_FIELD_NOT_MAPPED");
    else add("error", field.name, t("{operation} needs the record Id mapped to a column", { operation }), "MISSING_ID");
  }
  if (operation === "upsert" && externalId && !entryFor(externalId)) {
    add("error", externalId, t("the external id must be mapped to a column: upsert matches records by it"), "MISSING_EXTERNAL_ID");
  }
  for (const entry of state.mapping.fields) {
    if (entry.source !== undefined && !columns.has(entry.source)) {
      add("error", entry.target, t("column “{column}” is not in the file", { column: entry.source }), "UNKNOWN_COLUMN");
    }
    const field = fieldOf(entry.target);
    const profile = entry.source ? profileOf(entry.source) : null;
    if (field && profile && profile.ambiguous && DATE_TYPES.has(field.type) && !entry.format) {
      add("warning", entry.target, t("“{column}” could be read more than one way: choose its date format", { column: entry.source }), "AMBIGUOUS_FORMAT");
    }
    if (!field && !String(entry.target).includes(".")) {
      add("error", entry.target, t("not a field of {object}", { object: state.describe.name }), "UNKNOWN_FIELD");
    }
  }
  for (const problem of state.serverProblems) {
    if (CLIENT_CODES.has(problem.code) || problem.code === "UNKNOWN_FIELD") continue;
    const entry = problem.target ? entryFor(problem.target) : null;
    if (problem.target && (!entry || (problem.source && entry.source !== problem.source))) continue; // fixed since
    problems.push(problem);
  }
  return problems;
}

function fieldBadges(field, operation, externalId) {
  return [
    isRequired(field, operation) ? el("span", { class: "tag required" }, t("required")) : null,
    field.name === externalId ? el("span", { class: "tag key" }, t("match key")) : field.externalId ? el("span", { class: "tag" }, t("external id")) : null,
  ];
}

function sourceSelect(label, entry) {
  const columns = state.preview ? state.preview.columns.map((c) => c.name) : [];
  const select = el("select", { "aria-label": t("Source column for {field}", { field: label }), dataset: { role: "source" } },
    el("option", { value: "" }, t("— not mapped —")));
  if (entry && entry.source === undefined) {
    const what = entry.constant !== undefined ? t("(constant “{value}”)", { value: String(entry.constant) })
      : entry.concat ? t("(columns {columns})", { columns: entry.concat.join(" + ") }) : t("(set in the template)");
    select.append(el("option", { value: "__keep__", selected: true }, what));
  }
  for (const column of columns) {
    select.append(el("option", { value: column, selected: entry && entry.source === column }, column));
  }
  if (entry && entry.source !== undefined && !columns.includes(entry.source)) {
    select.append(el("option", { value: entry.source, selected: true }, t("{column} (not in this file)", { column: entry.source })));
  }
  return select;
}

function formatControl(field, entry, label) {
  if (!field || !entry || entry.source === undefined) return "";
  if (DATE_TYPES.has(field.type)) {
    const profile = profileOf(entry.source);
    const listId = `formats-${field.name}`;
    const options = [...new Set([...(profile && profile.alternatives ? profile.alternatives : []), ...(profile && profile.format ? [profile.format] : []), ...DATE_FORMATS])];
    return [
      el("input", { type: "text", value: entry.format || "", placeholder: t("as detected"), list: listId, size: 14, maxlength: 60,
        spellcheck: "false", autocomplete: "off", title: t(DATE_FORMAT_HINT), "aria-label": t("Date format of {field}", { field: label }), dataset: { role: "format" } }),
      el("datalist", { id: listId }, options.map((f) => el("option", { value: f }))),
    ];
  }
  if (NUMBER_TYPES.has(field.type)) {
    const current = entry.decimal || ".";
    const select = el("select", { "aria-label": t("Number style of {field}", { field: label }), dataset: { role: "number-style" } });
    NUMBER_STYLES.forEach((style, i) => {
      const chosen = style.decimal === current && (!entry.thousands || style.thousands === entry.thousands);
      select.append(el("option", { value: String(i), selected: chosen }, style.label));
    });
    return select;
  }
  if (field.picklistValues && field.picklistValues.length) {
    const values = field.picklistValues;
    return el("span", { class: "hint" }, `${values.slice(0, 6).join(", ")}${values.length > 6 ? "…" : ""}`);
  }
  return "";
}

function mappingRows() {
  const { operation } = target();
  const fields = state.describe.fields.filter((f) => writable(f, operation));
  const rank = (f) => (isRequired(f, operation) ? 0 : entryFor(f.name) ? 1 : 2);
  fields.sort((a, b) => rank(a) - rank(b) || String(a.label).localeCompare(String(b.label)));
  const rows = fields.map((f) => ({ name: f.name, label: f.label, field: f }));
  // Lookups by a parent's external id (Account.Legacy_Id__c) and entries the describe does not know.
  for (const entry of state.mapping.fields) {
    if (!fieldOf(entry.target) || String(entry.target).includes(".")) {
      rows.unshift({ name: String(entry.target), label: String(entry.target), field: null });
    }
  }
  return rows;
}

function renderMapping() {
  const { operation, external_id: externalId } = target();
  const body = $("#mapping-table tbody");
  body.replaceChildren(...mappingRows().map(({ name, label, field }) => {
    const entry = entryFor(name);
    const typeText = field ? `${field.type}${field.length ? ` (${field.length})` : ""}` : name.includes(".") ? t("lookup by external id") : t("unknown");
    const row = el("tr", { dataset: { target: name } },
      el("th", { scope: "row" },
        el("span", { class: "field-label" }, label), " ",
        el("code", {}, name), el("span", { class: "field-type" }, ` ${typeText} `),
        field ? fieldBadges(field, operation, externalId) : null),
      el("td", {}, sourceSelect(label, entry)),
      el("td", {}, formatControl(field, entry, label)),
      el("td", { class: "row-problems" }),
    );
    return row;
  }));
  refreshProblems();
  applyFieldFilter();
}

function refreshProblems() {
  const problems = mappingProblems();
  const byTarget = new Map();
  const general = [];
  for (const problem of problems) {
    const row = problem.target ? $("#mapping-table tbody").querySelector(`tr[data-target="${CSS.escape(problem.target)}"]`) : null;
    if (row) {
      if (!byTarget.has(row)) byTarget.set(row, []);
      byTarget.get(row).push(problem);
    } else {
      general.push(problem);
    }
  }
  for (const row of $("#mapping-table tbody").rows) {
    const list = byTarget.get(row) || [];
    row.classList.toggle("has-error", list.some((p) => p.severity === "error"));
    row.classList.toggle("has-warning", list.some((p) => p.severity !== "error"));
    row.querySelector(".row-problems").replaceChildren(...list.map((p) =>
      el("p", { class: p.severity === "error" ? "problem error" : "problem warning" }, p.severity === "error" ? t("Error: {message}", p) : t("Check: {message}", p))));
  }
  const box = $("#mapping-problems");
  box.hidden = !general.length;
  box.replaceChildren(...general.map((p) => el("li", { class: p.severity === "error" ? "problem error" : "problem warning" }, problemText(p))));
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  const mapped = state.mapping.fields.length;
  const counts = { mapped, errors, warnings };
  if (errors && warnings) $("#mapping-summary").textContent = t("Fields mapped: {mapped}. To fix: {errors} errors; to check: {warnings} warnings.", counts);
  else if (errors) $("#mapping-summary").textContent = t("Fields mapped: {mapped}. To fix: {errors} errors.", counts);
  else if (warnings) $("#mapping-summary").textContent = t("Fields mapped: {mapped}. No errors; to check: {warnings} warnings.", counts);
  else $("#mapping-summary").textContent = t("Fields mapped: {mapped}. No errors.", counts);
  return problems;
}

$("#mapping-table").addEventListener("change", (event) => {
  const control = event.target;
  const row = control.closest("tr");
  if (!row) return;
  const name = row.dataset.target;
  if (control.dataset.role === "source") {
    if (control.value === "__keep__") return;
    setSource(name, control.value);
    const field = fieldOf(name);
    const label = field ? field.label : name;
    row.cells[2].replaceChildren(...[formatControl(field, entryFor(name), label)].flat().filter(Boolean));
  } else if (control.dataset.role === "format") {
    const entry = entryFor(name);
    if (entry) {
      const value = control.value.trim();
      if (value) entry.format = value;
      else delete entry.format;
    }
  } else if (control.dataset.role === "number-style") {
    const entry = entryFor(name);
    const style = NUMBER_STYLES[Number(control.value)];
    if (entry && style) {
      entry.decimal = style.decimal;
      entry.thousands = style.thousands;
    }
  }
  refreshProblems();
});

function applyFieldFilter() {
  const wanted = $("#field-filter").value.trim().toLowerCase();
  const onlyMapped = $("#only-mapped").checked;
  for (const row of $("#mapping-table tbody").rows) {
    const text = row.cells[0].textContent.toLowerCase();
    const mapped = Boolean(row.querySelector('[data-role="source"]').value);
    const required = Boolean(row.querySelector(".tag.required"));
    row.hidden = (wanted && !text.includes(wanted)) || (onlyMapped && !mapped && !required);
  }
}

$("#field-filter").addEventListener("input", applyFieldFilter);
$("#only-mapped").addEventListener("change", applyFieldFilter);

// Templates: named mapping specs per object.

async function loadTemplates(selected = "") {
  const list = $("#template-list");
  try {
    const { templates } = await api("GET", `/templates?object=${encodeURIComponent(target().object)}`);
    list.replaceChildren(el("option", { value: "" }, templates.length ? t("— choose —") : t("— none saved —")),
      ...templates.map((t) => el("option", { value: t.name, selected: t.name === selected }, t.name)));
  } catch (error) {
    showError($("#mapping-error"), error, t("Could not list the templates"));
  }
}

$("#template-save").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const name = $("#template-name").value.trim();
  showError($("#mapping-error"), null);
  if (!name) {
    showError($("#mapping-error"), new Error(t("Give the template a name first.")));
    $("#template-name").focus();
    return;
  }
  try {
    const saved = await api("PUT", `/templates/${encodeURIComponent(target().object)}/${encodeURIComponent(name)}`, { mapping: currentSpec() });
    $("#template-status").textContent = t("Saved “{name}”.", { name: saved.name });
    loadTemplates(saved.name);
  } catch (error) {
    showError($("#mapping-error"), error, t("Could not save the template"));
  }
}));

$("#template-load").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const name = $("#template-list").value;
  showError($("#mapping-error"), null);
  if (!name) {
    showError($("#mapping-error"), new Error(t("Choose a saved template to load.")));
    return;
  }
  try {
    const template = await api("GET", `/templates/${encodeURIComponent(target().object)}/${encodeURIComponent(name)}`);
    state.mapping = withProfiles(template.mapping || { fields: [] });
    state.serverProblems = [];
    $("#template-name").value = template.name;
    $("#template-status").textContent = t("Loaded “{name}”.", { name: template.name });
    renderMapping();
  } catch (error) {
    showError($("#mapping-error"), error, t("Could not load the template"));
  }
}));

$("#to-run").addEventListener("click", () => showStep("run"));

// ---- 5. rehearse and run -------------------------------------------------------------------------------

const rehearsal = new JobPanel($("#rehearsal-box [data-job-panel]"));
const load = new JobPanel($("#load-box [data-job-panel]"));

function jobRequest(dryRun) {
  return { upload_id: state.upload.id, ...target(), mapping: currentSpec(), read_options: readOptions(), dry_run: dryRun };
}

async function startJob(dryRun) {
  showError($("#run-error"), null);
  const errors = refreshProblems().filter((p) => p.severity === "error");
  if (!dryRun && errors.length) {
    showError($("#run-error"), Object.assign(new Error(t("The mapping has errors; fix them (step 4) before running the load.")), { problems: errors }));
    return;
  }
  const { operation, object } = target();
  if (!dryRun && (operation === "delete" || operation === "hardDelete")) {
    const question = operation === "hardDelete"
      ? N_("This will permanently delete the {object} records listed in the file. Continue?")
      : N_("This will delete the {object} records listed in the file (to the recycle bin). Continue?");
    if (!window.confirm(t(question, { object }))) return;
  }
  try {
    const job = await api("POST", "/jobs", jobRequest(dryRun));
    const box = $(dryRun ? "#rehearsal-box" : "#load-box");
    box.hidden = false;
    (dryRun ? rehearsal : load).follow(job.id, job);
    box.scrollIntoView({ behavior: SCROLL, block: "nearest" });
  } catch (error) {
    showError($("#run-error"), error, dryRun ? t("Could not start the rehearsal") : t("Could not start the load"));
  }
}

$("#rehearse").addEventListener("click", (event) => busy(event.currentTarget, () => startJob(true)));
$("#run").addEventListener("click", (event) => busy(event.currentTarget, () => startJob(false)));
