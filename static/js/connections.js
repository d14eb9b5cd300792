// The orgs page: test (showing the org's API usage) or delete a connection, and connect an org by the OAuth
// web server flow or by a username, password and security token.
import { api, el, showError } from "./api.js";
import { formatDateTime, t } from "./i18n.js";

const listError = document.getElementById("connections-error");

/** The day's API calls against the org's limit (Salesforce's DailyApiRequests), as a meter and words. */
function usageMeter(daily) {
  if (!daily || !daily.Max) return null;
  const used = daily.Max - daily.Remaining;
  return el(
    "span",
    { class: "usage" },
    el("meter", { min: 0, max: daily.Max, low: daily.Max * 0.7, high: daily.Max * 0.9, optimum: 0, value: used }),
    " ",
    el("span", { class: "usage-text" }, t("{used} of {max} API calls today", { used, max: daily.Max })),
  );
}

function showTest(cell, tested) {
  const when = new Date().toISOString();
  cell.replaceChildren(
    el("span", { class: "test-ok" }, t("Logged in")),
    " ",
    el("time", { datetime: when }, formatDateTime(when)),
    " ",
    usageMeter(tested.daily_api_requests),
  );
}

document.getElementById("connections").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const id = row.dataset.connectionId;
  const outcome = row.querySelector('[data-col="outcome"]');
  showError(listError, null);
  button.disabled = true;
  try {
    if (button.dataset.action === "test") {
      outcome.textContent = t("Logging in…");
      showTest(outcome, await api("POST", `/connections/${encodeURIComponent(id)}/test`));
    } else if (window.confirm(t("Delete this connection? Jobs that use it can no longer run."))) {
      await api("DELETE", `/connections/${encodeURIComponent(id)}`);
      row.remove();
    }
  } catch (error) {
    if (button.dataset.action === "test") {
      outcome.replaceChildren(el("span", { class: "test-failed" }, t("Failed")), ` (${error.code})`);
    }
    showError(listError, error, button.dataset.action === "test" ? t("The test failed") : t("Not deleted"));
  } finally {
    button.disabled = false;
  }
});

/** The form's filled fields as a request body (empty optional fields left out). */
function filled(form) {
  return Object.fromEntries([...new FormData(form).entries()].filter(([, value]) => value !== ""));
}

const form = document.getElementById("authorize-form");
const formError = document.getElementById("authorize-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(formError, null);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const started = await api("POST", "/connections/authorize", filled(form));
    window.location.assign(started.authorize_url); // the org's page; it sends the browser back to DMS
  } catch (error) {
    showError(formError, error, t("Could not start"));
    button.disabled = false;
  }
});

const passwordForm = document.getElementById("password-form");
const passwordError = document.getElementById("password-error");
passwordForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(passwordError, null);
  const button = passwordForm.querySelector("button[type=submit]");
  button.disabled = true;
  let created = null;
  try {
    created = await api("POST", "/connections", { ...filled(passwordForm), flow: "password" });
    await api("POST", `/connections/${encodeURIComponent(created.id)}/test`);
    window.location.reload(); // listed with its test and usage, as the server keeps them
  } catch (error) {
    // Stored but not logging in: say so, and leave it listed (after a reload) to fix or delete.
    showError(passwordError, error, created ? t("Saved, but the login failed") : t("Not saved"));
    button.disabled = false;
  }
});
