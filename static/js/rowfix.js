// Fix in place: a grid of a finished job's invalid and failed rows (GET /api/v1/jobs/<id>/rows), every cell
// editable, each error beside the cell (or, when it names no column, beside the row) it is about. Only the
// rows a person changed are resubmitted (POST /api/v1/jobs/<id>/retry {rows}), as a new job that keeps the
// first file's row numbers.
import { api, el, showError } from "./api.js";
import { N_, formatNumber, t } from "./i18n.js";

const PAGE_ROWS = 50;
const OUTCOMES = [
  { outcome: "invalid", title: N_("Invalid rows (refused by DMS, not sent)") },
  { outcome: "failed", title: N_("Rows Salesforce refused") },
];

export class RowFix {
  constructor(section, { onRetry = null } = {}) {
    this.section = section;
    this.onRetry = onRetry;
    this.job = null;
    this.edits = new Map(); // row -> {column: new value}, only the cells that differ from the file
    this.originals = new Map(); // row -> {column: value in the file}
    this.part = (name) => section.querySelector(`[data-rowfix="${name}"]`);
    this.part("submit").addEventListener("click", () => this.submit());
  }

  /** Show the job's rows that did not load, when it has any. */
  async load(job) {
    const counters = job.counters || {};
    this.job = job;
    const wanted = OUTCOMES.filter(({ outcome }) => counters[outcome]);
    if (!wanted.length) return;
    this.section.hidden = false;
    const grids = this.part("grids");
    grids.replaceChildren();
    for (const { outcome, title } of wanted) {
      const body = el("tbody");
      const more = el("button", { type: "button", hidden: true }, t("Show more rows"));
      const block = el("div", { class: "rowfix-block", dataset: { outcome } }, el("h3", {}, t(title)), el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t(title) }, el("table", { class: "data rowfix-grid" }, el("thead"), body)), more);
      grids.append(block);
      await this.page(block, outcome, 0);
    }
    this.refreshButton();
  }

  async page(block, outcome, offset) {
    const more = block.querySelector(":scope > button");
    try {
      const page = await api("GET", `/jobs/${encodeURIComponent(this.job.id)}/rows?outcome=${outcome}&offset=${offset}&limit=${PAGE_ROWS}`);
      const head = block.querySelector("thead");
      if (!head.children.length) {
        head.append(el("tr", {}, el("th", { scope: "col", class: "num" }, t("Row")), page.columns.map((column) => el("th", { scope: "col" }, column)), el("th", { scope: "col" }, t("Errors of the row"))));
      }
      block.querySelector("tbody").append(...page.rows.map((row) => this.rowElement(row, page.columns)));
      more.hidden = page.next_offset === null;
      more.onclick = () => this.page(block, outcome, page.next_offset);
      showError(this.part("error"), null);
    } catch (error) {
      showError(this.part("error"), error, t("Could not read the rows"));
    }
  }

  rowElement(row, columns) {
    this.originals.set(row.row, row.values);
    const byColumn = new Map();
    const elsewhere = [];
    for (const problem of row.errors) {
      if (problem.column && columns.includes(problem.column)) {
        if (!byColumn.has(problem.column)) byColumn.set(problem.column, []);
        byColumn.get(problem.column).push(problem);
      } else {
        elsewhere.push(problem);
      }
    }
    const cells = columns.map((column) => {
      const problems = byColumn.get(column) || [];
      const noteId = `fix-${row.row}-${columns.indexOf(column)}`;
      const input = el("input", {
        type: "text",
        value: row.values[column] ?? "",
        "aria-label": t("Row {row}, column {column}", { row: row.source_row, column }),
        "aria-invalid": problems.length ? "true" : null,
        "aria-describedby": problems.length ? noteId : null,
        dataset: { row: String(row.row), column },
      });
      input.addEventListener("input", () => this.edited(row.row, column, input));
      const note = problems.length ? el("span", { class: "cell-error", id: noteId }, problems.map((p) => p.message).join(" · ")) : null;
      return el("td", { class: problems.length ? "has-error" : null }, input, note);
    });
    const rest = elsewhere.map((p) => el("li", {}, p.field ? `${p.field}: ${p.message}` : p.message));
    return el(
      "tr",
      { dataset: { row: String(row.row), sourceRow: String(row.source_row) } },
      el("th", { scope: "row", class: "num" }, formatNumber(row.source_row)),
      cells,
      el("td", { class: "row-errors" }, rest.length ? el("ul", {}, rest) : ""),
    );
  }

  edited(row, column, input) {
    const original = (this.originals.get(row) || {})[column] ?? "";
    const changes = { ...(this.edits.get(row) || {}) };
    if (input.value === original) delete changes[column];
    else changes[column] = input.value;
    if (Object.keys(changes).length) this.edits.set(row, changes);
    else this.edits.delete(row);
    input.closest("td").classList.toggle("edited", input.value !== original);
    this.refreshButton();
  }

  refreshButton() {
    const button = this.part("submit");
    const count = this.edits.size;
    button.disabled = count === 0;
    button.textContent = count ? t("Resubmit {count} edited rows", { count }) : t("Resubmit edited rows");
  }

  async submit() {
    const button = this.part("submit");
    const rows = [...this.edits].map(([row, values]) => ({ row, values }));
    if (!rows.length) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const job = await api("POST", `/jobs/${encodeURIComponent(this.job.id)}/retry`, { rows });
      showError(this.part("error"), null);
      if (this.onRetry) this.onRetry(job, rows.length);
      // The rows went out: start the next correction from a clean slate, the cells keep what was sent.
      for (const { row, values } of rows) {
        this.originals.set(row, { ...this.originals.get(row), ...values });
        const line = this.section.querySelector(`tr[data-row="${row}"]`);
        if (line && !line.querySelector(".tag")) line.querySelector("th").append(el("span", { class: "tag" }, t("resubmitted")));
      }
      this.edits.clear();
      for (const cell of this.section.querySelectorAll("td.edited")) cell.classList.remove("edited");
    } catch (error) {
      showError(this.part("error"), error, t("Could not resubmit the rows"));
    } finally {
      button.removeAttribute("aria-busy");
      this.refreshButton();
    }
  }
}
