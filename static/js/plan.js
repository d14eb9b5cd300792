// One migration plan: its steps as waves (a wave's steps side by side, arrows for references), each step's
// passes and rows, the children held back because their parent was not loaded, downloads, cancel and retry.
// Polls GET /api/v1/plans/<id> every 2 s until the plan is final.
import { api, el, showError } from "./api.js";
import { formatDateTime, formatList, formatNumber, N_, t } from "./i18n.js";

const POLL_MS = 2000;
const FINAL = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);
const LEFTOVERS = ["failed", "invalid", "cancelled", "pending"];
const PLAN_STATES = JSON.parse(document.getElementById("plan-states").textContent);
const STEP_STATES = { not_run: N_("not run"), waiting: N_("waiting"), running: N_("running"), done: N_("done") };
const PASS_STATES = { waiting: N_("waiting"), running: N_("running"), done: N_("done"), skipped: N_("skipped: nothing left"), not_run: N_("not run") };
const LEFTOVER_LABELS = { failed: N_("Refused by Salesforce: {count}"), invalid: N_("Invalid or held back: {count}"), cancelled: N_("Cancelled: {count}"), pending: N_("Pending: {count}") };

const root = document.getElementById("plan");
const planId = root.dataset.planId;
const waves = document.getElementById("plan-waves");
const arrows = document.getElementById("plan-arrows");
const actionError = document.getElementById("plan-error");
const heldBack = new Map(); // step -> {load, update}: PARENT_NOT_LOADED rows in its errors files, once done
let latest = null;

function notLoaded(counters) {
  return LEFTOVERS.reduce((sum, name) => sum + (counters[name] || 0), 0);
}

/** A figure with its label, its value in a data-counter cell the tests and people read alike. */
function figure(label, name, value) {
  return el("div", {}, el("dt", {}, label), el("dd", { "data-counter": name }, formatNumber(value)));
}

function passLine(step, pass) {
  const kind = pass.kind === "update" ? t("Update pass {attempt}", { attempt: pass.attempt }) : t("Load pass {attempt}", { attempt: pass.attempt });
  const state = t(PASS_STATES[pass.state] || pass.state);
  const job = pass.job_id ? el("a", { href: `/jobs/${encodeURIComponent(pass.job_id)}` }, t("its job")) : null;
  return el("li", { dataset: { pass: `${pass.kind}${pass.attempt}` } }, `${kind}: ${state}`, job ? " · " : "", job);
}

function downloads(plan, step) {
  const names = ["success.csv", "errors.csv"];
  if (step.deferred.length) names.push("deferred_errors.csv");
  if (plan.dry_run) names.shift(); // a rehearsal loads nothing: it has no successes
  return el("p", { class: "downloads" }, names.flatMap((name, i) => [i ? " · " : "", el("a", { href: step.links[name], download: true }, name)]));
}

function stepCard(plan, step) {
  const c = step.counters || {};
  const counted = (step.passes || []).some((p) => p.counters);
  const figures = el("dl", { class: "counters" });
  if (counted) {
    figures.append(
      figure(t("Rows"), "total", c.total || 0),
      figure(plan.dry_run ? t("Would load") : t("Loaded"), "loaded", (plan.dry_run ? c.valid : c.loaded) || 0),
      figure(t("Not loaded"), "not_loaded", notLoaded(c)),
    );
    if ("deferred_set" in c) {
      figures.append(
        figure(plan.dry_run ? t("Deferred fields would be set") : t("Deferred fields set"), "deferred_set", (plan.dry_run ? c.deferred_valid : c.deferred_set) || 0),
        figure(t("Deferred fields not set"), "deferred_not_set", c.deferred_not_set || 0),
      );
    }
  }
  const why = LEFTOVERS.filter((name) => c[name]).map((name) => t(LEFTOVER_LABELS[name], { count: c[name] }));
  const held = heldBack.get(step.name);
  const percent = runningPercent(step);
  return el(
    "li",
    { class: "step-card", dataset: { step: step.name, state: step.state } },
    el("h3", {}, step.name, " ", el("span", { class: "step-object" }, `${step.operation} ${step.object}`)),
    el("p", { class: "step-state" }, el("span", { class: "state-badge", "data-state": step.state === "done" ? "completed" : step.state }, t(STEP_STATES[step.state] || step.state))),
    percent === null ? null : el("progress", { max: 100, value: percent, "aria-label": t("Rows settled") }),
    step.waits_for.length ? el("p", { class: "hint" }, t("Waits for {steps}", { steps: formatList(step.waits_for) })) : null,
    step.deferred.length
      ? el("p", { class: "hint" }, t("Deferred to its update pass: {fields}", { fields: formatList(step.deferred.map((d) => d.field)) }))
      : null,
    figures,
    why.length ? el("p", { class: "hint", "data-col": "why" }, why.join(" · ")) : null,
    held && (held.load || held.update)
      ? el("p", { class: "held-back", "data-col": "held-back" }, t("Held back because their parent was not loaded (PARENT_NOT_LOADED): rows {load}, deferred fields {update}", held))
      : null,
    step.duplicates && step.duplicates.count ? el("p", { class: "problem warning" }, t("{count} keys given by more than one row", { count: step.duplicates.count })) : null,
    el("ul", { class: "passes" }, (step.passes || []).map((pass) => passLine(step, pass))),
    FINAL.has(plan.state) || step.state === "done" ? downloads(plan, step) : null,
  );
}

/** A running pass's share of its rows settled, from its live counters; null when none runs. */
function runningPercent(step) {
  const running = (step.passes || []).filter((p) => p.state === "running");
  if (!running.length) return null;
  const c = running[running.length - 1].counters || {};
  if (!c.total) return 0;
  return Math.min(100, Math.round((100 * (c.total - (c.pending || 0))) / c.total));
}

function render(plan) {
  latest = plan;
  document.getElementById("plan-name").textContent = plan.name;
  const badge = document.getElementById("plan-state");
  badge.dataset.state = plan.state === "running" ? "loading" : plan.state;
  badge.textContent = PLAN_STATES[plan.state] || plan.state;
  document.getElementById("plan-rehearsal").hidden = !plan.dry_run;
  const calls = plan.dry_run
    ? t("about {calls} API calls to load", { calls: plan.estimated_api_calls })
    : t("{calls} API calls", { calls: plan.api_calls });
  document.getElementById("plan-facts").textContent = t("Attempt {attempt} · created {created} · {calls}", {
    attempt: plan.attempt,
    created: formatDateTime(plan.created_at),
    calls,
  });
  const failure = document.getElementById("plan-failure");
  failure.hidden = !plan.error;
  failure.textContent = plan.error ? `${plan.error.message} (${plan.error.code})` : "";
  const final = FINAL.has(plan.state);
  document.getElementById("plan-cancel").hidden = final || plan.state === "cancelling";
  const leftover = plan.steps.some((s) => notLoaded(s.counters || {}) || (s.counters || {}).deferred_not_set);
  document.getElementById("plan-retry").hidden = !final || plan.dry_run || !(leftover || plan.state !== "completed");
  document.getElementById("plan-results").hidden = !final;

  const byName = new Map(plan.steps.map((s) => [s.name, s]));
  waves.replaceChildren(
    ...plan.waves.map((wave, index) =>
      el(
        "li",
        { class: "wave" },
        el("h3", { class: "wave-title" }, t("Wave {number}", { number: index + 1 })),
        el("ol", { class: "wave-steps" }, wave.map((name) => stepCard(plan, byName.get(name)))),
      ),
    ),
  );
  drawArrows(plan);
  root.setAttribute("aria-busy", final ? "false" : "true");
}

/** Arrows from each step a step waits for to that step, over the cards (redrawn when the layout moves). */
function drawArrows(plan) {
  const box = arrows.getBoundingClientRect();
  for (const line of arrows.querySelectorAll("path.arrow")) line.remove();
  const card = (name) => waves.querySelector(`[data-step="${CSS.escape(name)}"]`);
  const waveOf = new Map(plan.waves.flatMap((wave, index) => wave.map((name) => [name, index])));
  const gutter = Math.min(...[...waves.querySelectorAll(".step-card")].map((c) => c.getBoundingClientRect().left)) - box.left - 18;
  for (const step of plan.steps) {
    const to = card(step.name);
    for (const parent of step.waits_for) {
      const from = card(parent);
      if (!from || !to) continue;
      const a = from.getBoundingClientRect();
      const b = to.getBoundingClientRect();
      const x1 = a.left + a.width / 2 - box.left;
      const y1 = a.bottom - box.top;
      const x2 = b.left + b.width / 2 - box.left;
      const y2 = b.top - box.top - 2;
      const bend = Math.max(20, (y2 - y1) / 2);
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("class", "arrow");
      if (waveOf.get(step.name) - waveOf.get(parent) > 1 && gutter > 0) {
        // Past a wave in between: around its cards, down the left side, rather than behind them.
        // It comes in from the gap above the step's wave, so it crosses no card of that wave either.
        const ya = a.top + a.height / 2 - box.top;
        const xa = a.left - box.left;
        const gap = y2 - 14;
        path.setAttribute(
          "d",
          `M ${xa} ${ya} C ${gutter} ${ya}, ${gutter} ${ya}, ${gutter} ${ya + 30} L ${gutter} ${gap - 12} Q ${gutter} ${gap}, ${gutter + 12} ${gap} L ${x2 - 12} ${gap} Q ${x2} ${gap}, ${x2} ${y2}`,
        );
      } else {
        path.setAttribute("d", `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`);
      }
      path.setAttribute("marker-end", "url(#arrowhead)");
      path.dataset.from = parent;
      path.dataset.to = step.name;
      arrows.append(path);
    }
  }
}

// ---- rows held back (PARENT_NOT_LOADED), counted in each finished step's errors files --------------------

/** CSV text as rows of fields (RFC 4180: quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

async function parentNotLoaded(url) {
  const response = await fetch(url, { headers: { Accept: "text/csv" } });
  if (!response.ok) return 0;
  const [header, ...rows] = parseCsv(await response.text());
  const column = (header || []).indexOf("error_code");
  // A row with more than one problem lists their codes joined by "; ": it counts once.
  const held = (r) => (r[column] || "").split("; ").includes("PARENT_NOT_LOADED");
  return column < 0 ? 0 : rows.filter(held).length;
}

async function countHeldBack(plan) {
  const done = plan.steps.filter((s) => s.state === "done" && !heldBack.has(s.name));
  if (!done.length) return false;
  await Promise.all(
    done.map(async (step) => {
      const load = await parentNotLoaded(step.links["errors.csv"]);
      const update = step.deferred.length ? await parentNotLoaded(step.links["deferred_errors.csv"]) : 0;
      heldBack.set(step.name, { load, update });
    }),
  );
  return true;
}

// ---- polling and actions -----------------------------------------------------------------------------------

async function poll() {
  let plan;
  try {
    plan = await api("GET", `/plans/${encodeURIComponent(planId)}`);
    showError(actionError, null);
  } catch (error) {
    showError(actionError, error, t("Could not read the plan"));
    setTimeout(poll, POLL_MS * 3);
    return;
  }
  render(plan);
  if (FINAL.has(plan.state)) {
    heldBack.clear(); // a retry's passes change what was held back: count again from the final files
  }
  if (await countHeldBack(plan).catch(() => false)) render(plan);
  if (!FINAL.has(plan.state)) setTimeout(poll, POLL_MS);
}

async function act(button, action, question) {
  if (question && !window.confirm(question)) return;
  button.disabled = true;
  showError(actionError, null);
  try {
    const id = encodeURIComponent(planId);
    render(await (action === "cancel" ? api("POST", `/plans/${id}/cancel`) : api("POST", `/plans/${id}/retry`)));
    setTimeout(poll, POLL_MS);
  } catch (error) {
    showError(actionError, error, action === "cancel" ? t("Not cancelled") : t("Not retried"));
  } finally {
    button.disabled = false;
  }
}

const cancel = document.getElementById("plan-cancel");
cancel.addEventListener("click", () => act(cancel, "cancel", t("Cancel this plan? Steps that have not started will not run; rows already loaded stay in Salesforce.")));
const retry = document.getElementById("plan-retry");
retry.addEventListener("click", () => act(retry, "retry", null));
window.addEventListener("resize", () => latest && drawArrows(latest));
poll();
