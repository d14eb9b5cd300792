// The plans list: GET /api/v1/plans a page at a time (next_cursor), filtered by state.
import { api, el, showError } from "./api.js";
import { formatDateTime, formatNumber } from "./i18n.js";

const PAGE = 25;
const STATES = JSON.parse(document.getElementById("plan-states").textContent);
const body = document.querySelector("#plans tbody");
const more = document.getElementById("plans-more");
const empty = document.getElementById("plans-empty");
const error = document.getElementById("plans-error");
const filter = document.getElementById("plans-filter");
let cursor = null;

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

async function load(reset) {
  showError(error, null);
  const query = new URLSearchParams({ limit: String(PAGE) });
  const state = new FormData(filter).get("state");
  if (state) query.set("state", state);
  if (!reset && cursor) query.set("cursor", cursor);
  more.disabled = true;
  try {
    const page = await api("GET", `/plans?${query}`);
    if (reset) body.replaceChildren();
    body.append(...page.plans.map(row));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = body.children.length > 0;
  } catch (failure) {
    showError(error, failure);
  } finally {
    more.disabled = false;
  }
}

filter.addEventListener("change", () => load(true));
more.addEventListener("click", () => load(false));
load(true);
