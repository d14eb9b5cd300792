// The jobs list: while any listed job is still running, refresh its row from GET /api/v1/jobs every 2 s.
import { api, el } from "./api.js";
import { formatNumber, formatPercent } from "./i18n.js";
import { isFinal, stateLabel } from "./jobview.js";

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

function update(row, job) {
  const cell = (name) => row.querySelector(`[data-col="${name}"]`);
  const counters = job.counters || {};
  cell("state").dataset.state = job.state;
  cell("state").textContent = stateLabel(job.state);
  cell("percent").textContent = formatPercent(job.percent);
  cell("total").textContent = formatNumber(counters.total || 0);
  cell("succeeded").textContent = formatNumber(counters.succeeded || 0);
  cell("errors").textContent = formatNumber((counters.failed || 0) + (counters.invalid || 0));
  const hasResults = isFinal(job) && (counters.total || job.state !== "failed");
  cell("results").replaceChildren(...(hasResults ? resultLinks(job) : ["—"]));
}

async function refresh() {
  if (!running()) return;
  try {
    const { jobs } = await api("GET", `/jobs?limit=${Math.max(rows.size, 1)}`);
    for (const job of jobs) {
      const row = rows.get(job.id);
      if (row) update(row, job);
    }
  } catch {
    // A missed refresh is harmless: the next one (or the Refresh button) catches up.
  }
  setTimeout(refresh, REFRESH_MS);
}

setTimeout(refresh, REFRESH_MS);
