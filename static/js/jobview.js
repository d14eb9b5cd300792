// A live view of one job: polls GET /api/v1/jobs/<id> every second until the job is final.
import { api, el, showError } from "./api.js";
import { formatNumber, formatPercent, t } from "./i18n.js";

const WORDS = JSON.parse(document.getElementById("dms-words")?.textContent || "{}");
const STATE_LABELS = WORDS.states || {};
const COUNTER_LABELS = WORDS.counters || {};
const FINAL_STATES = new Set(WORDS.final_states || ["completed", "completed_with_errors", "failed", "cancelled"]);
const POLL_MS = 1000;
const POLL_BACKOFF_MS = 5000;

export function isFinal(job) {
  return FINAL_STATES.has(job.state);
}

/** Whether a counter says something about this job (blueprints/ui.py counter_shown follows the same rule). */
export function counterShown(job, name) {
  const dryRun = Boolean(job.options && job.options.dry_run);
  const essential = dryRun ? ["total", "valid", "invalid"] : ["total", "succeeded", "failed", "invalid"];
  if (essential.includes(name)) return true;
  if (name === "pending") return !isFinal(job);
  return Boolean((job.counters || {})[name]);
}

export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}

/** A job that failed before it read a row did nothing: it has no percentage to show (not "100 %"). */
export function percentText(job) {
  const counters = job.counters || {};
  if (job.state === "failed" && !counters.total) return "—";
  return formatPercent(Number(job.percent) || 0);
}

/** Binds to a `[data-job-panel]` section (templates/_job_panel.html) and keeps it in step with a job. */
export class JobPanel {
  constructor(root, { onRetry = null, onFinal = null, onRender = null } = {}) {
    this.root = root;
    this.onRender = onRender;
    this.onRetry = onRetry;
    this.onFinal = onFinal;
    this.jobId = root.dataset.jobId || null;
    this.job = null;
    this.timer = null;
    this.part = (name) => root.querySelector(`[data-job="${name}"]`);
    this.link = (name) => root.querySelector(`[data-job-link="${name}"]`);
    this.button = (name) => root.querySelector(`[data-job-action="${name}"]`);
    this.dialog = root.querySelector("[data-job-dialog=cancel]");
    this.button("cancel").addEventListener("click", () => this.confirmCancel());
    this.button("retry").addEventListener("click", () => this.retry());
    if (this.dialog) {
      this.dialog.addEventListener("close", () => {
        if (this.dialog.returnValue === "confirm") this.cancel();
      });
    }
  }

  /** Start following `jobId` (or the panel's own job); `job` is its JSON when the caller already has it. */
  follow(jobId = this.jobId, job = null) {
    this.stop();
    this.jobId = jobId;
    this.root.dataset.jobId = jobId;
    this.root.hidden = false;
    if (job) this.render(job);
    this.poll();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  async poll() {
    const following = this.jobId;
    let delay = POLL_MS;
    try {
      const job = await api("GET", `/jobs/${encodeURIComponent(following)}`);
      if (following !== this.jobId) return; // a newer job took the panel over meanwhile
      this.render(job);
      showError(this.part("action-error"), null);
      if (isFinal(job)) {
        if (this.onFinal) this.onFinal(job);
        return;
      }
    } catch (error) {
      if (following !== this.jobId) return;
      showError(this.part("action-error"), error, t("Could not refresh the job"));
      if (error.status === 404) return;
      delay = POLL_BACKOFF_MS;
    }
    this.timer = setTimeout(() => this.poll(), delay);
  }

  render(job) {
    this.job = job;
    const final = isFinal(job);
    const dryRun = Boolean(job.options && job.options.dry_run);
    const counters = job.counters || {};
    this.root.dataset.jobState = job.state;
    const state = this.part("state");
    if (state.dataset.state !== job.state) {
      state.dataset.state = job.state;
      state.textContent = stateLabel(job.state);
    }
    this.part("kind").textContent = dryRun ? t("Rehearsal: nothing is written to Salesforce.") : "";
    const percent = Number(job.percent) || 0;
    const empty = job.state === "failed" && !counters.total;
    this.part("progress").value = empty ? 0 : percent;
    this.part("progress").textContent = percentText(job);
    this.part("percent").textContent = percentText(job);
    const cancelling = this.part("cancelling");
    if (cancelling) cancelling.hidden = job.state !== "cancelling";
    this.renderCounters(job);
    const spent = Object.values(job.api_calls || {}).filter(Number.isFinite).reduce((a, b) => a + b, 0);
    this.part("api-calls").textContent = formatNumber(spent);
    const estimate = job.estimated_api_calls;
    this.part("estimate-box").hidden = estimate === null || estimate === undefined;
    this.part("estimate").textContent = formatNumber(estimate);
    const errorBox = this.part("error");
    errorBox.hidden = !job.error;
    errorBox.replaceChildren(job.error ? el("p", {}, `${job.error.message} (${job.error.code})`) : "");
    const warnings = this.part("warnings");
    warnings.hidden = !(job.warnings && job.warnings.length);
    warnings.replaceChildren(...(job.warnings || []).map((text) => el("li", {}, text)));

    const links = job.links || {};
    const results = (kind) => links[kind] || `/api/v1/jobs/${encodeURIComponent(job.id)}/results/${kind}.csv`;
    this.link("success").href = results("success");
    this.link("errors").href = results("errors");
    this.link("success").hidden = !final || dryRun;
    this.link("errors").hidden = !final || (job.state === "failed" && !counters.total);
    this.button("cancel").hidden = final || job.state === "cancelling";
    const unloaded = (counters.failed || 0) + (counters.invalid || 0) + (counters.cancelled || 0);
    this.button("retry").hidden = !final || dryRun || !unloaded;
    const page = this.link("page");
    page.href = `/jobs/${encodeURIComponent(job.id)}`;
    page.hidden = location.pathname === page.pathname;
    const retryOf = this.link("retry-of");
    retryOf.hidden = !job.retry_of;
    if (job.retry_of) {
      retryOf.href = `/jobs/${encodeURIComponent(job.retry_of)}`;
      retryOf.textContent = t("Retry of {job}", { job: job.retry_of });
    }
    if (this.onRender) this.onRender(job);
  }

  renderCounters(job) {
    const list = this.part("counters");
    for (const [name, value] of Object.entries(job.counters || {})) {
      let box = list.querySelector(`[data-counter-box="${CSS.escape(name)}"]`);
      if (!box) {
        box = el("div", { dataset: { counterBox: name } }, el("dt", {}, COUNTER_LABELS[name] || name), el("dd", { dataset: { counter: name } }));
        list.append(box);
      }
      box.hidden = !counterShown(job, name);
      box.querySelector("dd").textContent = formatNumber(value);
    }
  }

  /** Ask first: a cancel cannot be undone (the rows not yet sent stay unsent). */
  confirmCancel() {
    if (this.dialog && typeof this.dialog.showModal === "function") {
      this.dialog.returnValue = "";
      this.dialog.showModal();
    } else if (window.confirm(t("Cancel this job? Rows not yet sent to Salesforce will not be loaded."))) {
      this.cancel();
    }
  }

  async cancel() {
    const button = this.button("cancel");
    button.disabled = true;
    try {
      this.render({ ...this.job, ...(await api("POST", `/jobs/${encodeURIComponent(this.jobId)}/cancel`)) });
      showError(this.part("action-error"), null);
    } catch (error) {
      showError(this.part("action-error"), error, t("Could not cancel"));
    } finally {
      button.disabled = false;
    }
  }

  async retry() {
    const button = this.button("retry");
    button.disabled = true;
    try {
      const job = await api("POST", `/jobs/${encodeURIComponent(this.jobId)}/retry`, {});
      showError(this.part("action-error"), null);
      this.showRetry(job, t("Retry of the failed rows"));
      if (this.onRetry) this.onRetry(job);
    } catch (error) {
      showError(this.part("action-error"), error, t("Could not retry"));
    } finally {
      button.disabled = false;
    }
  }

  /** List a retry as a link to its own job: the panel keeps showing this job, never silently replaced. */
  showRetry(job, what) {
    const list = this.part("retries");
    if (!list) return;
    list.hidden = false;
    const href = `/jobs/${encodeURIComponent(job.id)}`;
    list.append(el("li", { dataset: { retryJob: job.id } }, `${what}: `, el("a", { href }, t("new job {job}", { job: job.id }))));
  }
}
