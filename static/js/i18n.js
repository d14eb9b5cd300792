// The page's language for scripts: its messages (rendered by the server into #dms-messages, see
// factories/i18n.py) and numbers and dates in its locale (<html lang>).
//
// Mark text with t("English text with {name}", { name }): `make translations` extracts every t("...") and
// N_("...") whose first argument is a plain string literal (no template literal: the extractor cannot read
// one). Numbers given as params are formatted for the locale. There are no plural forms here: write
// "Columns: {count}" rather than "{count} column(s)".

const CATALOG = JSON.parse(document.getElementById("dms-messages")?.textContent || "{}");

/** The page's locale as a BCP 47 tag (zh-CN), what Intl takes. */
export const LOCALE = document.documentElement.lang || "en";

const NUMBER = new Intl.NumberFormat(LOCALE);
const PERCENT = new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 0 });
// The server writes times in UTC and says so (factories/i18n.py format_when); scripts do the same.
const DATE_TIME = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

/** `message` in the page's language, with {name} placeholders filled from `params`. */
export function t(message, params = {}) {
  const text = Object.hasOwn(CATALOG, message) ? CATALOG[message] : message;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!Object.hasOwn(params, name)) return whole;
    const value = params[name];
    return typeof value === "number" ? formatNumber(value) : String(value);
  });
}

/** Marks a message for extraction where it is defined (a table of labels); translate it with t() where shown. */
export function N_(message) {
  return message;
}

export function formatNumber(value) {
  return typeof value === "number" && Number.isFinite(value) ? NUMBER.format(value) : value ?? "—";
}

/** A percentage given as 0-100 (a job's `percent`). */
export function formatPercent(value) {
  return PERCENT.format((Number(value) || 0) / 100);
}

/** An ISO 8601 time as the server's pages show one. */
export function formatDateTime(value) {
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? String(value ?? "") : `${DATE_TIME.format(moment)} UTC`;
}

/** Items as a list in the page's language ("a, b and c", "a、b和c"). */
export function formatList(items) {
  return new Intl.ListFormat(LOCALE, { style: "long", type: "conjunction" }).format(items);
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = [N_("{size} bytes"), N_("{size} KB"), N_("{size} MB"), N_("{size} GB"), N_("{size} TB")];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  const size = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  return t(units[unit], { size });
}
