// The jobs list: while any listed job is still running, refresh its row from GET /api/v1/jobs every 2 s.
// (The list itself, its filters and its pages are the server's: templates/jobs.html.)
import { api, el } from "./api.js";
import { formatNumber, t } from "./i18n.js";
import { isFinal, percentText, stateLabel } from "./jobview.js";

const REFRESH_MS = 2000;
const rows = new Map([...document.querySelectorAll("tr[data-job-id]")].map((row) => [row.dataset.jobId, row]));

function running() {
  return [...rows.values()].some((row) => !isFinal({ state: row.querySelector('[data-col="state"]').dataset.state }));
}

function resultLinks(job) {
  const base = `/api/v1/jobs/${encodeURIComponent(job.id)}/results`;
  const links = [];
  if (!job.options.dry_run) links.push(el("a", { href: `${base}/success.csv`, download: true }, "success.csv"), el("br"));
  links.push(el("a", { href: `${base}/errors.csv`, download: true }, "errors.csv"));
  return links;
}

/** What became of the rows, as templates/jobs.html's outcome() writes it: a rehearsal's valid rows, a load's. */
function outcomeParts(job) {
  const c = job.counters || {};
  if (job.options && job.options.dry_run) {
    return [t("Valid {count}", { count: c.valid || 0 }), t("Invalid {count}", { count: c.invalid || 0 })];
  }
  const parts = [t("Succeeded {count}", { count: c.succeeded || 0 }), t("Errors {count}", { count: (c.failed || 0) + (c.invalid || 0) })];
  if (c.cancelled) parts.push(t("Cancelled {count}", { count: c.cancelled }));
  return parts;
}

function update(row, job) {
  const cell = (name) => row.querySelector(`[data-col="${name}"]`);
  const counters = job.counters || {};
  cell("state").dataset.state = job.state;
  cell("state").textContent = stateLabel(job.state);
  cell("percent").textContent = percentText(job);
  cell("total").textContent = formatNumber(counters.total || 0);
  cell("outcome").replaceChildren(...outcomeParts(job).map((text) => el("span", { class: "outcome-part" }, text)));
  const hasResults = isFinal(job) && (counters.total || job.state !== "failed");
  cell("results").replaceChildren(...(hasResults ? resultLinks(job) : ["—"]));
}

async function refresh() {
  if (!running()) return;
  try {
    // Each running row asks for its own job: the list's filters and page stay exactly what the server chose.
    const open = [...rows].filter(([, row]) => !isFinal({ state: row.querySelector('[data-col="state"]').dataset.state }));
    for (const [id, row] of open) update(row, await api("GET", `/jobs/${encodeURIComponent(id)}`));
  } catch {
    // A missed refresh is harmless: the next one (or a reload) catches up.
  }
  setTimeout(refresh, REFRESH_MS);
}

setTimeout(refresh, REFRESH_MS);
