// The plans list: GET /api/v1/plans a page at a time (next_cursor), filtered by state, owner and dates; while a listed plan is
// still running, the listed rows are read again every few seconds.
import { api, el, showError } from "./api.js";
import { formatDateTime, formatNumber } from "./i18n.js";

const PAGE = 25;
const REFRESH_MS = 3000;
const FINAL = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);
const STATES = JSON.parse(document.getElementById("plan-states").textContent);
const body = document.querySelector("#plans tbody");
const more = document.getElementById("plans-more");
const empty = document.getElementById("plans-empty");
const error = document.getElementById("plans-error");
const filter = document.getElementById("plans-filter");
let cursor = null;
let refreshing = null;

/** The rows a plan left undone across its steps (its load passes' leftovers). */
function notLoaded(plan) {
  const c = plan.counters || {};
  return (c.failed || 0) + (c.invalid || 0) + (c.cancelled || 0) + (c.pending || 0);
}

function row(plan) {
  const c = plan.counters || {};
  return el(
    "tr",
    { dataset: { planId: plan.id } },
    el("td", {}, el("a", { href: `/plans/${encodeURIComponent(plan.id)}`, title: plan.id }, el("time", { datetime: plan.created_at }, formatDateTime(plan.created_at)))),
    el("td", {}, plan.name),
    el("td", {}, el("span", { class: "state-badge", "data-state": plan.state }, STATES[plan.state] || plan.state)),
    el("td", { class: "num" }, formatNumber(plan.steps.length)),
    el("td", { class: "num" }, formatNumber(c.total || 0)),
    el("td", { class: "num" }, formatNumber((plan.dry_run ? c.valid : c.loaded) || 0)),
    el("td", { class: "num" }, formatNumber(notLoaded(plan))),
    el("td", { class: "num" }, formatNumber(plan.dry_run ? plan.estimated_api_calls : plan.api_calls)),
  );
}

/** Read the plans again: the first page (reset), the next (more), or all those listed now (refresh). */
async function load(reset, refresh = false) {
  showError(error, null);
  const query = new URLSearchParams({ limit: String(refresh ? Math.max(body.children.length, PAGE) : PAGE) });
  for (const [name, value] of new FormData(filter)) if (value) query.set(name, String(value)); // state, owner, since, until
  if (!reset && cursor) query.set("cursor", cursor);
  more.disabled = true;
  try {
    const page = await api("GET", `/plans?${query}`);
    if (reset) body.replaceChildren();
    body.append(...page.plans.map(row));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = body.children.length > 0;
    clearTimeout(refreshing);
    const running = [...body.querySelectorAll(".state-badge")].some((badge) => !FINAL.has(badge.dataset.state));
    if (running) refreshing = setTimeout(() => load(true, true), REFRESH_MS);
  } catch (failure) {
    showError(error, failure);
  } finally {
    more.disabled = false;
  }
}

filter.addEventListener("change", () => load(true));
more.addEventListener("click", () => load(false));
load(true);
