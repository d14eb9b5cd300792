// The job page: the panel kept live (jobview.js), its throughput as rows/s, time left and a small SVG chart,
// its errors grouped by reason once it has finished, the grid that fixes rows in place (rowfix.js), and a
// retry from a corrected file. Every retry is listed as a link to its new job; this page stays on this job.
import { api, el, showError, uploadFile } from "./api.js";
import { N_, formatNumber, t } from "./i18n.js";
import { JobPanel, isFinal } from "./jobview.js";
import { RowFix } from "./rowfix.js";

const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 600, height: 160, pad: 6 };
const EXAMPLES = 3;
const STAGE_LABELS = {
  read: N_("Unreadable in the file"),
  validation: N_("Refused by DMS before sending"),
  salesforce: N_("Refused by Salesforce"),
};

const root = document.querySelector("[data-job-panel]");
const part = (section, name) => document.querySelector(`[data-${section}="${name}"]`);

function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 120) return t("{seconds} s", { seconds: value });
  const minutes = Math.floor(value / 60);
  if (minutes < 120) return t("{minutes} min {seconds} s", { minutes, seconds: value % 60 });
  return t("{hours} h {minutes} min", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

/** Rows settled over time as a line (and the area under it): no chart library, a polyline in a viewBox. */
function drawChart(series) {
  const chart = part("throughput", "chart");
  const caption = part("throughput", "caption");
  const points = (series || []).map((p) => ({ at: Date.parse(p.at), rows: Number(p.rows) || 0 })).filter((p) => Number.isFinite(p.at));
  if (points.length < 2) return; // one point draws no line: the caption says a chart follows
  const start = points[0].at;
  const span = Math.max(points[points.length - 1].at - start, 1);
  const most = Math.max(...points.map((p) => p.rows), 1);
  const { width, height, pad } = CHART;
  const x = (p) => (pad + ((p.at - start) / span) * (width - 2 * pad)).toFixed(1);
  const y = (p) => (height - pad - (p.rows / most) * (height - 2 * pad)).toFixed(1);
  const line = points.map((p) => `${x(p)},${y(p)}`).join(" ");
  const area = `${x(points[0])},${height - pad} ${line} ${x(points[points.length - 1])},${height - pad}`;
  chart.replaceChildren(
    svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }),
    svg("polygon", { points: area, class: "area" }),
    svg("polyline", { points: line, class: "line" }),
  );
  chart.removeAttribute("hidden"); // an SVG element has no `hidden` property, only the attribute
  caption.textContent = t("Rows settled over time: {rows} rows in {time}.", { rows: points[points.length - 1].rows, time: span < 10_000 ? t("{seconds} s", { seconds: Math.round(span / 100) / 10 }) : seconds(Math.round(span / 1000)) });
}

function renderThroughput(job) {
  const throughput = job.throughput || {};
  const rate = throughput.rows_per_second;
  part("throughput", "rate").textContent = rate === null || rate === undefined ? "—" : formatNumber(rate);
  part("throughput", "eta").textContent = seconds(throughput.eta_seconds);
  drawChart(throughput.series);
}

function groupTitle(group) {
  const where = group.column && group.field && group.column !== group.field ? `${group.field} (${group.column})` : group.field || group.column;
  return where ? `${group.code} · ${where}` : group.code;
}

function renderProblems(summary) {
  const section = document.querySelector("[data-problems]");
  section.hidden = !summary.groups.length;
  part("problems", "summary").textContent = t("{rows} rows did not load ({invalid} invalid, {failed} failed in Salesforce), for {groups} reasons:", {
    rows: summary.rows,
    invalid: summary.invalid,
    failed: summary.failed,
    groups: summary.groups.length,
  });
  const groups = summary.groups.map((group) =>
    el(
      "article",
      { class: "problem-group", dataset: { code: group.code, outcome: group.outcome } },
      el("h3", {}, el("span", { class: "count" }, t("Rows: {count}", { count: group.count })), " ", groupTitle(group), " ", el("span", { class: "tag" }, t(STAGE_LABELS[group.stage] || group.stage))),
      el("p", { class: "advice" }, el("strong", {}, t("What to do: ")), group.advice),
      el(
        "table",
        { class: "data examples" },
        el("caption", {}, t("First rows with this error")),
        el("thead", {}, el("tr", {}, el("th", { scope: "col", class: "num" }, t("Row")), el("th", { scope: "col" }, t("Column")), el("th", { scope: "col" }, t("Value")), el("th", { scope: "col" }, t("Message")))),
        el(
          "tbody",
          {},
          group.examples.map((example) =>
            el("tr", {}, el("td", { class: "num" }, formatNumber(example.source_row)), el("td", {}, example.column || "—"), el("td", { class: "value" }, example.value ?? ""), el("td", {}, example.message)),
          ),
        ),
      ),
    ),
  );
  part("problems", "groups").replaceChildren(...groups);
}

async function loadProblems(job) {
  const counters = job.counters || {};
  if (!(counters.failed || counters.invalid)) return;
  try {
    renderProblems(await api("GET", `/jobs/${encodeURIComponent(job.id)}/errors/summary?examples=${EXAMPLES}`));
  } catch (error) {
    document.querySelector("[data-problems]").hidden = false;
    showError(part("problems", "error"), error, t("Could not read the job's errors"));
  }
}

function bindRetryFile(panel) {
  const form = part("retry-file", "form");
  const box = part("retry-file", "error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = part("retry-file", "input").files[0];
    if (!file) return;
    const button = part("retry-file", "submit");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const upload = await uploadFile(file); // presigned when large, as the wizard uploads
      const retry = await api("POST", `/jobs/${encodeURIComponent(panel.jobId)}/retry`, { upload_id: upload.id });
      showError(box, null);
      panel.showRetry(retry, t("Retry with {file}", { file: file.name }));
      form.reset();
    } catch (error) {
      showError(box, error, t("Could not retry with {file}", { file: file.name }));
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
}

if (root) {
  let finished = false;
  let panel = null;
  const fix = new RowFix(document.querySelector("[data-rowfix]"), { onRetry: (job, count) => panel.showRetry(job, t("Retry of {count} edited rows", { count })) });
  panel = new JobPanel(root, {
    onRender: (job) => {
      renderThroughput(job);
      if (!isFinal(job) || finished) return;
      finished = true;
      const dryRun = Boolean(job.options && job.options.dry_run);
      document.querySelector("[data-retry-file]").hidden = dryRun;
      loadProblems(job);
      if (!dryRun) fix.load(job);
    },
  });
  bindRetryFile(panel);
  panel.follow();
}
