// The orgs page: test or delete a connection, and start connecting an org by the OAuth web server flow.
import { api, showError } from "./api.js";
import { t } from "./i18n.js";

const listError = document.getElementById("connections-error");

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
      const tested = await api("POST", `/connections/${encodeURIComponent(id)}/test`);
      outcome.textContent = t("OK: {url}", { url: tested.instance_url });
    } else if (window.confirm(t("Delete this connection? Jobs that use it can no longer run."))) {
      await api("DELETE", `/connections/${encodeURIComponent(id)}`);
      row.remove();
    }
  } catch (error) {
    outcome.textContent = "";
    showError(listError, error, button.dataset.action === "test" ? t("The test failed") : t("Not deleted"));
  } finally {
    button.disabled = false;
  }
});

const form = document.getElementById("authorize-form");
const formError = document.getElementById("authorize-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(formError, null);
  const body = Object.fromEntries(new FormData(form).entries());
  if (!body.client_secret) delete body.client_secret;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const started = await api("POST", "/connections/authorize", body);
    window.location.assign(started.authorize_url); // the org's page; it sends the browser back to DMS
  } catch (error) {
    showError(formError, error, t("Could not start"));
    button.disabled = false;
  }
});
