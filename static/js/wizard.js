// The new-load wizard: upload → preview → target → mapping → rehearse and run, all through /api/v1.
import { INLINE_UPLOAD_LIMIT, api, el, problemText, showError, uploadFile } from "./api.js";
import { formatBytes, formatList, formatNumber, formatPercent, N_, t } from "./i18n.js";
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
  values: new Map(), // column -> GET /uploads/<id>/columns/<col>/values (for value maps and boolean tokens)
  draftId: null, // the server-side draft (POST /drafts) the URL names, so a reload or a second tab resumes
  reached: 0, // the furthest step reached (an index of STEPS): every pill up to it can be revisited
  outdated: new Set(), // steps an earlier change made stale
  rehearsal: null, // the last rehearsal job (final), for the run's confirmation
  rehearsalJobId: null,
  loadJobId: null,
};

// ---- steps ---------------------------------------------------------------------------------------------

const STEPS = ["upload", "preview", "target", "mapping", "run"];
// The delimiter select's names for the characters the read options also take (dms/pipeline/source/contract.py).
const DELIMITER_NAMES = { ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "^": "caret", "`": "backquote" };
const OUTDATED_LABEL = N_("outdated");
let currentStep = "upload";

/** Reveal the steps up to `name` and hide the ones after it; with `push`, a history entry so Back returns. */
function showStep(name, { focus = true, push = true } = {}) {
  const index = STEPS.indexOf(name);
  state.reached = Math.max(state.reached, index);
  currentStep = name;
  STEPS.forEach((step, i) => {
    $(`#step-${step}`).hidden = i > index;
    const marker = document.querySelector(`[data-step-marker="${step}"]`);
    marker.classList.toggle("done", i < index);
    marker.classList.toggle("outdated", state.outdated.has(step) && i <= state.reached);
    marker.querySelector("button").disabled = i > state.reached;
    marker.querySelector("button").title = state.outdated.has(step) ? t(OUTDATED_LABEL) : "";
    if (i === index) marker.setAttribute("aria-current", "step");
    else marker.removeAttribute("aria-current");
  });
  $("#rehearsal-outdated").hidden = !state.outdated.has("run") || !state.rehearsalJobId;
  if (push) rememberStep(name);
  if (focus && index > 0) {
    const heading = $(`#step-${name} h2`);
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    heading.scrollIntoView({ behavior: SCROLL, block: "start" });
  }
}

/** Mark the steps after `step` stale (their results were made with what changed) and save that. */
function markOutdatedAfter(step) {
  const index = STEPS.indexOf(step);
  let changed = false;
  STEPS.forEach((later, i) => {
    if (i > index && i <= state.reached && !state.outdated.has(later)) {
      state.outdated.add(later);
      changed = true;
    }
  });
  if (changed) {
    saveDraft({ outdated: [...state.outdated] });
    showStep(currentStep, { focus: false, push: false });
  }
}

function clearOutdated(step) {
  if (state.outdated.delete(step)) saveDraft({ outdated: [...state.outdated] });
}

// ---- the draft: the wizard's state on the server, named in the URL ------------------------------------

let draftSaving = Promise.resolve();
let pendingDraft = {};
let draftGeneration = 0; // one per file chosen: a save for an earlier file's draft never names the new one

/** Save `patch` into the draft (in order; the first save creates it); `wizard.dataset.draft` says "saved". */
function saveDraft(patch) {
  Object.assign(pendingDraft, patch);
  wizard.dataset.draft = "saving";
  draftSaving = draftSaving.then(async () => {
    const body = pendingDraft;
    const generation = draftGeneration;
    pendingDraft = {};
    if (!Object.keys(body).length) return;
    try {
      if (state.draftId) {
        await api("PUT", `/drafts/${encodeURIComponent(state.draftId)}`, body);
      } else {
        const draft = await api("POST", "/drafts", body);
        if (generation !== draftGeneration) return; // another file was chosen meanwhile: its own draft follows
        state.draftId = draft.id;
        history.replaceState({ step: currentStep }, "", draftUrl(currentStep));
      }
      showError($("#draft-error"), null);
    } catch (error) {
      // Not created yet: the next save sends these keys again, so the draft starts whole.
      if (!state.draftId && generation === draftGeneration) pendingDraft = { ...body, ...pendingDraft };
      showError($("#draft-error"), error, t("Could not save the wizard's state; a reload would lose it"));
    }
  }).finally(() => {
    if (!Object.keys(pendingDraft).length) wizard.dataset.draft = "saved";
  });
  return draftSaving;
}

function draftUrl(step) {
  const query = new URLSearchParams(location.search);
  if (state.draftId) query.set("draft", state.draftId);
  query.set("step", step);
  return `${location.pathname}?${query}`;
}

/** A history entry per step (so Back goes to the step before), and the step saved in the draft. */
function rememberStep(name) {
  if (!state.draftId && !state.upload) return;
  const here = new URLSearchParams(location.search).get("step");
  if (here === name) history.replaceState({ step: name }, "", draftUrl(name));
  else history.pushState({ step: name }, "", draftUrl(name));
  saveDraft({ step: name });
}

window.addEventListener("popstate", () => {
  const query = new URLSearchParams(location.search);
  if (query.get("draft") && query.get("draft") !== state.draftId) {
    location.reload(); // another draft: start from it afresh
    return;
  }
  const step = query.get("step") || "upload";
  if (STEPS.includes(step) && STEPS.indexOf(step) <= state.reached) showStep(step, { push: false });
});

for (const button of document.querySelectorAll("[data-goto]")) {
  button.addEventListener("click", () => goToStep(button.dataset.goto));
}

/** A step pill: revisit a reached step; an outdated mapping is suggested again for the new target. */
function goToStep(step) {
  if (STEPS.indexOf(step) > state.reached) return;
  if ((step === "mapping" || step === "run") && state.outdated.has("mapping")) {
    busy($("#to-mapping"), openMapping);
    return;
  }
  showStep(step);
}

async function restoreDraft(draftId, wantedStep) {
  wizard.dataset.restoring = "true";
  try {
    const draft = await api("GET", `/drafts/${encodeURIComponent(draftId)}`);
    state.draftId = draft.id;
    state.outdated = new Set(draft.outdated || []);
    if (!draft.upload_id) return;
    state.upload = await api("GET", `/uploads/${encodeURIComponent(draft.upload_id)}`);
    $("#upload-status").textContent = t("Uploaded {name} ({size}).", { name: state.upload.filename, size: formatBytes(state.upload.size) });
    resetPreviewOptions();
    for (const [name, given] of Object.entries(draft.read_options || {})) {
      // A draft made over the API may name the delimiter by its character (";"), as the read options allow.
      const value = name === "delimiter" ? DELIMITER_NAMES[given] || given : given;
      if (previewForm.elements[name]) {
        if (name === "sheet") previewForm.elements.sheet.replaceChildren(el("option", { value, selected: true }, String(value)));
        previewForm.elements[name].value = value;
      }
    }
    const step = STEPS.includes(wantedStep) ? wantedStep : draft.step || "preview";
    await loadPreview({ push: false });
    if (!state.preview || !draft.object) return showStep(step === "upload" ? "upload" : "preview", { push: false });
    await openTarget({ push: false });
    if (draft.connection_id && [...connectionSelect.options].some((o) => o.value === draft.connection_id) && connectionSelect.value !== draft.connection_id) {
      connectionSelect.value = draft.connection_id;
      await loadObjects();
    }
    objectSearch.value = "";
    filterObjects();
    objectList.value = draft.object;
    operationSelect.value = draft.operation || "insert";
    await loadDescribe();
    if (draft.external_id) externalIdSelect.value = draft.external_id;
    if (!draft.mapping || !state.describe) return showStep(STEPS.indexOf(step) >= 2 ? "target" : step, { push: false });
    state.mapping = draft.mapping;
    state.mappingFor = mappingKey();
    renderMapping();
    loadTemplates();
    state.reached = Math.max(STEPS.indexOf("mapping"), STEPS.indexOf(draft.step || "mapping"));
    if (draft.rehearsal_job_id) {
      state.reached = STEPS.indexOf("run");
      followRehearsal(draft.rehearsal_job_id);
    }
    if (draft.load_job_id) {
      state.reached = STEPS.indexOf("run");
      state.loadJobId = draft.load_job_id;
      $("#load-box").hidden = false;
      load.follow(draft.load_job_id);
    }
    showStep(STEPS.indexOf(step) <= state.reached ? step : "mapping", { push: false });
  } catch (error) {
    showError($("#draft-error"), error, t("Could not restore the saved wizard"));
  } finally {
    delete wizard.dataset.restoring;
    wizard.dataset.restored = "true";
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

fileInput.addEventListener("change", () => uploadAndRead(fileInput.files[0]));
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
  if (files && files.length) uploadAndRead(files[0]);
});
// A file dropped beside the zone must not make the browser navigate away from the wizard.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

function setUploadProgress(loaded, total) {
  const percent = total ? Math.floor((100 * loaded) / total) : 0;
  $("#upload-progress").value = percent;
  $("#upload-percent").textContent = t("{percent} of {size}", { percent: formatPercent(percent), size: formatBytes(total) });
}

/** A new file: a new draft, nothing reached or outdated, nothing remembered of the file before. */
function startOver() {
  Object.assign(state, { draftId: null, reached: 0, outdated: new Set(), mapping: null, mappingFor: null,
    rehearsal: null, rehearsalJobId: null, loadJobId: null });
  state.values.clear();
  pendingDraft = {};
  draftGeneration += 1;
  $("#rehearsal-box").hidden = true;
  $("#load-box").hidden = true;
  rehearsal.stop();
  load.stop();
}

async function uploadAndRead(file) {
  showError($("#upload-error"), null);
  showStep("upload", { focus: false, push: false });
  state.upload = null;
  if (!file) return;
  if (file.size === 0) {
    showError($("#upload-error"), new Error(t("{name} is empty (0 bytes): there is nothing to load.", { name: file.name })));
    return;
  }
  $("#upload-progress-row").hidden = false;
  setUploadProgress(0, file.size);
  const presigned = file.size > INLINE_UPLOAD_LIMIT;
  const uploading = presigned ? N_("Uploading {name} ({size}) straight to storage…") : N_("Uploading {name} ({size})…");
  $("#upload-status").textContent = t(uploading, { name: file.name, size: formatBytes(file.size) });
  fileInput.disabled = true;
  try {
    const record = await uploadFile(file, setUploadProgress);
    setUploadProgress(file.size, file.size);
    startOver();
    state.upload = record;
    saveDraft({ upload_id: record.id, step: "preview" });
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
  // Read another way, the columns and their values may differ: what was built on them is stale.
  state.values.clear();
  markOutdatedAfter("preview");
  saveDraft({ read_options: previewOverrides() });
  busy(previewForm.querySelector("button"), loadPreview);
});

async function loadPreview({ push = true } = {}) {
  showError($("#preview-error"), null);
  const query = new URLSearchParams(previewOverrides()).toString();
  try {
    state.preview = await api("GET", `/uploads/${encodeURIComponent(state.upload.id)}/preview?${query}`);
  } catch (error) {
    showStep("preview", { focus: false, push });
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
  showStep("preview", { push });
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

$("#to-target").addEventListener("click", (event) => busy(event.currentTarget, () => openTarget()));

async function openTarget({ push = true } = {}) {
  showError($("#target-error"), null);
  showStep("target", { push });
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
  control.addEventListener("change", () => {
    if (wizard.dataset.restoring) return;
    markOutdatedAfter("target");
    showStep("target", { focus: false, push: false });
    saveDraft(target());
  });
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
    // The same file read the same way into the same object keeps the mapping made for it (an operation
    // changed, say); anything else is suggested afresh.
    if (!state.mapping || state.mappingFor !== mappingKey()) {
      const suggestion = await api("POST", "/mappings/suggest", { upload_id: state.upload.id, read_options: readOptions(), ...chosen });
      state.mapping = withProfiles(suggestion.mapping);
      state.mappingFor = mappingKey();
      state.serverProblems = suggestion.problems || [];
    }
  } catch (error) {
    showError($("#target-error"), error, t("Could not suggest a mapping"));
    return;
  }
  $("#field-filter").value = "";
  clearOutdated("mapping");
  renderMapping();
  loadTemplates();
  saveDraft({ ...chosen, read_options: previewOverrides(), mapping: state.mapping });
  showStep("mapping");
}

/** What a mapping was made for: the upload, how it was read, and the object. */
function mappingKey() {
  return JSON.stringify([state.upload ? state.upload.id : null, readOptions(), objectList.value]);
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
      el("td", { class: "rule-cell" }, ruleCell(field, entry, label)),
      el("td", { class: "row-problems" }),
    );
    return row;
  }));
  refreshProblems();
  applyFieldFilter();
  scheduleSample();
}

/** The format control, the rule editor (transforms, value map, boolean tokens) and the live sample of a row. */
function ruleCell(field, entry, label) {
  const parts = [formatControl(field, entry, label)].flat().filter(Boolean);
  if (entry && entry.source !== undefined) {
    const details = el("details", { class: "rule", dataset: { role: "rule" } },
      el("summary", {}, ruleSummary(field, entry)), el("div", { class: "rule-body" }));
    details.addEventListener("toggle", () => {
      if (details.open) fillRuleEditor(details, field, entryFor(entry.target), label);
    });
    parts.push(details);
  }
  if (entry) parts.push(el("div", { class: "sample", dataset: { sample: "" }, "aria-live": "polite" }));
  return parts;
}

// ---- the rule editor: transforms, a value map, boolean tokens ---------------------------------------------

const CASE_OPS = ["upper", "lower", "title"];
const CASE_NAMES = { "": N_("as it is"), upper: N_("UPPER CASE"), lower: N_("lower case"), title: N_("Title Case") };
const MAP_ELSE_NAMES = { keep: N_("keep them as they are"), null: N_("leave the field blank"), error: N_("reject the row") };
const MAX_MAPPED_VALUES = 50; // a column with more distinct values is no code list: map it by transforms
const MAX_TRUNCATE = 131072; // Salesforce's longest text area
const FEW_VALUES = 20; // a text field whose column has at most this many values gets a value map too

function mapStep(entry) {
  return (entry.transforms || []).find((step) => step.op === "map") || null;
}

function ruleSummary(field, entry) {
  const parts = [];
  const steps = entry.transforms || [];
  if (steps.some((s) => s.op === "trim")) parts.push(t("trim"));
  const caseStep = steps.find((s) => CASE_OPS.includes(s.op));
  if (caseStep) parts.push(t(CASE_NAMES[caseStep.op]));
  const truncate = steps.find((s) => s.op === "truncate");
  if (truncate) parts.push(t("cut to {length}", { length: truncate.length }));
  const map = mapStep(entry);
  if (map) parts.push(t("value map: {count}", { count: Object.keys(map.values || {}).length }));
  if (entry.true_values || entry.false_values) {
    parts.push(t("true: {yes} · false: {no}", { yes: (entry.true_values || []).join(", ") || "—", no: (entry.false_values || []).join(", ") || "—" }));
  }
  return parts.length ? t("Rule: {parts}", { parts: parts.join(" · ") }) : t("Values and transforms");
}

async function columnValues(column) {
  if (!state.values.has(column)) {
    const query = new URLSearchParams({ limit: String(MAX_MAPPED_VALUES), ...readOptions() });
    const answer = api("GET", `/uploads/${encodeURIComponent(state.upload.id)}/columns/${encodeURIComponent(column)}/values?${query}`);
    state.values.set(column, answer);
    answer.catch(() => state.values.delete(column)); // asked again next time
  }
  return state.values.get(column);
}

async function fillRuleEditor(details, field, entry, label) {
  const body = details.querySelector(".rule-body");
  if (!entry) return;
  body.replaceChildren(transformControls(field, entry, label));
  if (field && (DATE_TYPES.has(field.type) || NUMBER_TYPES.has(field.type))) return; // parsed by format
  let values;
  try {
    values = await columnValues(entry.source);
  } catch (error) {
    const box = el("div", { class: "alert error" });
    showError(box, error, t("Could not read the values of {column}", { column: entry.source }));
    body.append(box);
    return;
  }
  if (field && field.type === "boolean") {
    body.append(booleanTokens(field, entry, values, label));
  } else if ((field && field.picklistEntries && field.picklistEntries.length) || (!values.truncated && values.values.length <= FEW_VALUES)) {
    body.append(valueMapEditor(field, entry, values, label));
  }
}

function transformControls(field, entry, label) {
  const steps = entry.transforms || [];
  const caseStep = steps.find((s) => CASE_OPS.includes(s.op));
  const truncate = steps.find((s) => s.op === "truncate");
  return el("p", { class: "transforms" },
    el("label", { class: "check" },
      el("input", { type: "checkbox", checked: steps.some((s) => s.op === "trim"), dataset: { role: "trim" }, "aria-label": t("Trim spaces of {field}", { field: label }) }),
      " ", t("Trim spaces")),
    " ",
    el("label", {}, t("Case"), " ",
      el("select", { dataset: { role: "case" }, "aria-label": t("Case of {field}", { field: label }) },
        Object.entries(CASE_NAMES).map(([op, name]) => el("option", { value: op, selected: (caseStep ? caseStep.op : "") === op }, t(name))))),
    " ",
    el("label", {}, t("Cut to"), " ",
      el("input", { type: "number", min: 1, max: MAX_TRUNCATE, step: 1, value: truncate ? truncate.length : "", placeholder: field && field.length ? String(field.length) : "",
        dataset: { role: "truncate" }, "aria-label": t("Cut {field} to this many characters", { field: label }), class: "short-number" }),
      " ", t("characters")),
  );
}

function valueMapEditor(field, entry, values, label) {
  const map = mapStep(entry);
  const table = (map && map.values) || {};
  const choices = field && field.picklistEntries ? field.picklistEntries : null;
  const rows = values.values.map(({ value, count }) => {
    const current = Object.hasOwn(table, value) ? table[value] : "";
    const control = choices
      ? el("select", { dataset: { role: "map-value", legacy: value }, "aria-label": t("Load “{value}” as", { value }) },
        el("option", { value: "" }, t("— as it is —")),
        choices.map((c) => el("option", { value: c.value, selected: c.value === current }, c.label === c.value ? c.value : `${c.label} (${c.value})`)))
      : el("input", { type: "text", value: current ?? "", placeholder: t("as it is"), size: 14, maxlength: 255, dataset: { role: "map-value", legacy: value }, "aria-label": t("Load “{value}” as", { value }) });
    return el("tr", {}, el("th", { scope: "row" }, el("code", {}, value)), el("td", { class: "num" }, formatNumber(count)), el("td", {}, control));
  });
  const otherwise = map ? map.else || "keep" : "keep";
  return el("div", { class: "value-map" },
    el("table", { class: "data value-map-table" },
      el("caption", {}, t("Map the values of {column} to {field}", { column: entry.source, field: label })),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("In the file")), el("th", { scope: "col", class: "num" }, t("Rows")), el("th", { scope: "col" }, t("Load as")))),
      el("tbody", {}, rows)),
    values.truncated ? el("p", { class: "hint" }, t("Only the {count} most frequent values are listed.", { count: values.values.length })) : null,
    el("label", {}, t("Values not in the map"), " ",
      el("select", { dataset: { role: "map-else" }, "aria-label": t("Values of {column} not in the map", { column: entry.source }) },
        Object.entries(MAP_ELSE_NAMES).map(([value, name]) => el("option", { value, selected: value === otherwise }, t(name))))),
  );
}

function booleanTokens(field, entry, values, label) {
  const picker = (side, chosen) => el("fieldset", { class: "tokens" },
    el("legend", {}, side === "true" ? t("Read as true") : t("Read as false")),
    values.values.map(({ value, count }) => el("label", { class: "check" },
      el("input", { type: "checkbox", value, checked: chosen.includes(value), dataset: { role: `${side}-token` },
        "aria-label": side === "true" ? t("“{value}” means true for {field}", { value, field: label }) : t("“{value}” means false for {field}", { value, field: label }) }),
      " ", el("code", {}, value), el("span", { class: "count" }, ` (${formatNumber(count)})`))));
  const defaults = field.booleanTokens || { true: [], false: [] };
  return el("div", { class: "boolean-tokens" },
    picker("true", entry.true_values || []), picker("false", entry.false_values || []),
    el("p", { class: "hint" }, t("With nothing chosen, true is read from {yes}; false from {no}.", { yes: defaults.true.join(", "), no: defaults.false.join(", ") })));
}

/** A rule editor control changed: write it into the entry's spec. */
function editRule(entry, control) {
  const role = control.dataset.role;
  const steps = (entry.transforms || []).slice();
  if (role === "trim" || role === "case") {
    const others = steps.filter((s) => s.op !== "trim" && !CASE_OPS.includes(s.op));
    const trim = role === "trim" ? control.checked : steps.some((s) => s.op === "trim");
    const caseStep = role === "case" ? (control.value ? { op: control.value } : null) : steps.find((s) => CASE_OPS.includes(s.op)) || null;
    entry.transforms = [...(trim ? [{ op: "trim" }] : []), ...(caseStep ? [caseStep] : []), ...others];
  } else if (role === "truncate") {
    const length = Math.floor(Number(control.value));
    const others = steps.filter((s) => s.op !== "truncate");
    entry.transforms = length >= 1 && length <= MAX_TRUNCATE ? [...others, { op: "truncate", length }] : others;
  } else if (role === "map-value" || role === "map-else") {
    let map = mapStep(entry);
    if (!map) {
      map = { op: "map", values: {}, else: "keep" };
      steps.push(map);
    }
    if (role === "map-value") {
      if (control.value === "") delete map.values[control.dataset.legacy];
      else map.values[control.dataset.legacy] = control.value;
    } else {
      map.else = control.value;
    }
    entry.transforms = Object.keys(map.values).length ? steps : steps.filter((s) => s !== map);
  } else if (role === "true-token" || role === "false-token") {
    const side = role === "true-token" ? "true_values" : "false_values";
    const other = role === "true-token" ? "false_values" : "true_values";
    const chosen = new Set(entry[side] || []);
    if (control.checked) {
      chosen.add(control.value);
      entry[other] = (entry[other] || []).filter((v) => v !== control.value); // a token means one thing
    } else {
      chosen.delete(control.value);
    }
    entry[side] = [...chosen];
    for (const key of [side, other]) if (!entry[key] || !entry[key].length) delete entry[key];
  }
  if (entry.transforms && !entry.transforms.length) delete entry.transforms;
}

const RULE_ROLES = new Set(["trim", "case", "truncate", "map-value", "map-else", "true-token", "false-token"]);

// ---- the live sample: the first rows through the mapping, by the pipeline's own prepare -------------------

const SAMPLE_ROWS = 3;
let sampleTimer = null;
let sampleAsked = 0;

function scheduleSample() {
  clearTimeout(sampleTimer);
  sampleTimer = setTimeout(refreshSample, 250);
}

async function refreshSample() {
  if (!state.mapping || !state.describe || !state.mapping.fields.length) return;
  const asked = ++sampleAsked;
  const body = { upload_id: state.upload.id, ...target(), read_options: readOptions(), mapping: currentSpec(), rows: SAMPLE_ROWS };
  let sample;
  try {
    sample = await api("POST", "/mappings/preview", body);
  } catch (error) {
    if (asked !== sampleAsked) return;
    for (const box of document.querySelectorAll("#mapping-table [data-sample]")) {
      box.replaceChildren(el("span", { class: "problem error" }, t("No sample: {message}", { message: error.message })));
    }
    return;
  }
  if (asked !== sampleAsked) return; // a newer change asked again meanwhile
  const byTarget = new Map(sample.fields.map((f) => [String(f.target).toLowerCase(), f]));
  for (const row of $("#mapping-table tbody").rows) {
    const box = row.querySelector("[data-sample]");
    if (!box) continue;
    const rule = byTarget.get(row.dataset.target.toLowerCase());
    if (!rule) {
      box.replaceChildren();
      continue;
    }
    const header = rule.target;
    box.replaceChildren(el("span", { class: "sample-label" }, t("Sample:")), " ", ...sample.rows.map((r) => sampleCell(r, rule, header)));
  }
  wizard.dataset.sampled = String(asked);
}

function sampleCell(sampleRow, rule, header) {
  const cell = sampleRow.fields[header] || { value: null, errors: [] };
  const source = rule.source && Object.hasOwn(sampleRow.values, rule.source) ? sampleRow.values[rule.source] : null;
  const shown = (value) => (value === null || value === undefined || value === "" ? t("(blank)") : String(value));
  const from = source !== null ? `${shown(source)} → ` : "";
  if (cell.errors && cell.errors.length) {
    return el("span", { class: "sample-value bad", title: cell.errors.map((e) => e.message).join("; ") },
      `${from}✗ ${cell.errors[0].message}`);
  }
  return el("span", { class: "sample-value" }, `${from}${shown(cell.value)}`);
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
  const row = control.closest("#mapping-table > tbody > tr"); // not a value map's own row
  if (!row) return;
  const name = row.dataset.target;
  const field = fieldOf(name);
  const label = field ? field.label : name;
  if (RULE_ROLES.has(control.dataset.role)) {
    const entry = entryFor(name);
    if (!entry) return;
    editRule(entry, control);
    const details = row.querySelector('[data-role="rule"]');
    details.querySelector("summary").textContent = ruleSummary(field, entry);
    if (control.dataset.role.endsWith("-token")) fillRuleEditor(details, field, entry, label); // the other side too
  } else if (control.dataset.role === "source") {
    if (control.value === "__keep__") return;
    setSource(name, control.value);
    row.cells[2].replaceChildren(...ruleCell(field, entryFor(name), label));
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
  mappingChanged();
});

/** The mapping changed: a rehearsal made before says nothing of it; save it, sample it again. */
function mappingChanged() {
  markOutdatedAfter("mapping");
  saveDraft({ mapping: state.mapping });
  scheduleSample();
}

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
    mappingChanged();
  } catch (error) {
    showError($("#mapping-error"), error, t("Could not load the template"));
  }
}));

// A mapping file: the same JSON as examples/accounts.mapping.json, in and out.

const MAX_MAPPING_FILE_BYTES = 1024 * 1024;

$("#mapping-import").addEventListener("change", async (event) => {
  const input = event.currentTarget;
  const file = input.files[0];
  showError($("#mapping-error"), null);
  $("#mapping-file-status").textContent = "";
  if (!file) return;
  try {
    if (file.size > MAX_MAPPING_FILE_BYTES) throw new Error(t("{name} is larger than 1 MB: a mapping file is much smaller.", { name: file.name }));
    let spec;
    try {
      spec = JSON.parse(await file.text());
    } catch (error) {
      throw new Error(t("{name} is not JSON ({reason}). Export a mapping from this page to see the shape.", { name: file.name, reason: error.message }));
    }
    if (!spec || typeof spec !== "object" || Array.isArray(spec) || !Array.isArray(spec.fields)) {
      throw new Error(t("{name} is not a mapping: it needs a “fields” list, as examples/accounts.mapping.json has.", { name: file.name }));
    }
    const bad = spec.fields.findIndex((entry) => !entry || typeof entry !== "object" || typeof entry.target !== "string");
    if (bad >= 0) throw new Error(t("{name}: entry {number} of “fields” has no “target” field name.", { name: file.name, number: bad + 1 }));
    if (spec.object && String(spec.object).toLowerCase() !== target().object.toLowerCase()) {
      throw new Error(t("{name} maps {other}, not {object}: choose {other} in step 3, or another file.", { name: file.name, other: spec.object, object: target().object }));
    }
    const { object, operation, external_id: externalId, ...kept } = spec;
    state.mapping = withProfiles(kept);
    state.serverProblems = [];
    renderMapping();
    mappingChanged();
    $("#mapping-file-status").textContent = t("Imported {name}: {count} fields.", { name: file.name, count: spec.fields.length });
  } catch (error) {
    showError($("#mapping-error"), error, t("Could not import the mapping"));
  } finally {
    input.value = ""; // the same file can be imported again after a change
  }
});

$("#mapping-export").addEventListener("click", () => {
  const spec = currentSpec();
  const blob = new Blob([`${JSON.stringify(spec, null, 2)}\n`], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: `${spec.object || "mapping"}.mapping.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  $("#mapping-file-status").textContent = t("Downloaded {name}.", { name: link.download });
});

$("#to-run").addEventListener("click", () => showStep("run"));

// ---- 5. rehearse and run -------------------------------------------------------------------------------

const rehearsal = new JobPanel($("#rehearsal-box [data-job-panel]"), { onFinal: rehearsalFinished });
const load = new JobPanel($("#load-box [data-job-panel]"));
const MAX_EXAMPLES = 5;

function followRehearsal(jobId, job = null) {
  state.rehearsalJobId = jobId;
  state.rehearsal = null;
  $("#rehearsal-box").hidden = false;
  $("#rehearsal-errors").hidden = true;
  $("#rehearsal-outdated").hidden = !state.outdated.has("run");
  rehearsal.follow(jobId, job);
}

async function rehearsalFinished(job) {
  if (job.id !== state.rehearsalJobId) return;
  state.rehearsal = job;
  const counters = job.counters || {};
  if (!counters.invalid && !counters.failed) {
    $("#rehearsal-errors").hidden = true;
    return;
  }
  try {
    const summary = await api("GET", `/jobs/${encodeURIComponent(job.id)}/errors/summary?examples=${MAX_EXAMPLES}`);
    if (job.id === state.rehearsalJobId) renderRehearsalErrors(summary);
  } catch (error) {
    $("#rehearsal-errors").hidden = false;
    showError($("#rehearsal-error-groups"), error, t("Could not read the rehearsal's errors"));
  }
}

function renderRehearsalErrors(summary) {
  $("#rehearsal-errors").hidden = false;
  $("#rehearsal-errors-summary").textContent = t("{rows} rows would not load: {problems} problems in {groups} groups. Fix them in the file or the mapping, then rehearse again.",
    { rows: summary.rows, problems: summary.problems, groups: summary.groups.length });
  $("#rehearsal-error-groups").classList.remove("alert", "error");
  $("#rehearsal-error-groups").hidden = false;
  $("#rehearsal-error-groups").replaceChildren(...summary.groups.map((group) => {
    const where = group.field && group.column ? t("field {field}, column {column}", group)
      : group.field ? t("field {field}", group) : group.column ? t("column {column}", group) : "";
    return el("article", { class: "error-group", dataset: { code: group.code } },
      el("h5", {}, el("span", { class: "count" }, t("Rows: {count}", { count: group.count })), " ", el("code", {}, group.code), where ? ` · ${where}` : ""),
      group.advice ? el("p", { class: "advice" }, group.advice) : null,
      el("ul", { class: "examples" }, group.examples.map((example) => el("li", { dataset: { row: String(example.row) } },
        el("strong", {}, example.column ? t("Row {row}, column {column}:", { row: example.row, column: example.column }) : t("Row {row}:", { row: example.row })),
        " ", example.value !== null && example.value !== undefined ? el("code", {}, String(example.value)) : null, " ", example.message))),
      group.count > group.examples.length ? el("p", { class: "hint" }, t("and {more} more rows like these (errors.csv lists them all)", { more: group.count - group.examples.length })) : null);
  }));
}

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
  if (!dryRun && !confirmRun()) return;
  try {
    const job = await api("POST", "/jobs", jobRequest(dryRun));
    const box = $(dryRun ? "#rehearsal-box" : "#load-box");
    if (dryRun) {
      clearOutdated("run");
      followRehearsal(job.id, job);
      saveDraft({ rehearsal_job_id: job.id });
    } else {
      state.loadJobId = job.id;
      box.hidden = false;
      load.follow(job.id, job);
      saveDraft({ load_job_id: job.id });
    }
    showStep("run", { focus: false, push: false });
    box.scrollIntoView({ behavior: SCROLL, block: "nearest" });
  } catch (error) {
    showError($("#run-error"), error, dryRun ? t("Could not start the rehearsal") : t("Could not start the load"));
  }
}

/** Before a load: say what the rehearsal found (or that there is none for this mapping), and ask. */
function confirmRun() {
  const done = state.rehearsal && !state.outdated.has("run");
  if (!done) {
    const question = state.rehearsalJobId && state.outdated.has("run")
      ? N_("The mapping changed after the last rehearsal, so nothing has checked it. Run the load anyway?")
      : state.rehearsalJobId ? N_("The rehearsal has not finished, so nothing has checked the rows yet. Run the load anyway?")
        : N_("There is no rehearsal of this mapping: nothing has checked the rows. Run the load anyway?");
    return window.confirm(t(question));
  }
  const invalid = Number((state.rehearsal.counters || {}).invalid) || 0;
  if (!invalid) return true;
  return window.confirm(t("The rehearsal found {invalid} invalid rows of {total}: they will not be loaded (errors.csv will list them). Run the load anyway?",
    { invalid, total: Number((state.rehearsal.counters || {}).total) || 0 }));
}

$("#rehearse").addEventListener("click", (event) => busy(event.currentTarget, () => startJob(true)));
$("#run").addEventListener("click", (event) => busy(event.currentTarget, () => startJob(false)));

// ---- start: resume the draft the address names ---------------------------------------------------------

{
  const query = new URLSearchParams(location.search);
  if (query.get("draft")) restoreDraft(query.get("draft"), query.get("step"));
  else wizard.dataset.restored = "true";
}
